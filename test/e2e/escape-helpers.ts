// Helpers for the escape suite (escape.test.ts): building test/programs/escape.c,
// preparing host files and sandbox roots, host-side helper processes (signal
// canaries, unix-socket servers), asynchronous sandbox runs, and checks of the
// host's state before and after a run.
import { type ChildProcess, type SpawnOptions, execFileSync, spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { REPO, type Run, TSVISOR } from './harness.js';
import { GOFER_ENTRY } from '../../src/paths.js';

export const ENV = { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: '/root', LANG: 'C', LC_ALL: 'C' };

/** The host uid/gid the sandbox's root maps to without a user namespace in the spec (src/sentry/idmap.ts TSVISOR_IDS). */
export const GUEST_HOST_ID = 1_000_000_000;

export const rand = (): string => crypto.randomBytes(6).toString('hex');

/**
 * A fresh directory under /var/tmp: on the host's root file system (not /tmp),
 * so it is part of the default sandbox's view of the host root.
 */
export function varTmpDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join('/var/tmp', `tsvisor-${prefix}-`));
  fs.chmodSync(d, 0o755);
  return d;
}

/** gcc -O2 -static -pthread test/programs/escape.c -o DIR/escape */
export function compileEscape(dir: string): string {
  const out = path.join(dir, 'escape');
  execFileSync('gcc', ['-O2', '-static', '-pthread', '-Wall', '-o', out, path.join(REPO, 'test/programs/escape.c')], {
    stdio: 'pipe',
  });
  fs.chmodSync(out, 0o755);
  return out;
}

// ---------------------------------------------------------------- results

/** The checks each escape subcommand prints, by subcommand (escape.test.ts, rootless.test.ts). */
export const NAMES: Record<string, string[]> = {
  dotdot: [
    'dotdot-open-dir',
    'dotdot-open-file',
    'dotdot-openat-dirfd',
    'dotdot-chdir',
    'dotdot-deep',
    'dotdot-openat2',
    'dotdot-stat',
    'dotdot-nondumpable',
  ],
  symlink: [
    'symlink-abs-hostname',
    'symlink-abs-marker',
    'symlink-rel-many',
    'symlink-to-root',
    'symlink-rel-dir',
    'symlink-chain',
    'symlink-openat2',
  ],
  symlinkops: ['symlinkops-abs-dir', 'symlinkops-rel-dir', 'symlinkops-file-links'],
  race: ['race-symlink-swap'],
  procroot: ['procroot-readlink', 'procroot-open', 'procroot-dotdot', 'procroot-cwd', 'procroot-fd', 'procroot-exe', 'procroot-task'],
  dirfds: ['dirfds-inherited', 'dirfds-dotdot', 'dirfds-shadow', 'dirfds-hostname', 'dirfds-moved-dir'],
  privileged: [
    'mount',
    'umount2',
    'pivot_root',
    'unshare',
    'setns',
    'clone-namespaces',
    'ptrace',
    'bpf',
    'keyctl',
    'kexec_load',
    'init_module',
    'perf_event_open',
    'iopl',
    'open_by_handle_at',
    'io_uring',
    'userfaultfd',
    'fanotify',
    'seccomp-listener',
    'reboot',
    'clock-set',
    'syslog',
    'misc-admin',
    'sethostname-local',
  ],
  chroot: ['chroot-cwd-outside', 'chroot-fchdir', 'chroot-confines'],
  int80: ['int80-getpid', 'int80-ptrace', 'int80-unshare'],
  x32: ['x32-getpid', 'x32-mount', 'x32-rt_sigaction-512', 'x32-unshare'],
  signals: [
    'signals-pid-namespace',
    'signals-pgrp-inside',
    'signals-kill-minus1',
    'signals-kill-0',
    'signals-proc-lists-sandbox-only',
  ],
  procsys: ['proc-self-mem', 'proc-kcore', 'proc-sys-write', 'sys-write', 'proc-hostpath-leak'],
  tiocsti: ['tiocsti-fd0', 'tiocsti-own-pty'],
  devices: ['dev-open-host-devices', 'dev-mknod'],
  unixsock: ['unix-connect-host-path', 'unix-sendto-host-path', 'unix-abstract', 'unix-bind-host-path'],
  overlaywrite: ['overlay-create', 'overlay-modify-host-file', 'overlay-fd-ops-host-file', 'overlay-unix-bind'],
  linkrename: ['link-host-file', 'rename-host-file'],
  forgedexec: ['forged-exec-marker'],
  execswap: ['exec-path-swap', 'exec-fd-swap', 'exec-interp-swap', 'exec-memfd-interp'],
  execonly: ['exec-only-fd'],
  heldswap: ['heldswap-fd', 'heldswap-map', 'heldswap-pipe'],
  pidreuse: ['pidreuse-mem', 'pidreuse-environ', 'pidreuse-thread-mem'],
  sendreuse: ['sendreuse-memory'],
  'sendreuse-mmsg': ['sendreuse-mmsg'],
  fdnameswap: ['fdnameswap-tmpfile', 'fdnameswap-dir', 'fdnameswap-opath'],
  suid: ['setuid-host-binary'],
  magiclink: ['magic-failed-exec-fds'],
  untraced: ['untraced-clone'],
  stdio: ['stdio-stdin-reopen', 'stdio-stdin-reopen-child', 'stdio-stdout-append', 'stdio-names'],
  names: ['stdio-names'],
  stdiofifo: ['stdio-fifo-reopen'],
  hostfdswap: ['hostfd-swap-exec'],
  blockedcalls: ['blocked-connects', 'blocked-sends'],
};


export interface Verdict {
  /** every line that is not "OK ..." or "END ..." */
  bad: string[];
  /** expected check names that printed no line */
  missing: string[];
  ended: boolean;
  status: number | null;
  signal: string | null;
}

/** Reads escape's output: OK/ESCAPED/WRONG/ERROR lines and the END line. */
export function verdict(r: { stdout: string; status: number | null; signal: string | null }, cmd: string, expected: string[]): Verdict {
  const lines = r.stdout.replace(/\r/g, '').split('\n').filter((l) => l.length > 0);
  const bad = lines.filter((l) => !l.startsWith('OK ') && !l.startsWith('END '));
  const seen = new Set<string>();
  for (const l of lines) {
    const m = /^(OK|ESCAPED|WRONG|ERROR) ([^\s:]+)/.exec(l);
    if (m) seen.add(m[2]!);
  }
  return {
    bad,
    missing: expected.filter((n) => !seen.has(n)),
    ended: lines.includes(`END ${cmd}`),
    status: r.status,
    signal: r.signal,
  };
}

export const CLEAN: Verdict = { bad: [], missing: [], ended: true, status: 0, signal: null };

// ------------------------------------------------------ host snapshots

/** Listing of a host tree with metadata, ctime, xattrs, inode flags and content digests. */
export function hostSnapshot(escapeBin: string, dir: string): string[] {
  const out = execFileSync(escapeBin, ['snapshot', dir], { encoding: 'latin1', maxBuffer: 64 << 20 });
  return out.split('\n').filter(Boolean);
}

function readOr(p: string, dflt: string): string {
  try {
    return fs.readFileSync(p, 'latin1');
  } catch {
    return dflt;
  }
}

function exists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Host settings an escaped write could change (see escape.c procsys/privileged). */
export function hostSystemState(): Record<string, string | boolean> {
  return {
    hostname: readOr('/proc/sys/kernel/hostname', '?'),
    domainname: readOr('/proc/sys/kernel/domainname', '?'),
    core_pattern: readOr('/proc/sys/kernel/core_pattern', '?'),
    modprobe: readOr('/proc/sys/kernel/modprobe', '?'),
    randomize_va_space: readOr('/proc/sys/kernel/randomize_va_space', '?'),
    uevent_helper: readOr('/sys/kernel/uevent_helper', '(absent)'),
    thp: readOr('/sys/kernel/mm/transparent_hugepage/enabled', '(absent)'),
    binfmt_entry: exists('/proc/sys/fs/binfmt_misc/tsvisor-escape'),
    sys_file: exists('/sys/tsvisor-escape'),
    cgroup_dir: exists('/sys/fs/cgroup/tsvisor-escape'),
    release_agent: readOr('/sys/fs/cgroup/release_agent', '(absent)'),
  };
}

/** Puts back what an escaped write changed, so that a failing run leaves the machine as it was. */
export function restoreHostSystemState(before: Record<string, string | boolean>): void {
  const now = hostSystemState();
  const put = (p: string, v: string) => {
    try {
      fs.writeFileSync(p, v);
    } catch {
      /* best effort */
    }
  };
  if (now.hostname !== before.hostname) put('/proc/sys/kernel/hostname', String(before.hostname).trim());
  if (now.domainname !== before.domainname) put('/proc/sys/kernel/domainname', String(before.domainname).trim());
  if (now.core_pattern !== before.core_pattern) put('/proc/sys/kernel/core_pattern', String(before.core_pattern).trim());
  if (now.modprobe !== before.modprobe) put('/proc/sys/kernel/modprobe', String(before.modprobe).trim());
  if (now.randomize_va_space !== before.randomize_va_space)
    put('/proc/sys/kernel/randomize_va_space', String(before.randomize_va_space).trim());
  if (now.uevent_helper !== before.uevent_helper) put('/sys/kernel/uevent_helper', String(before.uevent_helper).trim());
  if (now.binfmt_entry && !before.binfmt_entry) put('/proc/sys/fs/binfmt_misc/tsvisor-escape', '-1');
  if (now.cgroup_dir && !before.cgroup_dir) {
    try {
      fs.rmdirSync('/sys/fs/cgroup/tsvisor-escape');
    } catch {
      /* best effort */
    }
  }
}

// ------------------------------------------------- host helper processes

/** A host process of the test (canary, socket server) that prints "READY ..." then logs what it receives. */
export class HostHelper {
  readonly child: ChildProcess;
  out = '';

  constructor(argv: string[], opts: SpawnOptions = {}) {
    this.child = spawn(argv[0]!, argv.slice(1), { cwd: '/', env: ENV, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.child.stdout!.setEncoding('latin1');
    this.child.stdout!.on('data', (s: string) => {
      this.out += s;
    });
    this.child.stderr!.setEncoding('latin1');
    this.child.stderr!.on('data', (s: string) => {
      this.out += s;
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  async ready(ms = 5000): Promise<void> {
    await waitFor(() => this.out.includes('READY'), ms, `host helper ${this.child.spawnargs.join(' ')} did not start: ${this.out}`);
  }

  /** Lines after READY: what the helper received. */
  async received(): Promise<string[]> {
    await sleep(300); // let late deliveries and the pipe reach us
    return this.out
      .split('\n')
      .filter((l) => l && !l.startsWith('READY'));
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(20);
  }
}

// ------------------------------------------------ asynchronous sandbox runs

/** `tsvisor do [flags] -- argv` started asynchronously, stdin a pipe the test writes to. */
export class SandboxRun {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly done: Promise<Run>;

  /** `as`: run tsvisor as this user instead of the test's own (rootless.test.ts) */
  constructor(argv: string[], doFlags: string[] = [], as?: { uid: number; gid: number; env: NodeJS.ProcessEnv }) {
    const flags = [...doFlags];
    if (!flags.some((f) => f.startsWith('--cwd'))) flags.push('--cwd', '/');
    this.child = spawn(TSVISOR, ['do', ...flags, '--', ...argv], { cwd: '/', env: as?.env ?? ENV, stdio: ['pipe', 'pipe', 'pipe'], ...(as ? { uid: as.uid, gid: as.gid } : {}) });
    this.child.stdout!.setEncoding('latin1');
    this.child.stderr!.setEncoding('latin1');
    this.child.stdout!.on('data', (s: string) => {
      this.stdout += s;
    });
    this.child.stderr!.on('data', (s: string) => {
      this.stderr += s;
    });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 60000);
    this.done = new Promise((resolve, reject) => {
      this.child.on('error', reject);
      this.child.on('close', (status, signal) => {
        clearTimeout(timer);
        resolve({ stdout: this.stdout, stderr: this.stderr, status, signal });
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }
}

/** The host pids of a run's Gofer and of its guest running `escape signals`, once both exist. */
export async function goferAndSignalsGuest(run: SandboxRun): Promise<{ gofer: number; guest: number }> {
  let gofer: number | undefined;
  let guest: number | undefined;
  await waitFor(
    () => {
      const ch = childrenOf(run.pid);
      gofer = ch.find((c) => c.cmd.includes(GOFER_ENTRY))?.pid;
      guest = ch.find((c) => c.cmd.includes(' signals '))?.pid;
      return gofer !== undefined && guest !== undefined;
    },
    15000,
    `the Gofer and the guest of tsvisor pid ${run.pid}`,
  );
  return { gofer: gofer!, guest: guest! };
}

/**
 * Drives `escape pidreuse` in `run`: the guest holds O_PATH fds of its
 * child's /proc/PID/mem and environ and of a thread's /proc/self/task/TID/mem,
 * reaps the child and ends the thread, then host processes of `uid`/`gid`
 * with `secret` in their environment take the child's host pid and the
 * thread's host tid (ns_last_pid puts them there now: what a guest waiting
 * for the host's pids to wrap gets), then the guest reopens them. The run's
 * result.
 */
export async function pidReuse(run: SandboxRun, uid: number, gid: number, secret: string): Promise<Run> {
  const victims: ChildProcess[] = [];
  const sleeper = () => spawn('sleep', ['60'], { uid, gid, env: { ...ENV, SECRET: secret }, stdio: 'ignore' });
  try {
    await waitFor(() => run.stderr.includes('PIDREUSE-HELD'), 15000, "the guest to hold its child's /proc files");
    // tsvisor -> the sandbox's init -> escape -> its child: the last of the chain.
    let escape = 0;
    let child = childrenOf(run.pid).find((c) => c.cmd.includes(' pidreuse '))!.pid;
    for (let next = childrenOf(child)[0]; next; next = childrenOf(child)[0]) [escape, child] = [child, next.pid];
    const thread = Number(fs.readdirSync(`/proc/${escape}/task`).find((t) => Number(t) !== escape));
    run.child.stdin!.write('reap\n');
    await waitFor(() => run.stderr.includes('PIDREUSE-REAPED'), 15000, 'the guest to reap its child');
    victims.push(await landOn(child, sleeper));
    victims.push(await landOn(thread, sleeper));
    run.child.stdin!.end('open\n');
    return await run.done;
  } finally {
    for (const v of victims) v.kill('SIGKILL');
    run.child.kill('SIGKILL');
  }
}

/**
 * Drives `escape sendreuse` in `run`: once the guest's thread blocks in
 * sendmsg (or sendmmsg), the guest execs (ending the thread), `escape
 * holdsecret` (binary `bin`, as host root) takes the thread's host tid, and
 * the guest drains the socket. The run's result, and what that process
 * printed (CHANGED: its memory was written).
 */
export async function sendReuse(run: SandboxRun, bin: string, secret: string): Promise<Run & { victim: string }> {
  let victim: ChildProcess | undefined;
  let said = '';
  try {
    await waitFor(() => run.stderr.includes('SENDREUSE-BLOCKED'), 15000, "the guest's thread to block in sendmsg");
    let guest = childrenOf(run.pid).find((c) => c.cmd.includes(' sendreuse '))!.pid;
    for (let next = childrenOf(guest)[0]; next; next = childrenOf(guest)[0]) guest = next.pid;
    const thread = Number(fs.readdirSync(`/proc/${guest}/task`).find((t) => Number(t) !== guest));
    run.child.stdin!.write('exec\n');
    await waitFor(() => run.stderr.includes('SENDREUSE-EXECED'), 15000, 'the guest to exec');
    victim = await landOn(thread, () => spawn(bin, ['holdsecret', `secret=${secret}`], { env: ENV, stdio: ['ignore', 'pipe', 'ignore'] }));
    const started = victim;
    started.stdout!.setEncoding('latin1');
    await new Promise((r) => started.stdout!.once('data', r));
    started.stdout!.on('data', (d: string) => {
      said += d;
    });
    run.child.stdin!.end('drain\n');
    const r = await run.done;
    await sleep(100);
    return { ...r, victim: said };
  } finally {
    victim?.kill('SIGKILL');
    run.child.kill('SIGKILL');
  }
}

/**
 * A host process started by `start` at pid `pid` (ns_last_pid puts it there
 * now: what a guest waiting for the host's pids to wrap gets), or an error.
 */
async function landOn(pid: number, start: () => ChildProcess): Promise<ChildProcess> {
  await waitFor(() => !fs.existsSync(`/proc/${pid}`), 5000, `pid ${pid} to be free`);
  for (let i = 0; i < 50; i++) {
    fs.writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1));
    const p = start();
    if (p.pid === pid) return p;
    p.kill('SIGKILL');
    await new Promise((r) => p.once('exit', r));
  }
  throw new Error(`no host process landed on pid ${pid}`);
}

/** Direct children of a host pid, with their command lines. */
export function childrenOf(pid: number): { pid: number; cmd: string }[] {
  const r = spawnSync('pgrep', ['-a', '-P', String(pid)], { encoding: 'latin1' });
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const sp = l.indexOf(' ');
      return { pid: Number(l.slice(0, sp)), cmd: l.slice(sp + 1) };
    });
}

// ------------------------------------------------------------ file trees

export interface HostFiles {
  dir: string;
  bin: string;
  marker: string;
  markerContent: string;
  fContent: string;
  hostonly: string;
}

/**
 * The files the overlay/link/exec checks work on, created in `dir` (on the
 * host, or in a sandbox root's copy of the host directory's path).
 */
export function populateTargets(dir: string, bin: string, who: 'host' | 'sandbox', tokens: { marker: string; f: string }): void {
  fs.mkdirSync(dir, { recursive: true });
  const w = (name: string, content: string, mode = 0o644) => {
    fs.writeFileSync(path.join(dir, name), content);
    fs.chmodSync(path.join(dir, name), mode);
  };
  w('marker', who === 'host' ? `${tokens.marker}\n` : `SANDBOX-MARKER-${rand()}\n`);
  w('f', who === 'host' ? `${tokens.f}\n` : `SANDBOX-F-${rand()}\n`);
  if (who === 'host') w('hostonly', `HOSTONLY-${rand()}\n`);
  for (const v of ['victim', 'victim2', 'victim3', 'victim4']) w(v, `${who}-${v}\n`);
  fs.mkdirSync(path.join(dir, 'subdir'), { recursive: true });
  // Owned by the host uid the sandbox's root maps to: host permission checks
  // alone would let the guest change it.
  w('guestowned', `${who}-guestowned\n`);
  fs.chownSync(path.join(dir, 'guestowned'), GUEST_HOST_ID, GUEST_HOST_ID);
  for (const f of ['lr-file', 'lr-rename', 'lr-x1', 'lr-x2', 'lr-unlink', 'lr-over', 'lr-out']) w(f, `${who}-${f}\n`);
  fs.mkdirSync(path.join(dir, 'lr-dir'), { recursive: true });
  w('lr-dir/inner', 'inner\n');
  fs.mkdirSync(path.join(dir, 'lr-emptydir'), { recursive: true });
  fs.copyFileSync(bin, path.join(dir, 'exec-victim'));
  fs.chmodSync(path.join(dir, 'exec-victim'), 0o755);
  // A static ELF that only exits 42, which the kernel can load as an ELF interpreter.
  execFileSync(bin, ['exitelf', path.join(dir, 'interp-victim'), '42']);
  fs.copyFileSync(bin, path.join(dir, 'suid-root'));
  fs.chmodSync(path.join(dir, 'suid-root'), 0o4755);
  fs.copyFileSync(bin, path.join(dir, 'suid-other'));
  fs.chownSync(path.join(dir, 'suid-other'), 12345, 12345);
  fs.chmodSync(path.join(dir, 'suid-other'), 0o6755);
}

/**
 * A sandbox root: the escape binary at /escape, its own /etc/hostname and
 * /etc/shadow, a marker entry at its top, a copy of the host directory's path
 * with sandbox content, and symlinks that aim out of the root.
 */
export function makeSandboxRoot(host: HostFiles, rootmark: string): string {
  const r = varTmpDir('escape-root');
  for (const d of ['etc', 'tmp', 'proc', 'dev', 'sys', 'root', 'var/tmp']) fs.mkdirSync(path.join(r, d), { recursive: true });
  fs.chmodSync(path.join(r, 'tmp'), 0o1777);
  fs.copyFileSync(host.bin, path.join(r, 'escape'));
  fs.chmodSync(path.join(r, 'escape'), 0o755);
  fs.writeFileSync(path.join(r, 'etc/hostname'), `sandbox-${rand()}\n`);
  fs.writeFileSync(path.join(r, 'etc/shadow'), `root:SANDBOX-SHADOW-${rand()}:1::::::\n`, { mode: 0o640 });
  fs.writeFileSync(path.join(r, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  fs.writeFileSync(path.join(r, 'etc/group'), 'root:x:0:\n');
  fs.writeFileSync(path.join(r, rootmark), '');
  populateTargets(path.join(r, host.dir), host.bin, 'sandbox', { marker: '', f: '' });
  const ups = '../'.repeat(8);
  fs.symlinkSync(host.marker, path.join(r, 'etc/esc-abs-marker'));
  fs.symlinkSync(`${ups}${host.marker.slice(1)}`, path.join(r, 'etc/esc-rel-marker'));
  fs.symlinkSync(host.hostonly, path.join(r, 'etc/esc-abs-hostonly'));
  fs.symlinkSync(`${ups}${host.hostonly.slice(1)}`, path.join(r, 'etc/esc-rel-hostonly'));
  fs.symlinkSync(host.dir, path.join(r, 'etc/esc-dir'));
  fs.symlinkSync(`${ups}${host.dir.slice(1)}`, path.join(r, 'etc/esc-rel-dir'));
  fs.symlinkSync('/', path.join(r, 'etc/esc-root'));
  fs.symlinkSync('../../../../..', path.join(r, 'etc/esc-up'));
  return r;
}

/** `script` gives the command a terminal as fd 0 (for TIOCSTI on a real tty). */
export function haveScript(): boolean {
  return spawnSync('script', ['--version'], { encoding: 'latin1' }).status === 0;
}

/** sh -c quoting */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
