// The sandbox always ends, signals keep their native meaning, and tsvisor's
// own processes are no door (issue 8, classes 3, 5, 7 and 8):
//   * when the command ends, everything it left behind in the sandbox is
//     killed; a signal that ends tsvisor ends the sandbox within a bound
//     whatever the guest does; nothing outlives tsvisor;
//   * tsvisor do runs the command under a minimal init, so Ctrl-C on a
//     terminal and signals sent to tsvisor act as they would natively;
//   * SIGUSR1 never opens Node's inspector and the caller's NODE_OPTIONS
//     never reach tsvisor's own Node processes (the guest still gets them);
//   * --no-overlay needs an explicit --root.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { TSVISOR, rmrf, runSandbox, sh } from './harness.js';
import { type ProcInfo, type Running, ENV, allProcs, alive, goferOf, hostScratch, startSandbox, waitGone } from './robust-helpers.js';
import { runOnPty } from '../helpers/pty.js';

let dir: string;
let runs: Running[] = [];
beforeAll(() => {
  dir = hostScratch('termination');
});
afterAll(() => {
  if (dir) rmrf(dir);
});
afterEach(() => {
  for (const r of runs) r.kill('SIGKILL');
  runs = [];
  for (const p of marked()) process.kill(p.pid, 'SIGKILL');
});

/** A number unique to this test run, put in the guests' command lines to find them on the host. */
const MARK = `1000.${process.pid}${Date.now() % 100000}`;
const marked = (): ProcInfo[] => allProcs().filter((p) => p.cmdline.includes(MARK) && alive(p));

function start(argv: string[], flags: string[] = []): Running {
  const r = startSandbox(argv, flags);
  runs.push(r);
  return r;
}

/** A guest that ignores SIGTERM and SIGHUP, with children of every kind that do too. */
const STUBBORN = [
  'trap "" TERM HUP INT',
  `sleep ${MARK} &`,
  `setsid sleep ${MARK} &`,
  `(trap "" TERM HUP INT; while :; do sleep ${MARK}; done) &`,
  'echo ready',
  'while :; do sleep 0.1; done',
].join('\n');

describe('the sandbox always ends', () => {
  // 4 s: on a loaded machine the guest must have set its traps (said "ready") before the signal comes.
  it('timeout 4 tsvisor do -- <a guest that ignores SIGTERM, with children>: ends within the grace period, nothing left', async () => {
    const t0 = Date.now();
    const r = spawnSync('timeout', ['-s', 'TERM', '4', TSVISOR, 'do', '--cwd', '/', '--', ...sh(STUBBORN)], { encoding: 'latin1', env: ENV, timeout: 30000 });
    const ms = Date.now() - t0;
    expect(r.stdout).toBe('ready\n');
    expect(r.status).toBe(124); // timeout's own status: it had to send the signal
    expect(ms).toBeLessThan(4000 + 5000 + 3000);
    expect((await waitGone(marked(), 3000)).map((p) => p.cmdline)).toEqual([]);
  });

  // More than a second apart: a repeat from the same sender within one is the same request (next test).
  it('a second SIGTERM ends it at once, with the status of death by SIGTERM', async () => {
    const run = start(sh(STUBBORN));
    await run.waitFor(/ready/);
    run.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1500));
    const t0 = Date.now();
    run.kill('SIGTERM');
    const f = await run.finish(10000);
    expect(Date.now() - t0).toBeLessThan(2500);
    expect(f.status).toBe(143);
    expect((await waitGone(marked(), 3000)).map((p) => p.cmdline)).toEqual([]);
  });

  it('the same SIGTERM sent twice at once by one process (as timeout does, to tsvisor and its group) is one request: the guest keeps its grace', async () => {
    const run = start(sh('trap "" TERM; echo ready; sleep 2; echo survived; exit 7'));
    await run.waitFor(/ready/);
    expect(spawnSync('sh', ['-c', `kill -TERM ${run.pid}; kill -TERM ${run.pid}`]).status).toBe(0);
    const f = await run.finish(15000);
    expect({ stdout: f.stdout, status: f.status }).toEqual({ stdout: 'ready\nsurvived\n', status: 7 });
  });

  it('when the command exits, the processes it left behind are killed and tsvisor exits with its status', async () => {
    const script = `sleep ${MARK} & setsid sleep ${MARK} & (trap "" TERM HUP; sleep ${MARK}) & exit 3`;
    const t0 = Date.now();
    const r = runSandbox(sh(script));
    expect(r.status).toBe(3);
    expect(Date.now() - t0).toBeLessThan(10000);
    expect((await waitGone(marked(), 3000)).map((p) => p.cmdline)).toEqual([]);
  });

  it('SIGKILL of tsvisor during the grace period leaves nothing behind either', async () => {
    const run = start(sh(STUBBORN));
    await run.waitFor(/ready/);
    const gofer = goferOf(run.pid);
    run.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    run.kill('SIGKILL');
    await run.exit;
    expect((await waitGone([...marked(), ...(gofer ? [gofer] : [])], 5000)).map((p) => p.cmdline)).toEqual([]);
  });
});

describe('signals keep their native meaning under tsvisor do', () => {
  it.each([
    ['sleep', 'echo ready; exec sleep 100'],
    ['cat', 'echo ready; exec cat'],
    ['a shell loop', 'echo ready; while :; do sleep 0.1; done'],
  ])('Ctrl-C on a terminal ends %s as natively', (_what, script) => {
    const native = runOnPty(sh(script), [[/ready/, '\x03']], { timeoutMs: 20000 });
    const sandbox = runOnPty([TSVISOR, 'do', '--', ...sh(script)], [[/ready/, '\x03']], { timeoutMs: 20000 });
    expect(native.status).toBe(130);
    expect({ status: sandbox.status, timedOut: sandbox.timedOut }).toEqual({ status: native.status, timedOut: false });
  });

  it('SIGUSR1 sent to tsvisor reaches the guest (default action: death by SIGUSR1) and opens no inspector', async () => {
    const run = start(sh('echo ready; exec sleep 100'));
    await run.waitFor(/ready/);
    const gofer = goferOf(run.pid);
    expect(gofer).toBeDefined();
    // The Gofer is a Node process too.
    process.kill(gofer!.pid, 'SIGUSR1');
    await new Promise((r) => setTimeout(r, 300));
    expect(alive(gofer!)).toBe(true);
    run.kill('SIGUSR1');
    const f = await run.finish(10000);
    expect(f.status).toBe(128 + 10);
    expect(inspectorListening()).toBe(false);
  });
});

/** Whether anything listens on Node's inspector port (9229) on this host. */
function inspectorListening(): boolean {
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const lines = fs.readFileSync(file, 'latin1').split('\n').slice(1);
    // local_address is hex ip:port; state 0A is LISTEN
    if (lines.some((l) => /^\s*\d+: [0-9A-F]+:240D [0-9A-F]+:0000 0A /.test(l))) return true;
  }
  return false;
}

describe("tsvisor's own Node processes ignore the caller's Node environment", () => {
  it('NODE_OPTIONS loads nothing into tsvisor or its Gofer, and the guest still sees it', () => {
    const markerFile = path.join(dir, 'loaded');
    const evil = path.join(dir, 'evil.cjs');
    fs.writeFileSync(evil, `require('fs').appendFileSync(${JSON.stringify(markerFile)}, process.argv.join(' ') + '\\n');\n`);
    const options = `--require ${evil}`;
    const env = { ...ENV, NODE_OPTIONS: options, NODE_DEBUG: 'fs', UV_THREADPOOL_SIZE: '3' };
    const r = spawnSync(TSVISOR, ['do', '--cwd', '/', '--', ...sh('echo "$NODE_OPTIONS|$NODE_DEBUG|$UV_THREADPOOL_SIZE"; env | grep -c TSVISOR_GUEST_ || true')], {
      encoding: 'latin1',
      env,
      timeout: 60000,
    });
    expect(r.stdout).toBe(`${options}|fs|3\n0\n`);
    expect(r.status).toBe(0);
    const v = spawnSync(TSVISOR, ['--version'], { encoding: 'latin1', env, timeout: 60000 });
    expect(v.status).toBe(0);
    expect(fs.existsSync(markerFile) ? fs.readFileSync(markerFile, 'latin1') : '').toBe('');
  });
});

describe('--no-overlay', () => {
  it('without --root is refused with a message naming --root, and writes nothing', () => {
    const target = path.join(dir, 'must-not-exist');
    const r = spawnSync(TSVISOR, ['do', '--no-overlay', '--', 'touch', target], { encoding: 'latin1', env: ENV, timeout: 60000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^tsvisor: .*--root/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(fs.existsSync(target)).toBe(false);
  });

  it('a missing --root is a clear error', () => {
    const r = spawnSync(TSVISOR, ['do', '--root', path.join(dir, 'nope'), '--', 'true'], { encoding: 'latin1', env: ENV, timeout: 60000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/^tsvisor: --root .*nope: no such directory\n$/);
  });
});
