// Resource exhaustion (issue 8, class 4). A guest that tries to exhaust
// memory, pids, fds, file system space or the Sentry's own tables gets an
// errno; the Sentry stays within its bounds (docs/design.md "Bounds") and the
// next program runs correctly. test/programs/exhaust.c is the adversary, one
// mode per resource, with variants; where Linux has the same limit (a tmpfs
// mounted with size= and nr_inodes=, an OCI tmpfs under runc) the sandbox's
// output must be the native one, byte for byte.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO, TSVISOR, busyboxRoot, rmrf, runNative, runSandbox, sh, specBundle } from './harness.js';
import { readCgroupHost, resolveCgroupPaths } from '../../src/oci/cgroups.js';

let dir: string;
let bin: string;
const mounts: string[] = [];

/** A tmpfs mounted natively with `options`, the baseline for the sandbox's own. */
function nativeTmpfs(name: string, options: string): string {
  const at = path.join(dir, name);
  fs.mkdirSync(at);
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', at]);
  mounts.push(at);
  return at;
}

beforeAll(() => {
  dir = fs.mkdtempSync('/var/tmp/tsvisor-exhaust-');
  bin = path.join(dir, 'exhaust');
  execFileSync('gcc', ['-O2', '-static', '-Wall', '-o', bin, path.join(REPO, 'test/programs/exhaust.c')]);
});

afterAll(() => {
  for (const m of mounts) spawnSync('umount', [m]);
  rmrf(dir);
});

interface Watched {
  stdout: string;
  stderr: string;
  status: number | null;
  /** the Sentry's largest number of open fds and resident set (MiB) while it ran */
  peakFds: number;
  peakRssMiB: number;
  ms: number;
}

/** Runs `tsvisor [pre] do flags -- argv` and samples the Sentry (the tsvisor process itself) every 50 ms. */
function watched(argv: string[], flags: string[] = [], pre: string[] = []): Promise<Watched> {
  const start = Date.now();
  const cmd = pre.length ? pre[0]! : TSVISOR;
  const args = [...pre.slice(1), ...(pre.length ? [TSVISOR] : []), 'do', '--cwd', '/', ...flags, '--', ...argv];
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  let peakFds = 0;
  let peakRss = 0;
  const sentry = () => {
    // prlimit execs tsvisor in the same process; bin/tsvisor execs node.
    try {
      return fs.readFileSync(`/proc/${child.pid}/cmdline`, 'latin1').includes('tsvisor.cjs') ? child.pid : undefined;
    } catch {
      return undefined;
    }
  };
  const timer = setInterval(() => {
    const pid = sentry();
    if (!pid) return;
    try {
      peakFds = Math.max(peakFds, fs.readdirSync(`/proc/${pid}/fd`).length);
      const rss = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
      if (rss) peakRss = Math.max(peakRss, Number(rss[1]));
    } catch {
      /* exiting */
    }
  }, 50);
  return new Promise((resolve) => {
    child.on('close', (status) => {
      clearInterval(timer);
      resolve({ stdout, stderr, status, peakFds, peakRssMiB: Math.round(peakRss / 1024), ms: Date.now() - start });
    });
  });
}

/** What a following program prints, natively and in the sandbox: they must agree. */
const NEXT = 'sha1sum /etc/os-release; ls /usr/bin | wc -l';

describe('file system space', () => {
  const HOWS = ['write', 'fallocate', 'fallocate-steps', 'ftruncate-mmap', 'mmap-extend', 'pwrite-far'];
  let native: string;
  beforeAll(() => {
    native = nativeTmpfs('space', 'size=8m');
  });

  for (const how of HOWS) {
    it(`${how} past the size: /dev/shm and the overlay end as a tmpfs of that size does`, () => {
      const n = runNative([bin, 'fill', path.join(native, 'f'), how]);
      expect(n.status).toBe(0);
      expect(n.stdout).toMatch(new RegExp(`^(ftruncate OK\\nsigbus yes\\n)?(sigbus yes\\n)?${how} ENOSPC\\n`));
      const shm = runSandbox([bin, 'fill', '/dev/shm/f', how], { doFlags: ['--shm-size', '8m'] });
      expect(shm.stdout).toBe(n.stdout);
      expect(shm.status).toBe(0);
      // The overlay's statfs is its upper layer's, as Linux's overlayfs reports it.
      const ovl = runSandbox([bin, 'fill', '/f', how], { doFlags: ['--overlay-size', '8m'] });
      expect(ovl.stdout).toBe(n.stdout);
      expect(ovl.status).toBe(0);
    });
  }

  it('df shows the overlay and /dev/shm as large as their limits, with the default limits too', () => {
    const r = runSandbox(sh('df -P -k / /dev/shm | tail -n 2'), { doFlags: ['--overlay-size', '100m', '--shm-size', '3m'] });
    expect(r.stdout).toMatch(/^overlay +102400 +0 +102400 +0% \/\ntmpfs +3072 +0 +3072 +0% \/dev\/shm\n$/);
    const d = runSandbox(sh('stat -f -c "%b %S" / /dev/shm'));
    const mem = Number(/MemTotal:\s+(\d+)/.exec(fs.readFileSync('/proc/meminfo', 'latin1'))![1]) * 1024;
    expect(d.stdout).toBe(`${Math.ceil(Math.floor(mem / 4) / 4096)} 4096\n${(64 << 20) / 4096} 4096\n`);
  });

  it('a copy-up past the overlay size is ENOSPC and leaves the lower file as it was', () => {
    const root = busyboxRoot();
    try {
      fs.writeFileSync(path.join(root, 'big'), Buffer.alloc(4 << 20, 7));
      const r = runSandbox(sh('echo x >> /big 2>/dev/null; echo $?; wc -c < /big; echo y > /small && cat /small'), {
        doFlags: ['--root', root, '--overlay', '--overlay-size', '1m'],
      });
      expect(r.stdout).toBe('1\n4194304\ny\n');
      expect(fs.statSync(path.join(root, 'big')).size).toBe(4 << 20);
    } finally {
      rmrf(root);
    }
  });

  it("an OCI container's tmpfs is as large as its size= option, as under runc", () => {
    const root = busyboxRoot();
    const bundles = path.join(dir, 'oci');
    fs.mkdirSync(bundles);
    try {
      fs.copyFileSync(bin, path.join(root, 'bin/exhaust'));
      fs.chmodSync(path.join(root, 'bin/exhaust'), 0o755);
      fs.mkdirSync(path.join(root, 'data'));
      const out: Record<string, string> = {};
      for (const rt of ['runc', 'tsvisor']) {
        const b = specBundle(path.join(bundles, rt), root, ['/bin/exhaust', 'fill', '/data/f', 'write'], (c) => {
          c.mounts.push({ destination: '/data', type: 'tmpfs', source: 'tmpfs', options: ['size=1m', 'mode=1777'] });
        });
        const exe = rt === 'runc' ? 'runc' : TSVISOR;
        const r = spawnSync(exe, ['--root', path.join(bundles, `state-${rt}`), 'run', '--bundle', b, `exhaust-${rt}-${process.pid}`], {
          encoding: 'utf8',
          timeout: 60000,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        expect(r.status, r.stderr).toBe(0);
        out[rt] = r.stdout;
      }
      expect(out.runc).toMatch(/^write ENOSPC\ntotal 1048576\n/);
      expect(out.tsvisor).toBe(out.runc);
    } finally {
      rmrf(root);
    }
  });
});

describe('nodes (inodes) and xattrs', () => {
  for (const kind of ['file', 'dir', 'symlink', 'link', 'fifo']) {
    it(`${kind}s past the overlay's --overlay-inodes: ENOSPC at the count a tmpfs with nr_inodes= gives`, () => {
      const native = nativeTmpfs(`nodes-${kind}`, 'size=8m,nr_inodes=200');
      const n = runNative([bin, 'nodes', native, kind]);
      expect(n.stdout).toBe(`nodes ${kind} ENOSPC\ncount 198\nafter-remove OK\n`);
      const s = runSandbox([bin, 'nodes', '/', kind], { doFlags: ['--overlay-inodes', '200', '--overlay-size', '8m'] });
      expect(s.stdout).toBe(n.stdout);
      expect(s.status).toBe(0);
    });
  }

  it("all in-memory file systems together stay within the sandbox's node budget (the Sentry's heap)", async () => {
    // /dev/shm takes 200 000 links, the overlay (allowed 262 144 of its own)
    // gets what is left of the budget of 262 144.
    const r = await watched(sh(`${bin} nodes /dev/shm link 200000 && ${bin} nodes / link; ${NEXT}`));
    const lines = r.stdout.split('\n');
    expect(lines.slice(0, 2)).toEqual(['nodes link kept 200000', 'nodes link ENOSPC']);
    const count = Number(/^count (\d+)$/.exec(lines[2]!)?.[1]);
    expect(count).toBeGreaterThan(60000);
    expect(count).toBeLessThan(62144);
    expect(lines.slice(3).join('\n')).toBe(`after-remove OK\n${runNative(sh(NEXT)).stdout}`);
    expect(r.peakRssMiB).toBeLessThan(512);
  }, 180000);

  it('xattr values, names and the total of one node are bounded as on Linux', () => {
    const native = nativeTmpfs('xattr', 'size=8m');
    const n = runNative([bin, 'xattr', path.join(native, 'f')]);
    const s = runSandbox([bin, 'xattr', '/dev/shm/f']);
    const head = (out: string) => out.split('\n').slice(0, 3).join('\n');
    expect(head(n.stdout)).toBe('xattr-64k OK\nxattr-64k+1 E2BIG\nxattr-name-251 ERANGE');
    expect(head(s.stdout)).toBe(head(n.stdout));
    // Linux's tmpfs charges xattrs to the file system's space; the Sentry
    // keeps them in its heap and allows 128 KiB per node.
    expect(s.stdout).toContain('xattr-many ENOSPC\nxattr-many-bounded yes\n');
  });

  it("xattrs of many nodes together stay within the sandbox's budget: ENOSPC", async () => {
    const r = await watched(sh(`${bin} xattr-nodes /dev/shm; ${NEXT}`));
    expect(r.stdout).toMatch(/^xattr-nodes ENOSPC\ncount (\d+)\n/);
    expect(Number(/count (\d+)/.exec(r.stdout)![1])).toBeLessThanOrEqual(Math.ceil((64 << 20) / 60000));
    expect(r.stdout.split('\n').slice(2).join('\n')).toBe(runNative(sh(NEXT)).stdout);
    expect(r.peakRssMiB).toBeLessThan(512);
  });
});

/** The cgroup directories a `tsvisor do` process `pid` uses. */
function guestCgroupDirs(pid: number): string[] {
  const p = resolveCgroupPaths(readCgroupHost(), `tsvisor-do/${pid}`, '');
  if (!p) return [];
  return p.version === 2 ? [p.dir] : [p.dirs.memory!, p.dirs.pids!];
}

describe('processes and memory', () => {
  it('a fork bomb gets EAGAIN at --pids; the sandbox ends and its cgroup goes', () => {
    const r = spawnSync(TSVISOR, ['do', '--pids', '300', '--', bin, 'forkbomb'], { encoding: 'utf8', timeout: 60000 });
    expect(r.stdout).toBe('fork EAGAIN\n');
    expect(r.status).toBe(0);
    for (const d of guestCgroupDirs(r.pid!)) expect(fs.existsSync(d), d).toBe(false);
    expect(runSandbox(sh(NEXT)).stdout).toBe(runNative(sh(NEXT)).stdout);
  });

  it('a fork bomb gets EAGAIN with the default limit, and a shell fork bomb ends too', () => {
    const r = spawnSync(TSVISOR, ['do', '--', bin, 'forkbomb'], { encoding: 'utf8', timeout: 90000 });
    expect(r.stdout).toBe('fork EAGAIN\n');
    expect(r.status).toBe(0);
    const s = spawnSync(TSVISOR, ['do', '--pids', '200', '--', 'bash', '-c', 'b() { b | b & }; b; sleep 3; echo done'], { encoding: 'utf8', timeout: 90000 });
    expect(s.stdout).toBe('done\n');
    expect(s.stderr).toMatch(/fork: (retry: )?Resource temporarily unavailable/);
  }, 180000);

  it('a memory hog is OOM-killed (137) at --memory; tsvisor says so and goes on', () => {
    const r = runSandbox(sh(`${bin} memhog 1024; echo child=$?; ${NEXT}`), { doFlags: ['--memory', '128m'] });
    expect(r.stdout).toBe(`child=137\n${runNative(sh(NEXT)).stdout}`);
    expect(r.stderr).toContain('tsvisor: the guest reached its memory limit (--memory): 1 process was killed');
    expect(r.status).toBe(0);
    // The hog as the sandbox's first process: its status is tsvisor's.
    const direct = runSandbox([bin, 'memhog', '1024'], { doFlags: ['--memory', '128m', '--no-init'] });
    expect(direct.status).toBe(137);
  });

  it('files written to an in-memory file system count against --memory too', () => {
    // Their pages belong to no process, so the OOM killer may take any guest
    // process (here the only one); the Sentry, outside the cgroup, stays.
    const r = runSandbox([bin, 'fill', '/dev/shm/f', 'write'], { doFlags: ['--memory', '64m', '--shm-size', '1g', '--no-init'] });
    expect(r.status).toBe(137);
    expect(r.stderr).toContain('tsvisor: the guest reached its memory limit (--memory)');
    expect(runSandbox(sh(NEXT)).stdout).toBe(runNative(sh(NEXT)).stdout);
  });

  it('the cgroup of a tsvisor do that was killed is removed by the next one', async () => {
    const child = spawn(TSVISOR, ['do', '--', 'sleep', '100'], { stdio: 'ignore' });
    const dirs = guestCgroupDirs(child.pid!);
    expect(dirs.length).toBeGreaterThan(0);
    for (let i = 0; i < 100 && !dirs.every((d) => fs.existsSync(d)); i++) await new Promise((r) => setTimeout(r, 50));
    for (const d of dirs) expect(fs.existsSync(d), d).toBe(true);
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    // The guests die with the launcher (PDEATHSIG); the next sandbox cleans up.
    for (let i = 0; i < 50; i++) {
      expect(runSandbox(['true']).status).toBe(0);
      if (!dirs.some((d) => fs.existsSync(d))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const d of dirs) expect(fs.existsSync(d), d).toBe(false);
  });
});

describe("the Sentry's own bounds", () => {
  let base: Watched;
  beforeAll(async () => {
    base = await watched(['true']);
  });

  // The Sentry's fds are compared with the same workload holding one fd per
  // process: what the two share (a pidfd per process, the Gofer fds cached
  // for the paths it touched) cancels out, what grew with the guest's fds
  // would not.
  it('24 000 files held open at once: the Sentry holds no fd per file', async () => {
    const files = (n: number) => sh(`mkdir /tmp/h; for i in $(seq 24); do mkdir /tmp/h/$i; ${bin} hold-files /tmp/h/$i ${n} 3 & done; wait; ${NEXT}`);
    const one = await watched(files(1));
    const w = await watched(files(1000));
    expect(w.stdout.match(/^opened 1000$/gm)?.length).toBe(24);
    expect(w.stdout).not.toMatch(/hold-files (?!OK)/);
    expect(w.stdout.endsWith(runNative(sh(NEXT)).stdout)).toBe(true);
    expect(one.stdout.match(/^opened 1$/gm)?.length).toBe(24);
    expect(w.peakFds).toBeLessThan(one.peakFds + 100);
    expect(w.peakRssMiB).toBeLessThan(512);
  }, 120000);

  it('24 000 directory fds held and listed, 20 000 more opened, listed and closed: the file table and listings stay bounded', async () => {
    // Kept, the listings of /usr/bin alone (~1 100 entries each) would take gigabytes.
    const dirs = (n: number, cycles: number) =>
      sh(`for i in $(seq 24); do ${bin} hold-dirs /usr/bin ${n} 3 & done; ${bin} cycle-dirs /usr/bin ${5 * cycles} && ${bin} cycle-dirs /etc ${15 * cycles}; wait; ${NEXT}`);
    const one = await watched(dirs(1, 1));
    const w = await watched(dirs(1000, 1000));
    expect(w.stdout.match(/^opened 1000$/gm)?.length).toBe(24);
    expect(w.stdout).toContain('cycle-dirs OK\ncycle-dirs OK\n');
    expect(w.stdout.endsWith(runNative(sh(NEXT)).stdout)).toBe(true);
    expect(one.stdout.match(/^opened 1$/gm)?.length).toBe(24);
    expect(w.peakFds).toBeLessThan(one.peakFds + 100);
    expect(w.peakRssMiB).toBeLessThan(512);
  }, 180000);

  it('find over 140 000 host files: the Sentry keeps at most its cache of Gofer fds', async () => {
    const w = await watched(sh(`find /usr /etc -xdev > /dev/null; echo $?; ${NEXT}`));
    expect(w.stdout).toBe(`0\n${runNative(sh(NEXT)).stdout}`);
    expect(w.peakFds).toBeLessThanOrEqual(base.peakFds + 4096 + 32);
    expect(w.peakRssMiB).toBeLessThan(512);
  }, 300000);

  it('150 000 names that do not exist, 20 000 files made and removed: nothing accumulates', async () => {
    const w = await watched(sh(`${bin} negative-stat /usr 100000 && ${bin} negative-stat /tmp 50000 && ${bin} cycle-files /tmp 20000; ${NEXT}`));
    expect(w.stdout).toBe(`negative-stat found 0\nnegative-stat found 0\ncycle-files OK\n${runNative(sh(NEXT)).stdout}`);
    expect(w.peakFds).toBeLessThan(base.peakFds + 100);
    expect(w.peakRssMiB).toBeLessThan(512);
  }, 180000);

  it("the guest gets its caller's fd limit, not the Sentry's raised one, or --open-files", () => {
    const limits = sh('ulimit -Sn; ulimit -Hn');
    const caller = (flags: string[]) => spawnSync('prlimit', ['--nofile=1000:5000', TSVISOR, 'do', ...flags, '--', ...limits], { encoding: 'utf8', timeout: 60000 });
    expect(spawnSync('prlimit', ['--nofile=1000:5000', ...limits], { encoding: 'utf8' }).stdout).toBe('1000\n5000\n');
    expect(caller([]).stdout).toBe('1000\n5000\n');
    expect(caller(['--open-files', '300']).stdout).toBe('300\n300\n');
  });

  it('the Sentry out of fds: the guest gets ENFILE, never EIO, and the next calls work', async () => {
    // 200 processes each make the Sentry hold a pidfd, more than its 128 fds.
    const w = await watched([bin, 'fd-pressure', '200', '/etc/hostname'], [], ['prlimit', '--nofile=128']);
    expect(w.stdout).toBe('started all\nseen ENFILE\nfinal OK\n');
    expect(w.stderr).not.toContain('gofer');
    expect(w.status).toBe(0);
  });
});
