// Runs the same command natively and under `tsvisor do`, for tests that
// compare stdout, stderr, exit status and file effects.
import { type SpawnSyncOptions, execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Copies the repository's node_modules into `dir`/node_modules, a copy and
 * not links to it: a project run under `tsvisor test` then needs nothing of
 * the checkout, which may lie below /tmp, where the sandbox has a private
 * tmpfs (a clean clone in /tmp, as CI makes).
 */
export function copyNodeModules(dir: string): void {
  fs.cpSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'), {
    recursive: true,
    verbatimSymlinks: true,
    filter: (src) => !path.basename(src).startsWith('.vite'),
  });
}
export const TSVISOR = path.join(REPO, 'bin/tsvisor');
/** The kernel release a sandbox reports by default: the host's major.minor. */
export const SANDBOX_RELEASE = `${os.release().split('.').slice(0, 2).join('.')}.0-tsvisor`;

export interface Run {
  stdout: string;
  stderr: string;
  status: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
  timeoutMs?: number;
  /** run as this user (and group) instead of the test's own: an ordinary user's run (rootless.test.ts) */
  uid?: number;
  gid?: number;
}

function finish(r: ReturnType<typeof spawnSync>): Run {
  if (r.error) throw r.error;
  return { stdout: String(r.stdout), stderr: String(r.stderr), status: r.status, signal: r.signal };
}

function spawnOpts(o: RunOptions): SpawnSyncOptions {
  return {
    cwd: o.cwd ?? '/',
    env: o.env ?? { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: '/root', LANG: 'C', LC_ALL: 'C' },
    input: o.input ?? '',
    timeout: o.timeoutMs ?? 60000,
    maxBuffer: 64 << 20,
    encoding: 'latin1',
    ...(o.uid === undefined ? {} : { uid: o.uid, gid: o.gid ?? o.uid }),
  };
}

export function runNative(argv: string[], o: RunOptions = {}): Run {
  return finish(spawnSync(argv[0]!, argv.slice(1), spawnOpts(o)));
}

/** `chroot ROOT argv`: the native baseline for a sandbox with --root ROOT. */
export function runChroot(root: string, argv: string[], o: RunOptions = {}): Run {
  return finish(spawnSync('chroot', [root, ...argv], spawnOpts({ ...o, cwd: '/' })));
}

/** `tsvisor [globals] do [doFlags] -- argv` */
export function runSandbox(argv: string[], o: RunOptions & { doFlags?: string[]; globals?: string[] } = {}): Run {
  const cwd = o.cwd ?? '/';
  const flags = [...(o.doFlags ?? [])];
  if (!flags.some((f) => f.startsWith('--cwd'))) flags.push('--cwd', cwd);
  return finish(spawnSync(TSVISOR, [...(o.globals ?? []), 'do', ...flags, '--', ...argv], spawnOpts(o)));
}

export function sh(script: string): string[] {
  return ['/bin/sh', '-c', script];
}

/** A fresh directory under /tmp, removed by the caller's afterAll. */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `tsvisor-${prefix}-`));
}

/** A listing of a tree: relative path, type, mode, size, link target and content digest, sorted. */
export function treeSnapshot(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of fs.readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      const st = fs.lstatSync(p);
      const rel = path.relative(root, p);
      if (st.isSymbolicLink()) out.push(`${rel} l ${fs.readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.push(`${rel} d ${(st.mode & 0o7777).toString(8)}`);
        walk(p);
      } else {
        const digest = st.isFile() ? execFileSync('sha1sum', [p], { encoding: 'latin1' }).split(' ')[0] : '';
        out.push(`${rel} ${st.isFile() ? 'f' : 'o'} ${(st.mode & 0o7777).toString(8)} ${st.size} ${digest}`);
      }
    }
  };
  walk(root);
  return out;
}

/** The paths that differ between two tree snapshots of one root, sorted. */
export function changed(before: string[], after: string[]): string[] {
  const key = (l: string) => l.split(' ')[0]!;
  const b = new Map(before.map((l) => [key(l), l]));
  const a = new Map(after.map((l) => [key(l), l]));
  return [...new Set([...b.keys(), ...a.keys()])].filter((k) => b.get(k) !== a.get(k)).sort();
}

/** A minimal root file system: busybox-static and its applets, a few /etc files, empty mount points. */
export function busyboxRoot(): string {
  const root = tempDir('bbroot');
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'dev', 'sys', 'root', 'var/log', 'usr/share']) fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.chmodSync(path.join(root, 'tmp'), 0o1777);
  fs.copyFileSync('/bin/busybox', path.join(root, 'bin/busybox'));
  fs.chmodSync(path.join(root, 'bin/busybox'), 0o755);
  const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'latin1' }).split('\n').filter(Boolean);
  for (const a of applets) {
    if (a !== 'busybox') fs.symlinkSync('busybox', path.join(root, 'bin', a));
  }
  fs.writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  fs.writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  fs.writeFileSync(path.join(root, 'etc/hostname'), 'sandbox\n');
  fs.mkdirSync(path.join(root, 'etc/conf.d'));
  for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(root, `etc/conf.d/file${i}.conf`), `value=${i * 7}\n`);
  fs.symlinkSync('/etc/hostname', path.join(root, 'etc/abs-link'));
  return root;
}

export function rmrf(p: string): void {
  fs.rmSync(p, { recursive: true, force: true });
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

export type Runtime = 'runc' | 'tsvisor';
export const RUNTIMES: Runtime[] = ['runc', 'tsvisor'];
export interface Outcome {
  status: number | null;
  stdout: string;
  stderr: string;
}
let bundleRuns = 0;

/**
 * `run --bundle dir` under runc or tsvisor (with `globals` before the
 * command), state in `stateBase`/state-<runtime>, under a container id no
 * other test process uses (runc's cgroups are named after it).
 */
export function runBundle(rt: Runtime, stateBase: string, dir: string, globals: string[] = [], timeout = 120000): Outcome {
  const argv = rt === 'runc' ? ['runc', '--root', path.join(stateBase, 'state-runc')] : [TSVISOR, '--root', path.join(stateBase, 'state-tsvisor'), ...globals];
  const r = spawnSync(argv[0]!, [...argv.slice(1), 'run', '--bundle', dir, `t${process.pid}-${bundleRuns++}`], {
    encoding: 'utf8',
    timeout,
    killSignal: 'SIGKILL',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** "NAME UID:GID" on the host of each of `names` under `dir` (default: its entries, sorted), not following links. */
export function hostOwners(dir: string, names: string[] = fs.readdirSync(dir).sort()): string[] {
  return names.map((f) => {
    const st = fs.lstatSync(path.join(dir, f));
    return `${f} ${st.uid}:${st.gid}`;
  });
}

/**
 * The host pids of a container's processes (the runtime's `ps --format
 * json`, `argv` its command line up to the command), once `cmdline` (spaces
 * for NULs) runs in it.
 */
export async function whenRunning(argv: readonly string[], id: string, cmdline: string): Promise<number[]> {
  const end = Date.now() + 20000;
  for (;;) {
    const ps = spawnSync(argv[0]!, [...argv.slice(1), 'ps', '--format', 'json', id], { encoding: 'utf8', timeout: 60000, killSignal: 'SIGKILL', stdio: ['ignore', 'pipe', 'pipe'] });
    const pids = ps.status === 0 ? (JSON.parse(ps.stdout) as number[]) : [];
    const cmds = pids.map((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ').trim();
      } catch {
        return '';
      }
    });
    if (cmds.includes(cmdline)) return pids;
    if (Date.now() > end) throw new Error(`${argv[0]} ${id}: ${cmdline} did not run (${cmds.join(', ')})`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

/**
 * Writes a bundle in `dir` whose config.json is `tsvisor spec`'s with `rootfs`
 * mounted read-only, no terminal, `args`, and then `edit` applied.
 */
export function specBundle(dir: string, rootfs: string, args: string[], edit: (c: Record<string, any>) => void = () => {}): string {
  fs.mkdirSync(dir);
  const r = spawnSync(TSVISOR, ['spec', '--bundle', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tsvisor spec failed: ${r.stderr}`);
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  config.root = { path: rootfs, readonly: true };
  config.process.terminal = false;
  config.process.args = args;
  edit(config);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}
