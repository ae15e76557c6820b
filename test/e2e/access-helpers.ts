// Runs a command under test/e2e/access-driver.mjs (tsvisor do with an access
// observer) and reads back the events it recorded, for the tests of the
// Sentry's access events and hidden paths.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Denial, FileAccess, NetworkAttempt } from '../../src/sentry/spec.js';
import { REPO, type Run, rmrf, tempDir } from './harness.js';

export interface AccessRun extends Run {
  files: FileAccess[];
  network: NetworkAttempt[];
  denials: Denial[];
  /** with `writes`: the overlay's changes after the run (src/testrun/writes.ts) */
  changes: { path: string; kind: string }[] | null;
}

const DRIVER = path.join(REPO, 'test/e2e/access-driver.mjs');

/** `argv` in a sandbox made by do's flags (`doFlags`), with `hide` hidden; its output and events. */
export function runObserved(argv: string[], o: { hide?: string[]; cwd?: string; doFlags?: string[]; writes?: boolean } = {}): AccessRun {
  const dir = tempDir('access');
  try {
    const events = path.join(dir, 'events.jsonl');
    const writes = path.join(dir, 'writes.json');
    const args = [
      DRIVER,
      '--events',
      events,
      ...(o.hide ?? []).flatMap((h) => ['--hide', h]),
      ...(o.writes ? ['--writes', writes] : []),
      '--cwd',
      o.cwd ?? '/',
      ...(o.doFlags ?? []),
      '--',
      ...argv,
    ];
    const r = spawnSync(process.execPath, args, {
      cwd: '/',
      env: { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: '/root', LANG: 'C', LC_ALL: 'C' },
      input: '',
      timeout: 120000,
      maxBuffer: 64 << 20,
      encoding: 'latin1',
    });
    if (r.error) throw r.error;
    const changes = o.writes && fs.existsSync(writes) ? (JSON.parse(fs.readFileSync(writes, 'utf8')) as { changes: AccessRun['changes'] }).changes : null;
    const out: AccessRun = { stdout: r.stdout, stderr: r.stderr, status: r.status, signal: r.signal, files: [], network: [], denials: [], changes };
    const text = fs.existsSync(events) ? fs.readFileSync(events, 'utf8') : '';
    for (const line of text.split('\n')) {
      if (!line) continue;
      const { kind, args: [e] } = JSON.parse(line) as { kind: string; args: unknown[] };
      if (kind === 'file') out.files.push(e as FileAccess);
      else if (kind === 'network') out.network.push(e as NetworkAttempt);
      else if (kind === 'denied') out.denials.push(e as Denial);
    }
    return out;
  } finally {
    rmrf(dir);
  }
}
