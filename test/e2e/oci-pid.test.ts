// The pid a container's clients are told (state, --pid-file, the hooks'
// state) is their door into the container: they enter it through
// /proc/PID/ns/* and /proc/PID/root, and wait for it. runc's is the
// container's init; tsvisor's is its anchor (native/anchor.c). Each case
// compares with runc. When the pid was the Sentry, on the host, every door
// opened onto the host.
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TSVISOR, busyboxRoot, rmrf, specBundle, whenRunning as psWhenRunning } from './harness.js';
import { compile } from './robust-helpers.js';

type Runtime = 'runc' | 'tsvisor';
const RUNTIMES: Runtime[] = ['runc', 'tsvisor'];

let base: string;
let rootfs: string;
let counter = 0;
const hostnameBefore = os.hostname();

/** The runtime's command line up to the command. */
function runtimeArgv(r: Runtime): string[] {
  return r === 'runc' ? ['runc', '--root', path.join(base, 'state-runc')] : [TSVISOR, '--root', path.join(base, 'state-tsvisor')];
}

function rt(r: Runtime, args: string[], opts: { input?: string; stdio?: number } = {}): SpawnSyncReturns<string> {
  const [bin, ...pre] = runtimeArgv(r);
  const fd = opts.stdio;
  return spawnSync(bin!, [...pre, ...args], {
    encoding: 'utf8',
    timeout: 60000,
    killSignal: 'SIGKILL',
    stdio: fd === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', fd, fd],
  });
}

function bundle(args: string[], edit: (c: Record<string, any>) => void = () => {}): string {
  return specBundle(path.join(base, `b${counter++}`), rootfs, args, edit);
}

/**
 * create (stdio to a file: the container keeps what it is given) and start;
 * returns the id and the pid the pid file names.
 */
function createStarted(r: Runtime, args: string[], edit?: (c: Record<string, any>) => void): { id: string; pid: number } {
  const id = `${r}-${counter++}`;
  const dir = bundle(args, edit);
  const pidFile = path.join(dir, 'pid');
  const out = fs.openSync(path.join(dir, 'out'), 'w');
  try {
    const c = rt(r, ['create', '--bundle', dir, '--pid-file', pidFile, id], { stdio: out });
    expect(c.status, `${r} create: ${fs.readFileSync(path.join(dir, 'out'), 'utf8')}`).toBe(0);
  } finally {
    fs.closeSync(out);
  }
  const s = rt(r, ['start', id]);
  expect(s.status, `${r} start: ${s.stderr}`).toBe(0);
  return { id, pid: Number(fs.readFileSync(pidFile, 'utf8')) };
}

/** The host pids of a container's processes, once `cmdline` runs in it. */
function whenRunning(r: Runtime, id: string, cmdline: string): Promise<number[]> {
  return psWhenRunning(runtimeArgv(r), id, cmdline);
}

function remove(r: Runtime, id: string): void {
  const d = rt(r, ['delete', '--force', id]);
  expect(d.status, `${r} delete --force ${id}: ${d.stderr}`).toBe(0);
}

/** A namespace's identity: the device and inode of its nsfs file. */
function nsId(file: string): string {
  const st = fs.statSync(file);
  return `${st.dev}:${st.ino}`;
}

function alive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const sh = (script: string) => ['/bin/sh', '-c', script];
const NAMESPACES = ['net', 'ipc', 'uts', 'mnt', 'pid'] as const;

beforeAll(() => {
  base = fs.mkdtempSync('/var/tmp/tsvisor-ocipid-');
  rootfs = busyboxRoot();
  fs.copyFileSync(compile('sysvq', base), path.join(rootfs, 'bin/sysvq'));
});

afterAll(() => {
  for (const r of RUNTIMES) {
    const dir = path.join(base, `state-${r}`);
    for (const id of fs.existsSync(dir) ? fs.readdirSync(dir) : []) if (!id.startsWith('.')) rt(r, ['delete', '--force', id]);
  }
  rmrf(base);
  rmrf(rootfs);
});

describe("the container's pid", () => {
  it("stands in the container's network, IPC, UTS, mount and pid namespaces and shows its read-only root and its processes, as runc's", async () => {
    const seen: Record<string, unknown> = {};
    for (const r of RUNTIMES) {
      const { id, pid } = createStarted(r, ['sleep', '1000']);
      await whenRunning(r, id, 'sleep 1000');
      const root = `/proc/${pid}/root`;
      let write = 'written';
      try {
        fs.writeFileSync(`${root}/tmp/through-the-pid`, 'x');
      } catch (e) {
        write = (e as NodeJS.ErrnoException).code ?? String(e);
      }
      seen[r] = {
        hostNamespaces: NAMESPACES.filter((ns) => nsId(`/proc/${pid}/ns/${ns}`) === nsId(`/proc/self/ns/${ns}`)),
        root: fs.readdirSync(root).sort(),
        hostname: fs.readFileSync(`${root}/etc/hostname`, 'utf8'),
        write,
        processes: fs
          .readdirSync(`${root}/proc`)
          .filter((n) => /^\d+$/.test(n))
          .map((n) => `${n} ${fs.readFileSync(`${root}/proc/${n}/cmdline`, 'utf8').split('\0').join(' ').trim()}`),
      };
      remove(r, id);
      expect(alive(pid), `${r}: the pid outlived delete --force`).toBe(false);
    }
    expect(seen.tsvisor).toEqual({
      hostNamespaces: [],
      root: fs.readdirSync(rootfs).sort(),
      hostname: 'sandbox\n',
      write: 'EROFS',
      processes: ['1 sleep 1000'],
    });
    expect(seen.tsvisor).toEqual(seen.runc);
  });

  it('ends with the container: kill -9 of the pid stops it and leaves no process, as with runc', async () => {
    const seen: Record<string, unknown> = {};
    for (const r of RUNTIMES) {
      const { id, pid } = createStarted(r, ['sleep', '1000']);
      const procs = await whenRunning(r, id, 'sleep 1000');
      process.kill(pid, 'SIGKILL');
      const end = Date.now() + 10000;
      while ((procs.some(alive) || JSON.parse(rt(r, ['state', id]).stdout || '{}').status !== 'stopped') && Date.now() < end) {
        await new Promise((res) => setTimeout(res, 50));
      }
      seen[r] = { left: procs.filter(alive), status: JSON.parse(rt(r, ['state', id]).stdout).status };
      remove(r, id);
    }
    expect(seen.tsvisor).toEqual({ left: [], status: 'stopped' });
    expect(seen.tsvisor).toEqual(seen.runc);
  });

  it("is how another container joins its IPC and UTS namespaces: the hostname and a System V queue are shared, as with runc", async () => {
    const seen: Record<string, unknown> = {};
    for (const r of RUNTIMES) {
      const first = createStarted(r, sh('sysvq put 0x7e5702 hello-from-first && exec sleep 1000'), (c) => (c.hostname = 'first-host'));
      await whenRunning(r, first.id, 'sleep 1000');
      const join = (c: Record<string, any>) => {
        delete c.hostname;
        c.linux.namespaces = c.linux.namespaces.map((n: { type: string }) =>
          n.type === 'ipc' || n.type === 'uts' ? { type: n.type, path: `/proc/${first.pid}/ns/${n.type}` } : n,
        );
      };
      const second = rt(r, ['run', '--bundle', bundle(sh('hostname; sysvq get 0x7e5702'), join), `second-${counter++}`]);
      seen[r] = { status: second.status, stdout: second.stdout, stderr: second.stderr };
      remove(r, first.id);
    }
    expect(seen.tsvisor).toEqual({ status: 0, stdout: 'first-host\nhello-from-first\n', stderr: '' });
    expect(seen.tsvisor).toEqual(seen.runc);
  });

  it("gives a runc container told to share a tsvisor container's pid and network namespaces none of the host's processes or interfaces", async () => {
    const first = createStarted('tsvisor', ['sleep', '1000']);
    await whenRunning('tsvisor', first.id, 'sleep 1000');
    const join = (c: Record<string, any>) => {
      c.linux.namespaces = c.linux.namespaces.map((n: { type: string }) =>
        n.type === 'pid' || n.type === 'network' ? { type: n.type, path: `/proc/${first.pid}/ns/${n.type === 'network' ? 'net' : 'pid'}` } : n,
      );
    };
    // runc mounts a procfs of the pid namespace it joined: what is in it is what the container can signal.
    // (Shell builtins only while it looks: no process of its own comes and goes.)
    const script = sh('for f in /proc/[0-9]*/comm; do read c < $f; echo -n "$c "; done; echo; ip -o link | cut -d: -f2 | tr -d " " | tr "\\n" " "');
    const second = rt('runc', ['run', '--bundle', bundle(script, join), `second-${counter++}`]);
    remove('tsvisor', first.id);
    expect(second.status, second.stderr).toBe(0);
    // The anchor, alone in its pid namespace, and the pipeline that lists it.
    expect(second.stdout).toBe('tsvisor-anchor sh \nlo ');
  });

  it("an image whose /proc is missing or a symlink out of it: the anchor mounts nothing through it, and the log says why", async () => {
    for (const [variant, make] of [
      ['missing', (r: string) => fs.rmdirSync(path.join(r, 'proc'))],
      ['symlink to /etc', (r: string) => (fs.rmdirSync(path.join(r, 'proc')), fs.symlinkSync('/etc', path.join(r, 'proc')))],
      ['symlink upwards', (r: string) => (fs.rmdirSync(path.join(r, 'proc')), fs.symlinkSync('../../../../../etc', path.join(r, 'proc')))],
    ] as const) {
      const root = path.join(base, `root-${counter++}`);
      fs.cpSync(rootfs, root, { recursive: true, verbatimSymlinks: true });
      make(root);
      const log = path.join(base, `log-${counter++}`);
      const id = `proc-${counter++}`;
      const dir = bundle(['sleep', '1000'], (c) => (c.root.path = root));
      const out = fs.openSync(path.join(dir, 'out'), 'w');
      const c = spawnSync(TSVISOR, ['--root', path.join(base, 'state-tsvisor'), '--log', log, 'create', '--bundle', dir, '--pid-file', path.join(dir, 'pid'), id], {
        stdio: ['ignore', out, out],
        timeout: 60000,
      });
      fs.closeSync(out);
      expect(c.status, `${variant}: ${fs.readFileSync(path.join(dir, 'out'), 'utf8')}`).toBe(0);
      const pid = Number(fs.readFileSync(path.join(dir, 'pid'), 'utf8'));
      // The root, alone: no procfs, here or wherever the symlink points.
      const mounts = fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8').trim().split('\n');
      expect(mounts.map((l) => l.split(' ')[4]), variant).toEqual(['/']);
      expect(fs.readdirSync(`/proc/${pid}/root/etc`).sort(), variant).toEqual(fs.readdirSync(path.join(root, 'etc')).sort());
      expect(fs.readFileSync(log, 'utf8'), variant).toContain('the root has no /proc directory');
      remove('tsvisor', id);
    }
  });

  it("a process's namespace path that is the host's is refused at create, saying so; runc joins the host's", () => {
    for (const [type, file] of [
      ['network', 'net'],
      ['ipc', 'ipc'],
      ['uts', 'uts'],
      ['pid', 'pid'],
    ] as const) {
      const edit = (c: Record<string, any>) => {
        // No hostname: runc would set it in the namespace it joins, here the host's.
        delete c.hostname;
        c.linux.namespaces = c.linux.namespaces.map((n: { type: string }) => (n.type === type ? { type, path: `/proc/${process.pid}/ns/${file}` } : n));
      };
      const t = rt('tsvisor', ['run', '--bundle', bundle(sh('echo ran'), edit), `refused-${counter++}`]);
      expect({ status: t.status, stdout: t.stdout }, type).toEqual({ status: 1, stdout: '' });
      expect(t.stderr, type).toContain(`/proc/${process.pid}/ns/${file} is the host's own ${type} namespace, not a container's`);
      const r = rt('runc', ['run', '--bundle', bundle(sh('echo ran'), edit), `joined-${counter++}`]);
      expect({ status: r.status, stdout: r.stdout }, `runc, ${type}`).toEqual({ status: 0, stdout: 'ran\n' });
    }
    expect(rt('tsvisor', ['list', '--quiet']).stdout).toBe('');
    expect(os.hostname(), "the host's hostname").toBe(hostnameBefore);
  });
});
