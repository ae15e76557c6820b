// Issue 2, acceptance: "killing the Sentry kills the guest (no orphans);
// killing the Gofer gives EIO in the guest and a clear error from tsvisor"
// (item 6: "If it dies, the guest's file calls fail with EIO and tsvisor
// exits non-zero with a clear message").
//
// The tsvisor process started by `tsvisor do` is the Sentry (bin/tsvisor
// execs node); the Gofer is its child whose command line names
// GOFER_ENTRY; the guest's processes are its other descendants (until
// they are reparented).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { busyboxRoot, rmrf, sh } from './harness.js';
import {
  type ProcInfo,
  type Running,
  allProcs,
  alive,
  descendants,
  goferOf,
  hostScratch,
  poll,
  startSandbox,
  waitGone,
} from './robust-helpers.js';

/** Processes a test started (directly or in a sandbox), SIGKILLed by pid after it if still there. */
let started: ProcInfo[] = [];
let runs: Running[] = [];
afterEach(() => {
  for (const p of started) {
    if (alive(p)) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  for (const r of runs) r.kill('SIGKILL');
  started = [];
  runs = [];
});

const show = (ps: ProcInfo[]) => ps.map((p) => `${p.pid} ${p.state} ${p.cmdline}`);

describe('killing the Sentry', () => {
  // Two guests: idle (two background sleeps and a shell waiting for them), and
  // busy (a shell forking ls in a loop, so trapped calls are in flight when the
  // Sentry dies). A unique number in the command lines recognises the guest's
  // processes wherever they end up (GNU sleep takes fractions).
  const cases = [
    { what: 'idle', script: (m: string) => `sleep ${m} & sleep ${m} & echo ready; wait`, sleeps: 2 },
    { what: 'busy', script: (m: string) => `echo ready; while :; do ls / > /dev/null; : ${m}; done`, sleeps: 0 },
  ];
  it.each(cases)('SIGKILL of tsvisor kills every guest process ($what guest) and the Gofer: no orphans', async ({ script, sleeps: nSleeps }) => {
    const marker = `1000.${process.pid}${Date.now() % 100000}`;
    const run = startSandbox(sh(script(marker)));
    runs.push(run);
    await run.waitFor(/ready/);
    const sleeps = await poll('the sleeps', 5000, () => {
      const s = descendants(run.pid).filter((p) => p.cmdline === `sleep ${marker}`);
      return s.length === nSleeps ? s : undefined;
    });
    if (nSleeps === 0) await new Promise((r) => setTimeout(r, 200)); // let the loop run
    const gofer = goferOf(run.pid);
    expect(gofer, `descendants: ${show(descendants(run.pid)).join('; ')}`).toBeDefined();
    const guests = descendants(run.pid).filter((p) => p.pid !== gofer!.pid);
    started.push(...guests, gofer!);
    expect(guests.filter((p) => p.cmdline.includes(marker)).length).toBeGreaterThanOrEqual(1 + nSleeps);

    const t0 = Date.now();
    run.kill('SIGKILL');
    const exit = await run.exit;
    expect(exit.signal).toBe('SIGKILL');

    const survivors = await waitGone([...guests, ...sleeps], 5000);
    const goferLeft = await waitGone([gofer!], 5000);
    // Nothing anywhere still runs the guest's commands (reparented or not, or started since).
    const marked = allProcs().filter((p) => p.cmdline.includes(marker) && alive(p));
    started.push(...marked);
    console.log(
      `after SIGKILL of the Sentry (${Date.now() - t0} ms): survivors: ${show(survivors).join('; ') || 'none'}; ` +
        `marked: ${show(marked).join('; ') || 'none'}; gofer: ${goferLeft.length ? 'alive' : 'gone'}`,
    );
    expect(show(survivors), 'guest processes still running after the Sentry was killed').toEqual([]);
    expect(show(marked), 'guest processes still running after the Sentry was killed').toEqual([]);
    expect(show(goferLeft), 'the Gofer still running after the Sentry was killed').toEqual([]);
  });
});

describe('killing the Gofer', () => {
  let dir: string;
  let root: string;
  beforeAll(() => {
    dir = hostScratch('lifecycle');
    // Files the guest has never seen: looking each one up must reach the Gofer.
    fs.mkdirSync(path.join(dir, 'data'));
    for (let i = 1; i <= 2000; i++) fs.writeFileSync(path.join(dir, 'data', `f${i}`), `${i}\n`);
    root = busyboxRoot();
  });
  afterAll(() => {
    if (dir) rmrf(dir);
    if (root) rmrf(root);
  });

  /** Starts the guest, waits for "ready", SIGKILLs the Gofer, and returns how the run ended. */
  async function killGoferDuring(argv: string[], doFlags: string[]) {
    const run = startSandbox(argv, doFlags);
    runs.push(run);
    await run.waitFor(/ready/);
    const gofer = goferOf(run.pid);
    expect(gofer, `descendants: ${show(descendants(run.pid)).join('; ')}`).toBeDefined();
    started.push(...descendants(run.pid));
    process.kill(gofer!.pid, 'SIGKILL');
    const r = await run.finish(30000);
    console.log(`gofer killed: status ${r.status} in ${r.ms} ms\nstdout: ${r.stdout.slice(-300)}\nstderr: ${r.stderr.slice(-600)}`);
    return r;
  }

  // Writes go through the Gofer with --no-overlay: every new file is a create
  // on the host, which only the Gofer can do (no cache can answer it).
  it('creating files (--no-overlay --root): the guest gets EIO, tsvisor exits non-zero naming the gofer', async () => {
    const script = [
      'echo ready',
      'i=0',
      'while [ $i -lt 200000 ]; do',
      '  i=$((i+1))',
      '  echo x > /tmp/f$i || { echo WRITEFAIL; exit 9; }',
      'done',
      'echo NOFAIL',
    ].join('\n');
    const r = await killGoferDuring(sh(script), ['--root', root, '--no-overlay']);
    expect(r.stdout).toContain('WRITEFAIL');
    expect(r.stdout).not.toContain('NOFAIL');
    expect(r.stderr).toMatch(/can't create \/tmp\/f\d+: Input\/output error/);
    expect(r.stderr).toMatch(/^tsvisor: .*gofer/im);
    expect(r.signal).toBe(null);
    expect(r.status).not.toBe(0);
  });

  // Reads: tsvisor may serve a file it has opened before from an fd it holds
  // (read-only files are reopened without the Gofer), so the guest reads
  // files it has never opened: each lookup must reach the Gofer.
  it('reading files never opened before: cat fails with EIO, tsvisor exits non-zero naming the gofer', async () => {
    const data = path.join(dir, 'data');
    const script = [
      'echo ready',
      'i=0',
      'while [ $i -lt 2000 ]; do',
      '  i=$((i+1))',
      `  cat ${data}/f$i > /dev/null || { echo READFAIL; exit 9; }`,
      'done',
      'echo NOFAIL',
    ].join('\n');
    const r = await killGoferDuring(sh(script), []);
    expect(r.stdout).toContain('READFAIL');
    expect(r.stdout).not.toContain('NOFAIL');
    expect(r.stderr).toMatch(/Input\/output error/);
    expect(r.stderr).toMatch(/^tsvisor: .*gofer/im);
    expect(r.signal).toBe(null);
    expect(r.status).not.toBe(0);
  });
});
