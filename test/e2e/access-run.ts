// Runs a command under access-driver.mjs (tsvisor do with an access
// observer) and reads back the events it recorded, for the Sentry's access
// event tests.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Denial, FileAccess, NetworkAttempt } from '../../src/sentry/spec.js';
import { REPO, type Run, tempDir, rmrf } from './harness.js';

export const ACCESS_DRIVER = path.join(REPO, 'test/e2e/access-driver.mjs');

/** One recorded event: the observer method's short name (start, exec, exit, command-exit, marker, file, ...) and its arguments. */
export interface AccessEvent {
  kind: string;
  args: any[];
}

export interface EventsRun extends Run {
  events: AccessEvent[];
}

/**
 * `access-driver.mjs [flags] -- argv`: flags are the driver's (--channel,
 * --no-loopback) and do's; `as`: run it as this user (rootless.test.ts).
 */
export function runWithEvents(argv: string[], o: { flags?: string[]; cwd?: string; timeoutMs?: number; as?: { uid: number; gid: number; home: string } } = {}): EventsRun {
  const dir = tempDir('events');
  const file = path.join(dir, 'events.jsonl');
  if (o.as) fs.chownSync(dir, o.as.uid, o.as.gid);
  try {
    const r = spawnSync(process.execPath, [ACCESS_DRIVER, '--events', file, '--cwd', o.cwd ?? '/', ...(o.flags ?? []), '--', ...argv], {
      env: { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: o.as?.home ?? '/root', LANG: 'C', LC_ALL: 'C' },
      ...(o.as ? { uid: o.as.uid, gid: o.as.gid } : {}),
      input: '',
      timeout: o.timeoutMs ?? 60000,
      maxBuffer: 64 << 20,
      encoding: 'latin1',
    });
    if (r.error) throw r.error;
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    const events = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as AccessEvent);
    return { stdout: r.stdout, stderr: r.stderr, status: r.status, signal: r.signal, events };
  } finally {
    rmrf(dir);
  }
}

/** A run's path, network and denial events, and with `writes` the overlay's changes after it (src/testrun/writes.ts). */
export interface AccessRun extends Run {
  files: FileAccess[];
  network: NetworkAttempt[];
  denials: Denial[];
  changes: { path: string; kind: string }[] | null;
}

/** runWithEvents with `hide` hidden (--hide) and do's flags `doFlags`, its events by kind. */
export function runObserved(argv: string[], o: { hide?: string[]; cwd?: string; doFlags?: string[]; writes?: boolean; as?: { uid: number; gid: number; home: string } } = {}): AccessRun {
  const dir = o.writes ? tempDir('writes') : null;
  try {
    const writes = dir ? path.join(dir, 'writes.json') : null;
    const flags = [...(o.hide ?? []).flatMap((h) => ['--hide', h]), ...(writes ? ['--writes', writes] : []), ...(o.doFlags ?? [])];
    if (dir && o.as) fs.chownSync(dir, o.as.uid, o.as.gid);
    const { events, ...run } = runWithEvents(argv, { flags, cwd: o.cwd, timeoutMs: 120000, ...(o.as ? { as: o.as } : {}) });
    const of = <T>(kind: string): T[] => events.filter((e) => e.kind === kind).map((e) => e.args[0] as T);
    const changes = writes && fs.existsSync(writes) ? (JSON.parse(fs.readFileSync(writes, 'utf8')) as { changes: AccessRun['changes'] }).changes : null;
    return { ...run, files: of<FileAccess>('file'), network: of<NetworkAttempt>('network'), denials: of<Denial>('denied'), changes };
  } finally {
    if (dir) rmrf(dir);
  }
}
