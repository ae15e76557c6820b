// The OCI runtime commands, driven the way containerd's shim and conmon call
// runc (../shared/reference/oci-clients.md): global flags first, a bundle
// made with `tsvisor spec`, a busybox root.
import { type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, SANDBOX_RELEASE, TSVISOR, busyboxRoot, rmrf, specBundle } from './harness.js';
import { until } from './daemon-helpers.js';

let stateRoot: string;
let bundleBase: string;
let rootfs: string;

function tsv(args: string[], input = ''): SpawnSyncReturns<string> {
  return spawnSync(TSVISOR, ['--root', stateRoot, ...args], { encoding: 'utf8', input, timeout: 60000, killSignal: 'SIGKILL' });
}

/** The Node command itself, past the answers bin/tsvisor gives without it: node and its argv. */
function nodeArgv(args: string[]): [string, string[]] {
  return ['node', [path.join(REPO, 'dist/bundle/tsvisor.cjs'), '--root', stateRoot, ...args]];
}

function tsvNode(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(...nodeArgv(args), { encoding: 'utf8', timeout: 60000, killSignal: 'SIGKILL' });
}

/**
 * `create`, with stdout and stderr to a file: the container keeps the
 * stdio it is given (as with runc, clients pass fifos), so a pipe would
 * stay open until the container ends. Returns the status and what create
 * itself wrote.
 */
function create(args: string[], outFile: string): { status: number | null; output: string } {
  const fd = fs.openSync(outFile, 'w');
  try {
    const r = spawnSync(TSVISOR, ['--root', stateRoot, 'create', ...args], { stdio: ['ignore', fd, fd], timeout: 60000, killSignal: 'SIGKILL' });
    return { status: r.status, output: fs.readFileSync(outFile, 'utf8') };
  } finally {
    fs.closeSync(fd);
  }
}

/** A bundle whose config.json is `tsvisor spec`'s, with `args` and no terminal. */
function bundle(name: string, args: string[], edit: (c: Record<string, any>) => void = () => {}): string {
  return specBundle(path.join(bundleBase, name), rootfs, args, edit);
}

function state(id: string): Record<string, any> {
  const r = tsv(['state', id]);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeAll(() => {
  stateRoot = fs.mkdtempSync('/var/tmp/tsvisor-oci-state-');
  bundleBase = fs.mkdtempSync('/var/tmp/tsvisor-oci-bundles-');
  rootfs = busyboxRoot();
});

afterAll(() => {
  for (const id of fs.existsSync(stateRoot) ? fs.readdirSync(stateRoot) : []) {
    if (!id.startsWith('.')) tsv(['delete', '--force', id]);
  }
  rmrf(stateRoot);
  rmrf(bundleBase);
  rmrf(rootfs);
});

describe('OCI lifecycle', () => {
  it('create, state, start, exit: the pid file names the process that ends with the container', async () => {
    const b = bundle('life', ['/bin/sh', '-c', 'read x; echo "got $x"; exit 7']);
    const pidFile = path.join(b, 'init.pid');
    const out = path.join(b, 'out');
    const input = path.join(b, 'in');
    fs.writeFileSync(input, 'hello\n');
    const inFd = fs.openSync(input, 'r');
    const outFd = fs.openSync(out, 'w');
    const created = spawnSync(TSVISOR, ['--root', stateRoot, '--log', path.join(b, 'log.json'), '--log-format', 'json', 'create', '--bundle', b, '--pid-file', pidFile, 'life'], {
      stdio: [inFd, outFd, outFd],
      timeout: 60000,
    });
    fs.closeSync(inFd);
    fs.closeSync(outFd);
    expect(created.status, fs.readFileSync(out, 'utf8')).toBe(0);
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(alive(pid)).toBe(true);
    const s = state('life');
    expect(s).toMatchObject({ id: 'life', status: 'created', pid, bundle: b, rootfs });
    expect(Object.keys(s)).toEqual(['ociVersion', 'id', 'pid', 'status', 'bundle', 'rootfs', 'created', 'owner', 'annotations']);
    expect(fs.readFileSync(out, 'utf8')).toBe(''); // nothing ran before start

    const start = tsv(['start', 'life']);
    expect(start.status, start.stderr).toBe(0);
    await until('the container to stop', () => !alive(pid));
    expect(fs.readFileSync(out, 'utf8')).toBe('got hello\n');
    expect(state('life').status).toBe('stopped');
    expect(state('life').pid).toBe(0);

    const del = tsv(['delete', 'life']);
    expect(del.status, del.stderr).toBe(0);
    const gone = tsv(['state', 'life']);
    expect(gone.status).toBe(1);
    expect(gone.stderr).toContain('"life" does not exist');
  });

  it('run returns the container exit status and removes it', () => {
    const b = bundle('run7', ['/bin/sh', '-c', 'echo out; echo err >&2; exit 7']);
    const r = tsv(['run', '--bundle', b, 'run7']);
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 7, stdout: 'out\n', stderr: 'err\n' });
    expect(tsv(['list', '--quiet']).stdout).toBe('');
  });

  it('uname inside shows tsvisor, hostname from the spec', () => {
    const b = bundle('uname', ['/bin/sh', '-c', 'uname -r; hostname'], (c) => (c.hostname = 'box1'));
    const r = tsv(['run', '--bundle', b, 'uname']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${SANDBOX_RELEASE}\nbox1\n`);
  });

  it('kill delivers a signal the container traps; list and ps see it while it runs', async () => {
    const b = bundle('trap', ['/bin/sh', '-c', 'trap "exit 3" TERM; echo ready; while :; do sleep 0.05; done']);
    const pidFile = path.join(b, 'pid');
    expect(create(['--bundle', b, '--pid-file', pidFile, 'trap'], path.join(b, 'out')).status).toBe(0);
    expect(tsv(['start', 'trap']).status).toBe(0);
    expect(state('trap').status).toBe('running');
    const list = JSON.parse(tsv(['list', '--format', 'json']).stdout) as { id: string; status: string }[];
    expect(list.map((c) => [c.id, c.status])).toEqual([['trap', 'running']]);
    const ps = tsv(['ps', '--format', 'json', 'trap']);
    expect(ps.status, ps.stderr).toBe(0);
    const pids = JSON.parse(ps.stdout) as number[];
    expect(pids.length).toBeGreaterThanOrEqual(1);
    // Host pids of processes in the container's pid namespace; the loop's
    // short-lived sleeps may be gone already, the shell is not.
    const statuses = pids.map((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/status`, 'utf8');
      } catch {
        return null;
      }
    });
    expect(statuses.filter((s) => s !== null).length).toBeGreaterThanOrEqual(1);
    for (const s of statuses) if (s !== null) expect(s).toMatch(/NSpid:\s+\d+\s+\d+/);

    const notStopped = tsv(['delete', 'trap']);
    expect(notStopped.status).toBe(1);
    expect(notStopped.stderr).toContain('not stopped: running');

    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(tsv(['kill', 'trap', 'TERM']).status).toBe(0);
    await until('the container to stop', () => !alive(pid));
    for (const p of pids) expect(alive(p)).toBe(false);
    expect(state('trap').status).toBe('stopped');
    const again = tsv(['kill', 'trap', '9']);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('container not running');
    expect(tsv(['delete', 'trap']).status).toBe(0);
  });

  it('delete --force kills a running container and leaves no process or state behind', async () => {
    const b = bundle('force', ['/bin/sh', '-c', 'sleep 1000 & sleep 1000 & wait']);
    const pidFile = path.join(b, 'pid');
    expect(create(['--bundle', b, '--pid-file', pidFile, 'force'], path.join(b, 'out')).status).toBe(0);
    expect(tsv(['start', 'force']).status).toBe(0);
    await until('three processes', () => (JSON.parse(tsv(['ps', '--format', 'json', 'force']).stdout) as number[]).length === 3);
    const pids = JSON.parse(tsv(['ps', '--format', 'json', 'force']).stdout) as number[];
    const r = tsv(['delete', '--force', 'force']);
    expect(r.status, r.stderr).toBe(0);
    await until('the container processes to die', () => pids.every((p) => !alive(p)));
    expect(alive(Number(fs.readFileSync(pidFile, 'utf8')))).toBe(false);
    expect(fs.existsSync(path.join(stateRoot, 'force'))).toBe(false);
    // Like runc: forcing the deletion of a container that does not exist succeeds.
    expect(tsv(['delete', '--force', 'force']).status).toBe(0);
  });

  // bin/tsvisor answers `delete --force` of a missing container without
  // starting Node; every case must come out as the Node command's and runc's.
  it('delete of a missing, leftover or invalid container answers alike from the shell and from Node, and as runc does', () => {
    fs.mkdirSync(path.join(stateRoot, 'leftover'), { recursive: true });
    const runcRoot = path.join(bundleBase, 'runc-state');
    fs.mkdirSync(path.join(runcRoot, 'leftover'), { recursive: true });
    const cases = [['--force', 'missing'], ['-f', 'missing'], ['missing'], ['--force', 'leftover'], ['--force', '..'], ['--force', 'a/b'], ['--force', 'x'.repeat(1025)]];
    for (const args of cases) {
      const shell = tsv(['delete', ...args]);
      const node = tsvNode(['delete', ...args]);
      const runc = spawnSync('runc', ['--root', runcRoot, 'delete', ...args], { encoding: 'utf8' });
      expect({ args, status: shell.status, stdout: shell.stdout, stderr: shell.stderr }).toEqual({ args, status: node.status, stdout: node.stdout, stderr: node.stderr });
      expect({ args, ok: shell.status === 0 }).toEqual({ args, ok: runc.status === 0 });
    }
    expect(fs.existsSync(path.join(stateRoot, 'leftover'))).toBe(false);
  });

  // bin/tsvisor deletes a stopped container itself when its sandbox process
  // left direct-delete (no poststop hooks): the same answer as the Node
  // command's and runc's, and nothing left behind, cgroups included.
  it('delete of a stopped container answers alike from the shell, from Node and from runc, and leaves no state or cgroup', async () => {
    const runcRoot = path.join(bundleBase, 'runc-state');
    // The shell path alone: tools bin/tsvisor may use, and a `node` that only says it was run.
    const noNode = path.join(bundleBase, 'no-node');
    fs.mkdirSync(noNode, { recursive: true });
    for (const tool of ['flock', 'rmdir', 'mv', 'rm']) fs.symlinkSync(`/usr/bin/${tool}`, path.join(noNode, tool));
    fs.writeFileSync(path.join(noNode, 'node'), '#!/bin/sh\necho "node was run" >&2\nexit 99\n', { mode: 0o755 });
    const cli = (rt: 'shell' | 'shell-only' | 'node' | 'runc', args: string[]) => {
      const [cmd, argv] = rt === 'node' ? nodeArgv(args) : rt === 'runc' ? ['runc', ['--root', runcRoot, ...args]] : [TSVISOR, ['--root', stateRoot, ...args]];
      const env = rt === 'shell-only' ? { PATH: noNode } : process.env;
      const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 60000, env, stdio: args[0] === 'create' ? 'ignore' : ['ignore', 'pipe', 'pipe'] });
      return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    };
    const cgroupDirs = (id: string) =>
      spawnSync('find', ['/sys/fs/cgroup', '-maxdepth', '6', '-type', 'd', '-name', id], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).sort();
    /** Creates and starts container `id` under `rt`, waits until it has stopped; returns its cgroup directories. */
    const stopped = async (rt: 'tsvisor' | 'runc', id: string, script: string) => {
      const via = rt === 'runc' ? 'runc' : 'shell';
      const b = bundle(`del-${id}`, ['/bin/sh', '-c', script]);
      expect(cli(via, ['create', '--bundle', b, id]).status).toBe(0);
      expect(cli(via, ['start', id]).status).toBe(0);
      await until(`${id} to stop`, () => /"status":\s*"stopped"/.test(cli(via, ['state', id]).stdout));
      const dirs = cgroupDirs(id);
      expect(dirs.length, id).toBeGreaterThan(0);
      return dirs;
    };
    const answers: Record<string, unknown> = {};
    for (const [rt, id] of [['shell-only', 'del-shell'], ['node', 'del-node'], ['runc', 'del-runc']] as const) {
      await stopped(rt === 'runc' ? 'runc' : 'tsvisor', id, 'exit 3');
      if (rt !== 'runc') expect(fs.existsSync(path.join(stateRoot, id, 'direct-delete'))).toBe(true);
      answers[rt] = cli(rt, ['delete', id]);
      expect(cgroupDirs(id), rt).toEqual([]);
      expect(cli(rt === 'runc' ? 'runc' : 'node', ['state', id]).status, rt).toBe(1);
    }
    expect(answers['shell-only']).toEqual({ status: 0, stdout: '', stderr: '' });
    expect(answers.node).toEqual(answers['shell-only']);
    expect(answers.runc).toEqual(answers['shell-only']);
    expect(fs.readdirSync(stateRoot).filter((n) => n.startsWith('del-') || n.startsWith('#'))).toEqual([]);

    // A cgroup still in use (a host process moved into it after the
    // container stopped): the shell leaves the delete to Node, which waits
    // for the cgroup to empty, as it does for a sandbox process still leaving.
    const dirs = await stopped('tsvisor', 'del-busy', 'exit 0');
    const squatter = spawn('sleep', ['0.5'], { stdio: 'ignore' });
    const pidsDir = dirs.find((d) => d.includes('/pids/'))!;
    fs.writeFileSync(path.join(pidsDir, 'cgroup.procs'), String(squatter.pid));
    expect(cli('shell-only', ['delete', 'del-busy'])).toEqual({ status: 99, stdout: '', stderr: 'node was run\n' });
    expect(cli('shell', ['delete', 'del-busy'])).toEqual({ status: 0, stdout: '', stderr: '' });
    expect(cgroupDirs('del-busy')).toEqual([]);
    expect(fs.existsSync(path.join(stateRoot, 'del-busy'))).toBe(false);

    // The lock file gone (a racing delete renames the directory away): no
    // word from the shell, only the Node command's answer.
    await stopped('tsvisor', 'del-lockless', 'exit 0');
    fs.rmSync(path.join(stateRoot, 'del-lockless', 'lock'));
    expect(cli('shell', ['delete', 'del-lockless'])).toEqual({ status: 0, stdout: '', stderr: '' });
    expect(cgroupDirs('del-lockless')).toEqual([]);

    // A poststop hook is Node's to run: no direct-delete.
    const hookLog = path.join(bundleBase, 'del-hook.log');
    const hb = bundle('del-hooked', ['/bin/true'], (c) => (c.hooks = { poststop: [{ path: '/bin/sh', args: ['sh', '-c', `echo ran >> ${hookLog}`] }] }));
    expect(cli('shell', ['create', '--bundle', hb, 'del-hooked']).status).toBe(0);
    expect(cli('shell', ['start', 'del-hooked']).status).toBe(0);
    await until('del-hooked to stop', () => /"status":\s*"stopped"/.test(cli('shell', ['state', 'del-hooked']).stdout));
    expect(fs.existsSync(path.join(stateRoot, 'del-hooked', 'direct-delete'))).toBe(false);
    expect(cli('shell', ['delete', 'del-hooked'])).toEqual({ status: 0, stdout: '', stderr: '' });
    expect(fs.readFileSync(hookLog, 'utf8')).toBe('ran\n');
    expect(cgroupDirs('del-hooked')).toEqual([]);
  });

  // bin/tsvisor starts a container through tsvisor-control when create left
  // direct-start; every other answer must be the Node command's.
  it('start answers alike from the shell and from Node, and starts a container only once', async () => {
    const sameAnswer = (args: string[]) => {
      const shell = tsv(args);
      const direct = tsvNode(args);
      expect({ args, status: shell.status, stderr: shell.stderr }).toEqual({ args, status: direct.status, stderr: direct.stderr });
      return shell;
    };
    const b = bundle('start-once', ['/bin/sh', '-c', 'echo started; sleep 30']);
    const out = path.join(bundleBase, 'start-once.out');
    expect(create(['--bundle', b, 'once'], out).status).toBe(0);
    expect(fs.existsSync(path.join(stateRoot, 'once', 'direct-start'))).toBe(true);
    // Flags Node refuses are refused before anything starts.
    expect(sameAnswer(['--bogus', 'start', 'once']).status).not.toBe(0);
    expect(sameAnswer(['--log-format', 'xml', 'start', 'once']).status).not.toBe(0);
    expect(state('once').status).toBe('created');
    // Four starts at once, two through the shell and two through Node: one wins.
    const shellArgv: [string, string[]] = [TSVISOR, ['--root', stateRoot, 'start', 'once']];
    const racers = [shellArgv, shellArgv, nodeArgv(['start', 'once']), nodeArgv(['start', 'once'])].map(
      ([cmd, args]) => new Promise<number | null>((resolve) => spawn(cmd, args, { stdio: 'ignore' }).on('close', resolve)),
    );
    expect((await Promise.all(racers)).filter((s) => s === 0)).toHaveLength(1);
    expect(state('once').status).toBe('running');
    await until('the container process writing', () => fs.readFileSync(out, 'utf8') === 'started\n');
    expect(sameAnswer(['start', 'once']).stderr).toMatch(/cannot start a container that is running/);
    expect(tsv(['delete', '--force', 'once']).status).toBe(0);
    for (const id of ['once', 'never-made', '..', 'a/b']) expect(sameAnswer(['start', id]).status).not.toBe(0);
  });
});

describe('OCI coverage (--coverage-dir)', () => {
  it('create and start with --coverage-dir DIR (two arguments, as bin/tsvisor must parse them): DIR/ID.json once the container ends', async () => {
    const b = bundle('cov', ['/bin/sh', '-c', '/bin/echo hi; exit 5']);
    const dir = path.join(bundleBase, 'coverage', 'made-if-missing');
    const pidFile = path.join(b, 'init.pid');
    const fd = fs.openSync(path.join(b, 'out'), 'w');
    const created = spawnSync(TSVISOR, ['--root', stateRoot, '--coverage-dir', dir, 'create', '--bundle', b, '--pid-file', pidFile, 'cov'], { stdio: ['ignore', fd, fd], timeout: 60000 });
    fs.closeSync(fd);
    expect(created.status, fs.readFileSync(path.join(b, 'out'), 'utf8')).toBe(0);
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(tsv(['--coverage-dir', dir, 'start', 'cov']).status).toBe(0);
    await until('the container to stop', () => !alive(pid));
    expect(fs.readFileSync(path.join(b, 'out'), 'utf8')).toBe('hi\n');
    expect(fs.readdirSync(dir)).toEqual(['cov.json']);
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'cov.json'), 'utf8'));
    expect(report).toMatchObject({ command: ['/bin/sh', '-c', '/bin/echo hi; exit 5'], exitStatus: 5, truncated: false });
    const calls = Object.fromEntries(report.syscalls.map((s: { name: string; calls: number; errors: number }) => [s.name, [s.calls, s.errors]]));
    expect([calls.execve, calls.clone, calls.write, calls.exit_group]).toEqual([[1, 0], [1, 0], [1, 0], [2, 0]]);
    expect(tsv(['delete', 'cov']).status).toBe(0);
  });

  it('two containers at once: each report has its own calls only', async () => {
    const dir = path.join(bundleBase, 'coverage-two');
    // Both sleep first, so their runs overlap; the counts do not depend on it.
    const scripts = { echo: '/bin/sleep 1; /bin/echo a', cat: '/bin/sleep 1; /bin/cat /etc/passwd; /bin/cat /etc/passwd' };
    const runs = Object.entries(scripts).map(([id, script]) => {
      const b = bundle(`cov-${id}`, ['/bin/sh', '-c', script]);
      const child = spawn(TSVISOR, ['--root', stateRoot, '--coverage-dir', dir, 'run', '--bundle', b, `cov-${id}`], { stdio: 'ignore' });
      return new Promise<number | null>((resolve) => child.on('exit', resolve));
    });
    expect(await Promise.all(runs)).toEqual([0, 0]);
    const calls = (id: string) => {
      const r = JSON.parse(fs.readFileSync(path.join(dir, `cov-${id}.json`), 'utf8'));
      return Object.fromEntries(r.syscalls.map((x: { name: string; calls: number }) => [x.name, x.calls]));
    };
    const [echo, cat] = [calls('echo'), calls('cat')];
    // busybox sh forks for all but its last command, which it execs itself.
    expect([echo.execve, echo.clone, echo.write, echo.sendfile]).toEqual([2, 1, 1, undefined]);
    // busybox cat: sendfile until it returns 0, twice.
    expect([cat.execve, cat.clone, cat.write, cat.sendfile]).toEqual([3, 2, undefined, 4]);
  });

  it('a link planted where the report goes is replaced, never written through', () => {
    const dir = path.join(bundleBase, 'coverage-link');
    fs.mkdirSync(dir, { mode: 0o1777 });
    const victim = path.join(bundleBase, 'victim');
    fs.writeFileSync(victim, 'untouched\n');
    fs.symlinkSync(victim, path.join(dir, 'covlink.json'));
    const r = tsv(['--coverage-dir', dir, 'run', '--bundle', bundle('covlink', ['/bin/true']), 'covlink']);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readFileSync(victim, 'utf8')).toBe('untouched\n');
    expect(fs.lstatSync(path.join(dir, 'covlink.json')).isFile()).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'covlink.json'), 'utf8')).command).toEqual(['/bin/true']);
  });

  it('--strace with --coverage-dir: every call of the container, passthrough ones with decoded arguments, in the debug log', async () => {
    const dir = path.join(bundleBase, 'coverage-strace');
    const b = bundle('covstrace', ['/bin/sh', '-c', 'echo traced-out; cat /etc/nonexistent']);
    const debugLog = path.join(b, 'debug.log');
    const pidFile = path.join(b, 'init.pid');
    const [out, err] = [path.join(b, 'out'), path.join(b, 'err')];
    const fds = [fs.openSync(out, 'w'), fs.openSync(err, 'w')];
    const created = spawnSync(TSVISOR, ['--root', stateRoot, '--coverage-dir', dir, '--strace', '--debug-log', debugLog, 'create', '--bundle', b, '--pid-file', pidFile, 'covstrace'], {
      stdio: ['ignore', ...fds], timeout: 60000,
    });
    fds.forEach((fd) => fs.closeSync(fd));
    expect(created.status, fs.readFileSync(err, 'utf8')).toBe(0);
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(tsv(['--coverage-dir', dir, '--strace', '--debug-log', debugLog, 'start', 'covstrace']).status).toBe(0);
    await until('the container to stop', () => !alive(pid));
    await until('the coverage report', () => fs.existsSync(path.join(dir, 'covstrace.json')));
    expect(fs.readFileSync(out, 'utf8')).toBe('traced-out\n');
    const log = fs.readFileSync(debugLog, 'utf8');
    // write is a passthrough call: the Sentry never sees it, the records do.
    expect(log).toMatch(/\[ *1: *1\] write\(1, "traced-out\\n", 11\) = 11/);
    expect(log).toMatch(/openat\(AT_FDCWD, "\/etc\/nonexistent", O_RDONLY[^)]*\) = -1 ENOENT/);
    // One line per call, never the Sentry's entry/exit pairs as well.
    expect(log.match(/write\(1, "traced-out/g)).toHaveLength(1);
    expect(tsv(['delete', 'covstrace']).status).toBe(0);

    // --strace-syscalls: only those calls are shown.
    const only = bundle('covstrace-only', ['/bin/sh', '-c', 'echo filtered; cat /etc/nonexistent']);
    const onlyLog = path.join(only, 'debug.log');
    const r = tsv(['--coverage-dir', dir, '--strace', '--strace-syscalls', 'openat', '--debug-log', onlyLog, 'run', '--bundle', only, 'covstrace-only']);
    expect(r.status, r.stderr).toBe(1);
    const lines = fs.readFileSync(onlyLog, 'utf8').split('\n').filter((l) => /\[ *\d+: *\d+\] \w+\(/.test(l));
    expect(lines.some((l) => /openat\(AT_FDCWD, "\/etc\/nonexistent"/.test(l))).toBe(true);
    expect(lines.filter((l) => !/\] openat\(/.test(l))).toEqual([]);
  });

  it('--coverage-dir naming a file: create fails with a one-line error and leaves no state', () => {
    const b = bundle('covbad', ['/bin/true']);
    const file = path.join(b, 'config.json');
    const r = tsv(['--coverage-dir', file, 'create', '--bundle', b, 'covbad']);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 1, stderr: `tsvisor: --coverage-dir ${file}: not a directory\n` });
    expect(fs.existsSync(path.join(stateRoot, 'covbad'))).toBe(false);
  });
});

describe('OCI exec', () => {
  it('runs a process in the container namespaces, with its own status, stdio, user and cwd', async () => {
    const b = bundle('ex', ['/bin/sh', '-c', 'echo $$ > /tmp/init.pid; while :; do sleep 0.05; done'], (c) => (c.root.readonly = false));
    const rootCopy = path.join(bundleBase, 'ex-root');
    fs.cpSync(rootfs, rootCopy, { recursive: true, verbatimSymlinks: true });
    fs.chmodSync(rootCopy, 0o755); // a temp dir is 0700: uid 1000 could not enter the root
    const config = JSON.parse(fs.readFileSync(path.join(b, 'config.json'), 'utf8'));
    config.root.path = rootCopy;
    fs.writeFileSync(path.join(b, 'config.json'), JSON.stringify(config));
    expect(create(['--bundle', b, 'ex'], path.join(b, 'out')).status).toBe(0);
    expect(tsv(['start', 'ex']).status).toBe(0);
    await until('init to run', () => fs.existsSync(path.join(rootCopy, 'tmp/init.pid')));

    // Same pid namespace as init (it sees init as pid 1), same file system.
    const r = tsv(['exec', '--user', '1000:1000', '--cwd', '/tmp', '--env', 'X=y', 'ex', '/bin/sh', '-c', 'cat init.pid; id -u; pwd; echo $X; read l; echo "in: $l"; exit 5'], 'line\n');
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 5, stdout: '1\n1000\n/tmp\ny\nin: line\n', stderr: '' });

    // --process, as containerd's shim and conmon call it, and --detach with a pid file.
    const proc = { ...config.process, args: ['/bin/sh', '-c', 'sleep 0.3; exit 4'], terminal: false };
    const procFile = path.join(b, 'process.json');
    fs.writeFileSync(procFile, JSON.stringify(proc));
    const pidFile = path.join(b, 'exec.pid');
    const d = tsv(['exec', '--process', procFile, '--detach', '--pid-file', pidFile, 'ex']);
    expect(d.status, d.stderr).toBe(0);
    const waiter = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(alive(waiter)).toBe(true);
    await until('the detached exec to end', () => !alive(waiter));

    // As runc exec: status 255 and why.
    const bad = tsv(['exec', 'ex', '/bin/nonexistent']);
    expect(bad.status).toBe(255);
    expect(bad.stderr).toContain('exec failed: unable to start container process: exec: "/bin/nonexistent": stat /bin/nonexistent: no such file or directory');
    expect(tsv(['delete', '--force', 'ex']).status).toBe(0);
  });
});

describe('OCI errors reach the client', () => {
  it('an unknown container: a clear message on stderr and a JSON error line in --log', () => {
    const log = path.join(bundleBase, 'unknown.log');
    const r = tsv(['--log', log, '--log-format', 'json', 'start', 'nosuch']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('tsvisor: container "nosuch" does not exist\n');
    const last = JSON.parse(fs.readFileSync(log, 'utf8').trim().split('\n').pop()!);
    expect(last).toMatchObject({ level: 'error', msg: 'container "nosuch" does not exist' });
  });

  it('a malformed config.json is refused at create and leaves no state', () => {
    const dir = path.join(bundleBase, 'bad');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'config.json'), '{"ociVersion": "1.0.2", "process": ');
    const r = tsv(['create', '--bundle', dir, 'bad']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^tsvisor: config\.json: not valid JSON/);
    expect(fs.existsSync(path.join(stateRoot, 'bad'))).toBe(false);
  });

  it('an unknown flag is named', () => {
    const r = tsv(['create', '--bundel', '/x', 'id']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^tsvisor: unknown flag: --bundel\nusage: tsvisor \[global flags\] create /);
  });

  it('an invalid container id is refused', () => {
    const b = bundle('badid', ['/bin/true']);
    const r = tsv(['create', '--bundle', b, '../escape']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('invalid container id');
  });

  it('a second container with the same id is refused', async () => {
    const b = bundle('dup', ['/bin/sh', '-c', 'sleep 1000']);
    expect(create(['--bundle', b, 'dup'], path.join(b, 'out1')).status).toBe(0);
    const r = create(['--bundle', b, 'dup'], path.join(b, 'out2'));
    expect(r.status).toBe(1);
    expect(r.output).toBe('tsvisor: container "dup" already exists\n');
    expect(tsv(['delete', '--force', 'dup']).status).toBe(0);
  });

  it('checkpoint and restore say they are not supported', () => {
    for (const cmd of ['checkpoint', 'restore']) {
      const r = tsv([cmd, 'x']);
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(`tsvisor: ${cmd} is not supported by tsvisor\n`);
    }
  });

  it('spec refuses to overwrite config.json', () => {
    const dir = path.join(bundleBase, 'spec2');
    fs.mkdirSync(dir);
    expect(tsv(['spec', '--bundle', dir]).status).toBe(0);
    const r = tsv(['spec', '--bundle', dir]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('config.json exists');
  });
});

describe('OCI concurrency', () => {
  it('20 containers created, started and deleted in parallel leave no process or state behind', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `par${i}`);
    const b = bundle('par', ['/bin/sh', '-c', 'echo started; sleep 1000']);
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        // stdio to a file: containers keep the stdio create gave them.
        const log = path.join(bundleBase, `par-${args[0]}-${args[args.length - 1]}.log`);
        const fd = fs.openSync(log, 'w');
        const p = spawn(TSVISOR, ['--root', stateRoot, ...args], { stdio: ['ignore', fd, fd] });
        fs.closeSync(fd);
        p.on('exit', (code) => resolve({ code, stderr: fs.readFileSync(log, 'utf8') }));
      });
    const pidFile = (id: string) => path.join(bundleBase, `${id}.pid`);
    const created = await Promise.all(ids.map((id) => run(['create', '--bundle', b, '--pid-file', pidFile(id), id])));
    expect(created.filter((r) => r.code !== 0)).toEqual([]);
    const started = await Promise.all(ids.map((id) => run(['start', id])));
    expect(started.filter((r) => r.code !== 0)).toEqual([]);
    const sandboxPids = ids.map((id) => Number(fs.readFileSync(pidFile(id), 'utf8')));
    const deleted = await Promise.all(ids.map((id) => run(['delete', '--force', id])));
    expect(deleted.filter((r) => r.code !== 0)).toEqual([]);
    await until('every sandbox process to end', () => sandboxPids.every((p) => !alive(p)), 20000);
    expect(fs.readdirSync(stateRoot).filter((e) => !e.startsWith('.'))).toEqual([]);
  }, 120000);
});
