// Task events for containerd: each one is forwarded, in order, to
// containerd's event service on its ttrpc socket ($TTRPC_ADDRESS), as
// containerd 1.6's own shims do (runtime/v2/shim/publisher.go): an Envelope
// with the namespace, the topic (/tasks/exit, ...) and the event as an Any
// named by its protobuf message (containerd.events.TaskExit, ...).
import type { Logger } from '../log.js';
import { encode, timestamp } from './proto.js';
import { Client } from './ttrpc.js';

export type TaskEvent = 'TaskCreate' | 'TaskStart' | 'TaskDelete' | 'TaskExit' | 'TaskExecAdded' | 'TaskExecStarted' | 'TaskPaused' | 'TaskResumed';

const TOPICS: Record<TaskEvent, string> = {
  TaskCreate: '/tasks/create',
  TaskStart: '/tasks/start',
  TaskDelete: '/tasks/delete',
  TaskExit: '/tasks/exit',
  TaskExecAdded: '/tasks/exec-added',
  TaskExecStarted: '/tasks/exec-started',
  TaskPaused: '/tasks/paused',
  TaskResumed: '/tasks/resumed',
};

/** Events waiting to be sent at most; past that the oldest is dropped (and logged), as containerd's shims bound their queue. */
const MAX_QUEUED = 2048;
const ATTEMPTS = 5;

export class Publisher {
  private client: Client | undefined;
  private readonly queue: { topic: string; envelope: Uint8Array }[] = [];
  private sending = false;

  constructor(
    /** containerd's ttrpc socket; undefined: events are only logged (no containerd to tell) */
    private readonly address: string | undefined,
    private readonly namespace: string,
    private readonly log: Logger,
  ) {}

  publish(type: TaskEvent, event: object): void {
    if (!this.address) return;
    const envelope = encode('ForwardRequest', {
      envelope: {
        timestamp: timestamp(Date.now()),
        namespace: this.namespace,
        topic: TOPICS[type],
        event: { type_url: `containerd.events.${type}`, value: encode(type, event) },
      },
    });
    if (this.queue.length >= MAX_QUEUED) this.log.error({ topic: this.queue.shift()!.topic }, 'event dropped: too many waiting');
    this.queue.push({ topic: TOPICS[type], envelope });
    if (!this.sending) void this.drain();
  }

  /** Resolves once every queued event was sent (or given up). */
  async flush(): Promise<void> {
    while (this.sending) await new Promise((r) => setTimeout(r, 10));
  }

  private async drain(): Promise<void> {
    this.sending = true;
    while (this.queue.length > 0) {
      const item = this.queue.shift()!;
      for (let attempt = 1; ; attempt++) {
        try {
          if (!this.client || this.client.closed) this.client = new Client(this.address!.replace(/^unix:\/\//, ''));
          await this.client.call('containerd.services.events.ttrpc.v1.Events', 'Forward', item.envelope, 5000);
          break;
        } catch (e) {
          this.client?.close();
          this.client = undefined;
          if (attempt === ATTEMPTS) {
            this.log.error({ topic: item.topic, error: (e as Error).message }, 'event not delivered');
            break;
          }
          await new Promise((r) => setTimeout(r, 200 * attempt));
        }
      }
    }
    this.sending = false;
  }
}
