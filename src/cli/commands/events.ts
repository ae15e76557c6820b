// tsvisor events [--stats] [--interval D] ID: the container's resource usage
// from its cgroups, one JSON object per line in runc's shape
// ({"type":"stats","id":ID,"data":{"cpu":...,"memory":...,"pids":...}}).
// With --stats one object, then exit; without, one every interval (and
// {"type":"oom","id":ID} when the OOM killer struck) until the container
// stops.
import fs from 'node:fs';
import { containerCgroups } from '../../oci/cgroups.js';
import { RuntimeError, stateRoot } from '../../oci/runtime.js';
import { StateError, StateStore, status } from '../../oci/state.js';
import { type Command } from '../main.js';
import { type FlagSpec, UsageError, parseFlags, wrongArguments } from '../flags.js';

const EVENTS_FLAGS: readonly FlagSpec[] = [
  { name: 'stats', type: 'bool', help: "print the container's stats once, then exit" },
  { name: 'interval', type: 'string', help: 'time between stats (Go duration: 5s, 500ms, 1m; default 5s)' },
];

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };

/** A Go duration ("5s", "1m30s", "250ms") in milliseconds. */
export function parseDuration(s: string): number {
  let ms = 0;
  let rest = s;
  if (!rest) throw new UsageError(`invalid duration ${JSON.stringify(s)}`);
  while (rest) {
    const m = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/.exec(rest);
    if (!m) throw new UsageError(`invalid duration ${JSON.stringify(s)}`);
    ms += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return ms;
}

/** JSON with bigints written as numbers: cgroup counters and limits go past 2^53. */
export function toJson(v: unknown): string {
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return `[${v.map(toJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.entries(v)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => `${JSON.stringify(k)}:${toJson(x)}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const eventsCommand: Command = {
  summary: "print a container's resource usage",
  usage: 'events [--stats] [--interval D] ID',
  async run(globals, argv) {
    const { flags, rest } = parseFlags(argv, EVENTS_FLAGS, false);
    if (rest.length !== 1) throw wrongArguments();
    const id = rest[0]!;
    const interval = parseDuration((flags.interval as string | undefined) ?? '5s');
    if (!(interval > 0)) throw new UsageError('duration value must be greater than 0');
    const store = new StateStore(stateRoot(globals));
    const state = store.load(id);
    if (status(state) === 'stopped') throw new RuntimeError(`container with id ${id} is not running`);
    const cgroups = containerCgroups(state);
    const emit = (event: object) => fs.writeSync(1, `${toJson(event)}\n`);
    if (flags.stats) {
      emit({ type: 'stats', id, data: cgroups.stats() });
      return 0;
    }
    let ooms = cgroups.oomKills();
    for (;;) {
      emit({ type: 'stats', id, data: cgroups.stats() });
      await sleep(interval);
      const now = cgroups.oomKills();
      if (now > ooms) emit({ type: 'oom', id });
      ooms = now;
      try {
        if (status(store.load(id)) === 'stopped') return 0;
      } catch (e) {
        if (e instanceof StateError && e.code === 'not-found') return 0;
        throw e;
      }
    }
  },
};
