// Issue 8, class 9: start-up under load must never hang or lie.
//
// Acceptance: "A stress test starts many sandboxes while the machine is
// saturated (more runnable threads than CPUs several times over, at low
// priority): every run either succeeds or fails with a clear message and
// non-zero status within a bound; no leftover process; no status 0 without
// the guest having run." and "`timeout 30 tsvisor do -- <any guest>` always
// ends by itself within the grace period; no process of the sandbox remains."
//
// Every run here starts inside a pids cgroup of its own (v1 or v2), which
// the Sentry, the Gofer, the launcher and the guest all inherit: once the
// run is over, anything alive in it is a leftover, whatever it was
// reparented to. The fault-injection tests hold the launcher at a step with
// the launcher's test hook (TSVISOR_TEST_STOP_LAUNCHER_AT, native/launcher.c)
// or stop the Gofer with SIGSTOP, then kill, stop, continue or signal.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TSVISOR, busyboxRoot, rmrf, specBundle, tempDir } from './harness.js';
import { ENV, type Finished, Running, allProcs, descendants, goferOf, poll, procInfo, shellStatus } from './robust-helpers.js';
import { LAUNCHER_PATH } from '../../src/paths.js';

/** A pids cgroup (v1 hierarchy if mounted, else v2) whose processes can be listed and killed. */
class Cgroup {
  readonly dir: string;
  constructor(name: string) {
    const base = fs.existsSync('/sys/fs/cgroup/pids/cgroup.procs') ? '/sys/fs/cgroup/pids' : '/sys/fs/cgroup';
    this.dir = path.join(base, `tsvisor-startup-${process.pid}-${name}`);
    fs.mkdirSync(this.dir);
  }

  /** argv run inside this cgroup (a shell moves itself in, then execs it). */
  wrap(argv: string[]): string[] {
    return ['/bin/sh', '-c', 'echo $$ > "$0" && exec "$@"', path.join(this.dir, 'cgroup.procs'), ...argv];
  }

  /** Live (non-zombie) processes in it, as "pid state cmdline". */
  alive(): string[] {
    const pids = fs.readFileSync(path.join(this.dir, 'cgroup.procs'), 'latin1').split('\n').filter(Boolean).map(Number);
    return pids
      .map((pid) => procInfo(pid))
      .filter((p) => p !== undefined && p.state !== 'Z' && p.state !== 'X')
      .map((p) => `${p!.pid} ${p!.state} ${p!.cmdline}`);
  }

  /** SIGKILLs whatever is left and removes the cgroup (once the zombies reparented to init are reaped). */
  remove(): void {
    for (let i = 0; i < 50; i++) {
      for (const l of this.alive()) {
        try {
          process.kill(Number(l.split(' ')[0]), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      try {
        fs.rmdirSync(this.dir);
        return;
      } catch {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
      }
    }
  }
}

const groups: Cgroup[] = [];
const runs: Running[] = [];
afterEach(() => {
  for (const r of runs.splice(0)) r.kill('SIGKILL');
  for (const g of groups.splice(0)) g.remove();
});

let seq = 0;
/** `tsvisor do [flags] -- argv` started asynchronously in a cgroup of its own. */
function sandbox(argv: string[], o: { env?: NodeJS.ProcessEnv; nice?: boolean; prefix?: string[]; flags?: string[] } = {}): { run: Running; cg: Cgroup } {
  const cg = new Cgroup(String(seq++));
  groups.push(cg);
  const cmd = [...(o.prefix ?? []), TSVISOR, 'do', '--cwd', '/', ...(o.flags ?? []), '--', ...argv];
  const run = new Running(cg.wrap(o.nice ? ['nice', '-n', '19', ...cmd] : cmd), { env: { ...ENV, ...o.env } });
  runs.push(run);
  return { run, cg };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The sandbox's launcher (a child of tsvisor running the launcher binary). */
function launcherOf(run: Running): number | undefined {
  return descendants(run.pid).find((p) => p.cmdline.startsWith(LAUNCHER_PATH))?.pid;
}

/** A sandbox of `echo RAN` whose launcher is held at `step` (U or L) by its test hook; SIGCONT to the launcher ends the hold. */
async function held(step: string) {
  const s = sandbox(['/bin/sh', '-c', 'echo RAN'], { env: { TSVISOR_TEST_STOP_LAUNCHER_AT: step } });
  await s.run.waitFor(new RegExp(`tsvisor-launcher: held at ${step}`), 30_000);
  const launcher = await poll('the launcher', 5000, () => launcherOf(s.run));
  return { ...s, launcher };
}

/** The one-line "tsvisor: ..." messages of a run's stderr. */
function tsvisorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /^tsvisor: \S/.test(l));
}

/** Nothing of the run is alive once it ended: tsvisor waits for what it started. */
function expectNoLeftovers(cg: Cgroup): void {
  expect(cg.alive(), 'processes of the sandbox alive after tsvisor ended').toEqual([]);
}

describe('start-up under load', () => {
  const cpus = os.availableParallelism();
  let hogs: ChildProcess[] = [];
  afterAll(() => {
    for (const h of hogs) h.kill('SIGKILL');
  });

  // 4 busy loops per CPU at the lowest priority, and twice as many
  // sandboxes started at once, at the same priority: each sandbox adds two
  // Node processes of ~10 threads and a guest. Measured here (2 CPUs, the
  // machine shared with other work): every run succeeded, the slowest in
  // 20-40 s. The bound is what a CI runner may take, not a timeout tsvisor
  // relies on: it has none.
  const BOUND_MS = 120_000;
  const N = 8 * cpus;
  it(`${N} sandboxes started at once on a saturated machine: each succeeds or fails clearly, within ${BOUND_MS / 1000} s, and leaves nothing`, async () => {
    hogs = Array.from({ length: 4 * cpus }, () => spawn('nice', ['-n', '19', '/bin/sh', '-c', 'while :; do :; done'], { stdio: 'ignore' }));
    await sleep(500);
    const started = Array.from({ length: N }, (_, i) => {
      const token = `ran-${process.pid}-${i}`;
      // A quarter run /bin/true (nothing to print), the others print a token.
      const argv = i % 4 === 3 ? ['/bin/true'] : ['/bin/sh', '-c', `echo ${token}`];
      return { token: argv.length === 1 ? undefined : token, ...sandbox(argv, { nice: true }) };
    });
    const results = await Promise.all(
      started.map(async ({ run, token, cg }) => {
        let r: Finished | undefined;
        let error: string | undefined;
        try {
          r = await run.finish(BOUND_MS);
        } catch (e) {
          error = (e as Error).message;
        }
        return { token, r, error, left: cg.alive() };
      }),
    );
    for (const h of hogs) h.kill('SIGKILL');
    hogs = [];
    const times = results.map((x) => x.r?.ms ?? BOUND_MS).sort((a, b) => a - b);
    const ok = results.filter((x) => x.r?.status === 0).length;
    console.log(
      `${results.length} sandboxes under ${4 * cpus} busy loops (nice 19): ${ok} succeeded, ${results.length - ok} failed; ` +
        `median ${times[times.length >> 1]} ms, worst ${times[times.length - 1]} ms\n` +
        results
          .filter((x) => x.r?.status !== 0)
          .map((x) => `  status ${x.r?.status} signal ${x.r?.signal}: ${x.error ?? x.r?.stderr.trim()}`)
          .join('\n'),
    );
    for (const { token, r, error, left } of results) {
      expect(error, 'a run exceeded the bound').toBeUndefined();
      expect(left, 'processes of the sandbox alive after tsvisor ended').toEqual([]);
      expect(r!.signal).toBeNull();
      if (r!.status === 0) {
        if (token) expect(r!.stdout).toBe(`${token}\n`);
      } else {
        // A failure is tsvisor's own, clear, one line per cause; never a stack trace.
        expect(tsvisorLines(r!.stderr).length, r!.stderr).toBeGreaterThanOrEqual(1);
        expect(r!.stderr).not.toMatch(/\n\s+at /);
      }
    }
  }, 200_000);
});

describe('a launcher that dies, stalls or is waited for at each step of the handshake', () => {
  // U: the launcher is about to report its namespaces (the Sentry waits for
  // 'U'); L: it is about to report its seccomp listener (the Sentry waits for 'L').
  const steps = [
    { step: 'U', doing: "setting up the sandbox's namespaces and root file system" },
    { step: 'L', doing: 'installing the seccomp filter' },
  ];

  it.each(steps)('killed at $step: a message naming the step, status 125 at once, nothing left', async ({ step, doing }) => {
    const { run, cg, launcher } = await held(step);
    const t0 = Date.now();
    process.kill(launcher, 'SIGKILL');
    const r = await run.finish(30_000);
    console.log(`launcher killed at ${step}: status ${r.status} in ${Date.now() - t0} ms: ${r.stderr.trim()}`);
    expect(r.status).toBe(125);
    expect(r.stdout).toBe('');
    expect(tsvisorLines(r.stderr)).toEqual([`tsvisor: the launcher (pid ${launcher}) was killed by signal 9 while ${doing}`]);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expectNoLeftovers(cg);
  });

  it.each(steps)('SIGTERM to tsvisor at $step: status 143 at once, the launcher and the Gofer gone', async ({ step }) => {
    const { run, cg } = await held(step);
    const t0 = Date.now();
    run.kill('SIGTERM');
    const r = await run.finish(30_000);
    expect(r.status).toBe(143);
    expect(tsvisorLines(r.stderr)).toEqual(['tsvisor: stopped by SIGTERM while the sandbox was starting']);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expectNoLeftovers(cg);
  });

  it.each(steps)('SIGINT to tsvisor at $step: status 130', async ({ step }) => {
    const { run, cg } = await held(step);
    run.kill('SIGINT');
    const r = await run.finish(30_000);
    expect(r.status).toBe(130);
    expectNoLeftovers(cg);
  });

  it.each(steps)('SIGKILL of tsvisor at $step: the launcher and the Gofer die with it', async ({ step }) => {
    const { run, cg } = await held(step);
    run.kill('SIGKILL');
    await run.finish(30_000);
    // The death signal is asynchronous: they die right after tsvisor.
    const left = await poll('the sandbox to be gone', 5000, () => (cg.alive().length ? undefined : []));
    expect(left).toEqual([]);
  });

  // 11 s: longer than the 10 s the Sentry used to give each step.
  it.each(steps)('stopped (SIGSTOP) 11 s at $step, then continued: a slow launcher is waited for and the guest runs', async ({ step }) => {
    const { run, cg, launcher } = await held(step);
    process.kill(launcher, 'SIGSTOP');
    await sleep(11_000);
    process.kill(launcher, 'SIGCONT'); // continues it, and ends the hold
    const r = await run.finish(60_000);
    expect(r.stderr).toBe(`tsvisor-launcher: held at ${step}\n`);
    expect(r.stdout).toBe('RAN\n');
    expect(r.status).toBe(0);
    expectNoLeftovers(cg);
  });
});

describe('a Gofer that dies or stalls', () => {
  const guest = ['/bin/sh', '-c', 'echo ready; i=0; while [ $i -lt 200 ]; do i=$((i+1)); cat /etc/passwd > /dev/null || exit 9; ls /usr/lib > /dev/null || exit 9; done; echo DONE'];

  async function goferStopped(run: Running): Promise<number> {
    const gofer = await poll('the Gofer', 10_000, () => goferOf(run.pid)?.pid);
    process.kill(gofer, 'SIGSTOP');
    return gofer;
  }

  it('stopped during start-up for 2 s, then continued: waited for, the guest runs', async () => {
    const { run, cg } = sandbox(guest);
    const gofer = await goferStopped(run);
    await sleep(2000);
    process.kill(gofer, 'SIGCONT');
    const r = await run.finish(60_000);
    expect(r.stdout).toBe('ready\nDONE\n');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expectNoLeftovers(cg);
  });

  it('stopped during start-up, SIGTERM to tsvisor: status 143 at once, nothing left', async () => {
    const { run, cg } = sandbox(guest);
    await goferStopped(run);
    await sleep(1000);
    const t0 = Date.now();
    run.kill('SIGTERM');
    const r = await run.finish(30_000);
    expect(r.status).toBe(143);
    expect(tsvisorLines(r.stderr)).toEqual(['tsvisor: stopped by SIGTERM while the sandbox was starting']);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expectNoLeftovers(cg);
  });

  it('killed during start-up: a message naming the Gofer and how it died, non-zero at once', async () => {
    const { run, cg } = sandbox(guest);
    const gofer = await goferStopped(run);
    await sleep(500);
    process.kill(gofer, 'SIGKILL');
    const r = await run.finish(30_000);
    console.log(`gofer killed during start-up: status ${r.status}: ${r.stderr.trim()}`);
    expect(r.status).toBe(125);
    expect(r.stdout).toBe('');
    expect(tsvisorLines(r.stderr).join('\n')).toMatch(new RegExp(`the Gofer \\(pid ${gofer}\\) was killed by signal 9`));
    expectNoLeftovers(cg);
  });

  // 11 s: longer than the 10 s after which the Sentry used to declare it dead.
  it('stopped for 11 s while the guest reads files, then continued: no EIO, the guest finishes', async () => {
    const { run, cg } = sandbox(guest);
    await run.waitFor(/ready/, 60_000);
    const gofer = await goferStopped(run);
    await sleep(11_000);
    process.kill(gofer, 'SIGCONT');
    const r = await run.finish(60_000);
    expect(r.stdout).toBe('ready\nDONE\n');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expectNoLeftovers(cg);
  });

  // With tsvisor's init the command has do's grace (5 s) to handle the
  // signal; with --no-init a shell without a handler is killed at once.
  // Either way the Sentry, blocked on the stopped Gofer, ends it in time.
  it.each([
    { flags: [], bound: 10_000 },
    { flags: ['--no-init'], bound: 3_000 },
  ])('stopped while the guest reads files, SIGTERM to tsvisor $flags: status 143 within $bound ms, no EIO seen, nothing left', async ({ flags, bound }) => {
    const { run, cg } = sandbox(guest, { flags });
    await run.waitFor(/ready/, 60_000);
    await goferStopped(run);
    await sleep(500);
    const t0 = Date.now();
    run.kill('SIGTERM');
    const r = await run.finish(30_000);
    expect(r.status).toBe(143);
    expect(r.stdout).toBe('ready\n');
    // The sandbox was ended by the signal: nothing to report about the Gofer,
    // and no guest process lived on to see its pending call fail.
    expect(r.stderr).toBe('');
    expect(Date.now() - t0).toBeLessThan(bound);
    expectNoLeftovers(cg);
  });
});

describe('tsvisor itself stopped or timed out', () => {
  it('stopped (SIGSTOP) 2 s during start-up, then continued: the guest runs', async () => {
    // Held by the launcher's hook, so that tsvisor is surely stopped during
    // start-up (a scan of /proc for the Gofer could miss a fast start-up).
    const { run, cg, launcher } = await held('U');
    run.kill('SIGSTOP');
    process.kill(launcher, 'SIGCONT'); // ends the hold: the launcher goes on while tsvisor is stopped
    await sleep(2000);
    run.kill('SIGCONT');
    const r = await run.finish(60_000);
    expect(r.stdout).toBe('RAN\n');
    expect(r.stderr).toBe('tsvisor-launcher: held at U\n');
    expect(r.status).toBe(0);
    expectNoLeftovers(cg);
  });

  it('timeout -s TERM 2 tsvisor do -- sleep 100: ends at once after 2 s, status 124, nothing left', async () => {
    const { run, cg } = sandbox(['sleep', '100'], { prefix: ['timeout', '-s', 'TERM', '2'] });
    const r = await run.finish(30_000);
    expect(r.status).toBe(124);
    // On a loaded machine the 2 s may end during start-up: said so, otherwise silent.
    expect(['', 'tsvisor: stopped by SIGTERM while the sandbox was starting\n']).toContain(r.stderr);
    expect(r.ms).toBeLessThan(12_000);
    expectNoLeftovers(cg);
  });

  it('timeout -s TERM 2 on a guest that ignores SIGTERM: timeout -k ends it with SIGKILL, nothing left', async () => {
    // "ready" once the shell ignores SIGTERM: on a loaded machine the 2 s may
    // end before that (during tsvisor's start-up, or before the shell ran its
    // trap), and then SIGTERM rightly ends the command at once.
    const { run, cg } = sandbox(['/bin/sh', '-c', 'trap "" TERM; echo ready; sleep 100'], { prefix: ['timeout', '-k', '2', '-s', 'TERM', '2'] });
    const r = await run.finish(30_000);
    if (r.stdout === 'ready\n') {
      expect(shellStatus(r), r.stderr).toBe(137); // timeout ends itself with the signal its command died of
    } else {
      expect(r.stdout).toBe('');
      expect(r.status, r.stderr).toBe(124);
    }
    expect(r.ms).toBeLessThan(15_000);
    const left = await poll('the sandbox to be gone', 5000, () => (cg.alive().length ? undefined : []));
    expect(left).toEqual([]);
  });
});

describe('tsvisor run (OCI) receiving a terminating signal during start-up', () => {
  let dir: string;
  let rootfs: string;
  afterAll(() => {
    if (dir) rmrf(dir);
    if (rootfs) rmrf(rootfs);
  });

  // runc's run is the sandbox process itself: a signal before the container
  // runs must undo the create (state, cgroups, launcher, Gofer), not kill
  // Node with all of it left behind.
  it.each([
    { sig: 'SIGTERM', step: 'U', status: 143 },
    { sig: 'SIGINT', step: 'L', status: 130 },
  ] as const)('$sig at launcher step $step: status $status, a message, no state and no process left', async ({ sig, step, status }) => {
    dir ??= tempDir('startup-run');
    rootfs ??= busyboxRoot();
    const stateRoot = path.join(dir, 'state');
    const id = `run-${process.pid}-${step}`;
    const b = specBundle(path.join(dir, `bundle-${step}`), rootfs, ['/bin/echo', 'RAN']);
    const cg = new Cgroup(`run-${step}`);
    groups.push(cg);
    const run = new Running(cg.wrap([TSVISOR, '--root', stateRoot, 'run', '--bundle', b, id]), { env: { ...ENV, TSVISOR_TEST_STOP_LAUNCHER_AT: step } });
    runs.push(run);
    try {
      await run.waitFor(new RegExp(`tsvisor-launcher: held at ${step}`), 60_000);
      const t0 = Date.now();
      run.kill(sig);
      const r = await run.finish(30_000);
      expect(r.status, r.stderr).toBe(status);
      // Its cgroups are removed at once: the sandbox process left them first.
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(r.stdout).toBe('');
      expect(tsvisorLines(r.stderr)).toEqual([`tsvisor: stopped by ${sig} while the container was starting`]);
      expect(fs.existsSync(path.join(stateRoot, id)), 'state directory left').toBe(false);
      const left = await poll('the sandbox to be gone', 5000, () => (cg.alive().length ? undefined : []));
      expect(left).toEqual([]);
    } finally {
      spawnSync(TSVISOR, ['--root', stateRoot, 'delete', '--force', id], { stdio: 'ignore', timeout: 30_000 });
    }
  });
});

describe('an OCI create whose sandbox process dies during start-up', () => {
  let dir: string;
  let rootfs: string;
  afterAll(() => {
    if (dir) rmrf(dir);
    if (rootfs) rmrf(rootfs);
  });

  // bin/tsvisor starts the sandbox process (`boot`) in a session of its own
  // and waits for its word: killed before it said anything, create must say
  // so and fail, and the launcher and the Gofer must die with it.
  it('create fails with a message, nothing of the sandbox is left', async () => {
    dir = tempDir('startup-oci');
    rootfs = busyboxRoot();
    const stateRoot = path.join(dir, 'state');
    const b = specBundle(path.join(dir, 'bundle'), rootfs, ['/bin/true']);
    const id = `startup-${process.pid}`;
    const cg = new Cgroup('oci');
    groups.push(cg);
    const run = new Running(cg.wrap([TSVISOR, '--root', stateRoot, 'create', '--bundle', b, id]), { env: { ...ENV, TSVISOR_TEST_STOP_LAUNCHER_AT: 'U' } });
    runs.push(run);
    try {
      await run.waitFor(/tsvisor-launcher: held at U/, 60_000);
      const boot = await poll('the sandbox process', 5000, () => allProcs().find((p) => p.cmdline.includes(' boot --ready-fd 3') && p.cmdline.includes(id)));
      process.kill(boot.pid, 'SIGKILL');
      const r = await run.finish(30_000);
      expect(r.status).toBe(1);
      expect(tsvisorLines(r.stderr)).toEqual(['tsvisor: the sandbox process ended before the container was created']);
      const left = await poll('the sandbox to be gone', 5000, () => (cg.alive().length ? undefined : []));
      expect(left).toEqual([]);
    } finally {
      spawnSync(TSVISOR, ['--root', stateRoot, 'delete', '--force', id], { stdio: 'ignore', timeout: 30_000 });
    }
  });
});
