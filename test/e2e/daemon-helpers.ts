// Shared by the end-to-end tests of real container clients (Docker,
// containerd's ctr, podman): finding their programs, starting a daemon by
// hand (there is no systemd) and stopping it by pid, waiting, finding the
// host processes of a container, a busybox root file system to make images
// from (no registry is reachable), and leaving nothing mounted or on disk.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { rmrf } from './harness.js';
import { type ProcInfo, allProcs, alive, poll, waitGone } from './robust-helpers.js';

export const SYSTEM_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** The first executable `name` in `dirs` (default: the system directories, then $PATH). */
export function findExecutable(name: string, dirs: string[] = [...SYSTEM_PATH, ...(process.env.PATH ?? '').split(':').filter(Boolean)]): string | undefined {
  for (const d of dirs) {
    const p = path.join(d, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** findExecutable, or an error that says which Debian package brings the program. */
export function requireExecutable(name: string, debianPackage: string): string {
  const p = findExecutable(name);
  if (!p) throw new Error(`${name} is not installed (Debian package ${debianPackage}; .ci/run installs it)`);
  return p;
}

/**
 * The environment for a client and the daemons and runtimes it starts: node's
 * directory first, since bin/tsvisor runs `node` and the runtime inherits this
 * PATH (through containerd and its shim, or through conmon).
 */
export function clientEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: [path.dirname(process.execPath), ...SYSTEM_PATH].join(':'), HOME: home, LANG: 'C', LC_ALL: 'C', ...extra };
}

export async function until(what: string, ok: () => boolean, ms = 10000): Promise<void> {
  await poll(what, ms, () => ok() || undefined);
}

/** The last `lines` lines of a log file. */
export function logTail(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return `(no ${path.basename(file)})`;
  }
}

/** The processes for which `isRoot` holds and all their descendants, from one look at /proc. */
export function processTrees(isRoot: (p: ProcInfo) => boolean): ProcInfo[] {
  const procs = allProcs();
  const roots = procs.filter(isRoot);
  const out = [...roots];
  const seen = new Set(roots.map((p) => p.pid));
  const todo = roots.map((p) => p.pid);
  while (todo.length > 0) {
    const parent = todo.pop()!;
    for (const q of procs) {
      if (q.ppid === parent && !seen.has(q.pid)) {
        seen.add(q.pid);
        out.push(q);
        todo.push(q.pid);
      }
    }
  }
  return out;
}

/** Waits up to `ms` until no process matches `isRoot`; returns what is left then (with descendants). */
export async function waitUntilGone(isRoot: (p: ProcInfo) => boolean, ms: number): Promise<ProcInfo[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = processTrees(isRoot);
    if (left.length === 0 || Date.now() >= deadline) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGKILLs those of `procs` that are still alive; returns a description of each one that was. */
export async function killStrays(procs: ProcInfo[]): Promise<string[]> {
  const left = procs.filter(alive);
  for (const p of left) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
  }
  await waitGone(left, 5000);
  return left.map((p) => `${p.pid} ${p.cmdline.slice(0, 160)}`);
}

/**
 * A test file's private client set-up: `start` (and then `prepare`, such as
 * importing an image) in beforeAll, `stop` in afterAll. Returns the accessor
 * the tests call. A set-up failure is kept for the tests rather than thrown
 * from beforeAll, which would only mark them skipped: each one fails with it.
 */
export function privateSetup<T>(
  what: string,
  start: () => Promise<T>,
  stop: (t: T) => Promise<unknown>,
  o: { prepare?: (t: T) => void; startMs: number },
): () => T {
  let started: T | undefined;
  let setupError: unknown;
  beforeAll(async () => {
    try {
      started = await start();
      o.prepare?.(started);
    } catch (e) {
      setupError = e;
    }
  }, o.startMs);
  afterAll(async () => {
    if (started) await stop(started);
  }, 120000);
  return () => {
    if (setupError) throw setupError;
    if (!started) throw new Error(`${what} is not set up`);
    return started;
  };
}

/** A daemon started by hand, detached, with its output in a log file. */
export interface Daemon {
  name: string;
  child: ChildProcess;
  log: string;
  exited: Promise<void>;
  hasExited(): boolean;
}

export function spawnDaemon(name: string, bin: string, args: string[], env: NodeJS.ProcessEnv, log: string): Daemon {
  const fd = fs.openSync(log, 'w');
  const child = spawn(bin, args, { stdio: ['ignore', fd, fd], env, detached: true });
  fs.closeSync(fd);
  let done = false;
  const exited = new Promise<void>((resolve) => {
    const end = () => {
      done = true;
      resolve();
    };
    child.on('exit', end);
    child.on('error', end);
  });
  return { name, child, log, exited, hasExited: () => done };
}

/** Polls `ready` until it holds; throws with the end of the daemon's log if it exits or `ms` pass first. */
export async function waitReady(d: Daemon, ready: () => boolean, ms = 60000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (d.hasExited()) throw new Error(`${d.name} exited during start-up (code ${d.child.exitCode}):\n${logTail(d.log)}`);
    if (ready()) return;
    if (Date.now() > deadline) throw new Error(`${d.name} did not answer within ${ms / 1000} s:\n${logTail(d.log)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGTERM to the daemon, SIGKILL after `graceMs`; returns what went wrong. */
export async function stopDaemon(d: Daemon, graceMs = 20000): Promise<string[]> {
  if (d.hasExited()) return [];
  d.child.kill('SIGTERM');
  const timedOut = await Promise.race([d.exited.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), graceMs))]);
  if (!timedOut) return [];
  d.child.kill('SIGKILL');
  await d.exited;
  return [`${d.name} did not stop within ${graceMs / 1000} s of SIGTERM; killed`];
}

/** The mount points at or under `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => unescape(l.split(' ')[4]!))
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/**
 * Unmounts what is left under a private directory and removes it. Never
 * removes the directory while something is mounted in it (that would delete
 * through the mount): throws instead.
 */
export function removePrivateDir(dir: string): void {
  for (let round = 0; round < 5 && mountsUnder(dir).length > 0; round++) {
    for (const m of mountsUnder(dir)) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
  }
  const mounted = mountsUnder(dir);
  if (mounted.length > 0) throw new Error(`still mounted, ${dir} left in place: ${mounted.join(', ')}`);
  rmrf(dir);
}

/** The mount points of the cgroup hierarchies (each v1 controller, the v2 one), from /proc/self/mountinfo. */
export function cgroupMounts(): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => {
      const sep = f.indexOf('-');
      return sep > 0 && (f[sep + 1] === 'cgroup' || f[sep + 1] === 'cgroup2');
    })
    .map((f) => f[4]!);
}

/** The cgroup `rel` (a path below the hierarchies' roots) in every hierarchy that has it. */
export function cgroupsNamed(rel: string): string[] {
  return cgroupMounts()
    .map((m) => path.join(m, rel))
    .filter((d) => fs.existsSync(d));
}

/**
 * Removes the cgroup `rel` and the cgroups below it, deepest first, in every
 * hierarchy (cgroups go with rmdir, and only once empty of processes).
 * Returns those that could not be removed.
 */
export function removeCgroups(rel: string): string[] {
  const failed: string[] = [];
  const remove = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) remove(path.join(dir, e.name));
    try {
      fs.rmdirSync(dir);
    } catch (e) {
      failed.push(`${dir}: ${(e as Error).message}`);
    }
  };
  for (const d of cgroupsNamed(rel)) remove(d);
  return failed;
}

/**
 * A busybox root file system in `root`: /bin/busybox (Debian's
 * busybox-static) and a symlink per applet, /etc/passwd with root and user
 * (1000), /etc/group, and the usual empty directories.
 */
export function writeBusyboxRoot(root: string): void {
  if (!fs.existsSync('/bin/busybox')) throw new Error('/bin/busybox is missing (Debian package busybox-static)');
  for (const dir of ['bin', 'etc', 'tmp', 'root', 'home/user', 'proc', 'sys', 'dev']) fs.mkdirSync(path.join(root, dir), { recursive: true });
  fs.chmodSync(path.join(root, 'tmp'), 0o1777);
  fs.chownSync(path.join(root, 'home/user'), 1000, 1000);
  fs.copyFileSync('/bin/busybox', path.join(root, 'bin/busybox'));
  fs.chmodSync(path.join(root, 'bin/busybox'), 0o755);
  for (const a of execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
    if (a !== 'busybox') fs.symlinkSync('busybox', path.join(root, 'bin', a));
  }
  fs.writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n');
  fs.writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\nuser:x:1000:\n');
}

/** `tar -c` of a directory's contents, owners as numbers. */
export function tarOf(dir: string): Buffer {
  return execFileSync('tar', ['-C', dir, '--numeric-owner', '-c', '.'], { maxBuffer: 256 << 20 });
}

/** What a daemon with networking changes on the host: links, IPv4 forwarding, iptables rules. */
export interface HostNetwork {
  links: Set<string>;
  forwarding: string;
  /** iptables-save and ip6tables-save output */
  rules: { iptables: string; ip6tables: string };
}

const FORWARDING = '/proc/sys/net/ipv4/ip_forward';

function linkNames(): Set<string> {
  return new Set(fs.readdirSync('/sys/class/net'));
}

function saveRules(bin: 'iptables' | 'ip6tables'): string {
  const r = spawnSync(`${bin}-save`, [], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${bin}-save exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

export function hostNetwork(): HostNetwork {
  return {
    links: linkNames(),
    forwarding: fs.readFileSync(FORWARDING, 'utf8').trim(),
    rules: { iptables: saveRules('iptables'), ip6tables: saveRules('ip6tables') },
  };
}

interface RuleTables {
  [table: string]: { chains: Map<string, string>; rules: string[] };
}

/** iptables-save output as tables of chains (name -> policy, '-' for user chains) and `-A` rules. */
function parseRules(text: string): RuleTables {
  const out: RuleTables = {};
  let table: RuleTables[string] | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) out[line.slice(1)] = table = { chains: new Map(), rules: [] };
    else if (line.startsWith(':') && table) {
      const [name = '', policy = '-'] = line.slice(1).split(' ');
      table.chains.set(name, policy);
    } else if (line.startsWith('-A ') && table) table.rules.push(line);
  }
  return out;
}

/** A rule line split as a shell would (iptables-save quotes comments with "..."). */
function ruleArgs(line: string): string[] {
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!));
}

/**
 * Undoes what was added to the host's network since `before`: the links
 * `ours` claims (bridges and veths a daemon made), IPv4 forwarding, and the
 * iptables and ip6tables rules and chains that were not there (built-in
 * chains get their policy back). Rules that were there before stay, whatever
 * added them. Returns what could not be undone.
 */
export function restoreHostNetwork(before: HostNetwork, ours: (link: string) => boolean): string[] {
  const problems: string[] = [];
  for (const link of linkNames()) {
    if (before.links.has(link) || !ours(link)) continue;
    const r = spawnSync('ip', ['link', 'delete', link], { encoding: 'utf8' });
    if (r.status !== 0 && linkNames().has(link)) problems.push(`ip link delete ${link}: ${r.stderr.trim()}`);
  }
  for (const bin of ['iptables', 'ip6tables'] as const) {
    const was = parseRules(before.rules[bin]);
    const now = parseRules(saveRules(bin));
    for (const [name, table] of Object.entries(now)) {
      const old = was[name];
      const kept = [...(old?.rules ?? [])];
      const run = (args: string[]) => {
        const r = spawnSync(bin, ['-w', '-t', name, ...args], { encoding: 'utf8' });
        if (r.status !== 0) problems.push(`${bin} -t ${name} ${args.join(' ')}: ${r.stderr.trim()}`);
      };
      for (const rule of table.rules) {
        const at = kept.indexOf(rule);
        if (at >= 0) kept.splice(at, 1);
        else run(['-D', ...ruleArgs(rule).slice(1)]);
      }
      for (const [chain, policy] of table.chains) {
        const oldPolicy = old?.chains.get(chain);
        if (policy === '-' && oldPolicy === undefined) run(['-X', chain]);
        else if (policy !== '-' && policy !== (oldPolicy ?? 'ACCEPT')) run(['-P', chain, oldPolicy ?? 'ACCEPT']);
      }
    }
  }
  if (fs.readFileSync(FORWARDING, 'utf8').trim() !== before.forwarding) fs.writeFileSync(FORWARDING, before.forwarding);
  return problems;
}
