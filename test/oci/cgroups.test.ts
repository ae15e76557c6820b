// src/oci/cgroups.ts without a real cgroup file system: cgroupsPath
// resolution from sample /proc/self/mountinfo and /proc/self/cgroup texts
// (the expectations are what runc 1.1.5 did on the reference machine), and
// the v1 and v2 file writes against a fake tree in a temporary directory,
// whose control files the test creates as the kernel would.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CgroupError,
  type CgroupPaths,
  ContainerCgroups,
  expandCpuList,
  mergeResources,
  parseResources,
  resolveCgroupPaths,
  sharesToWeight,
} from '../../src/oci/cgroups.js';
import { parseDuration, toJson } from '../../src/cli/commands/events.js';
import { SpecError } from '../../src/oci/spec.js';

let tmp: string;
let n = 0;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-cgroups-'));
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A fresh directory for one test. */
function scratch(): string {
  const d = path.join(tmp, `t${n++}`);
  fs.mkdirSync(d);
  return d;
}

/** Makes `dir` with the given files, as the kernel populates a cgroup directory. */
function cgroupDir(dir: string, files: Record<string, string>): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
}

const read = (p: string) => fs.readFileSync(p, 'utf8');

/** This machine's hierarchies: cgroup v1 controllers, name=systemd, and an empty cgroup2 ("hybrid"). */
function v1Mountinfo(base = '/sys/fs/cgroup', coMountCpu = false): string {
  const v1 = coMountCpu ? ['cpu,cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids'] : ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids'];
  const lines = [`30 22 0:27 / ${base} rw,relatime - tmpfs tmpfs rw,mode=755`];
  v1.forEach((c, i) => lines.push(`${31 + i} 30 0:${28 + i} / ${base}/${c.split(',')[0]} rw,relatime - cgroup cgroup rw,${c}`));
  lines.push(`50 30 0:40 / ${base}/systemd rw,relatime - cgroup cgroup rw,name=systemd`);
  lines.push(`51 30 0:41 / ${base}/unified rw,relatime - cgroup2 cgroup2 rw`);
  return `${lines.join('\n')}\n`;
}

/** /proc/self/cgroup of a process whose memory cgroup is /process_api/abc and everything else the root. */
const SELF_V1 = '9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n4:memory:/process_api/abc\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n';

describe('resolveCgroupPaths', () => {
  const host = { mountinfo: v1Mountinfo(), selfCgroup: SELF_V1 };

  it('an absolute cgroupsPath starts at each v1 hierarchy\'s mount point (Docker\'s /docker/ID)', () => {
    expect(resolveCgroupPaths(host, '/docker/abc', 'id')).toEqual({
      version: 1,
      dirs: {
        cpu: '/sys/fs/cgroup/cpu/docker/abc',
        cpuacct: '/sys/fs/cgroup/cpuacct/docker/abc',
        cpuset: '/sys/fs/cgroup/cpuset/docker/abc',
        memory: '/sys/fs/cgroup/memory/docker/abc',
        freezer: '/sys/fs/cgroup/freezer/docker/abc',
        pids: '/sys/fs/cgroup/pids/docker/abc',
        blkio: '/sys/fs/cgroup/blkio/docker/abc',
        devices: '/sys/fs/cgroup/devices/docker/abc',
      },
    });
  });

  it('a relative one, or none (the id), goes below our own cgroup in each hierarchy, and ".." cannot climb out', () => {
    // runc put "rel/x" at memory:/process_api/<own>/rel/x and cpu:/rel/x; "../../escape/y" at .../escape/y.
    const rel = resolveCgroupPaths(host, 'rel/x', 'id');
    expect(rel?.version === 1 && [rel.dirs.memory, rel.dirs.cpu]).toEqual(['/sys/fs/cgroup/memory/process_api/abc/rel/x', '/sys/fs/cgroup/cpu/rel/x']);
    const none = resolveCgroupPaths(host, undefined, 'c1');
    expect(none?.version === 1 && [none.dirs.memory, none.dirs.pids]).toEqual(['/sys/fs/cgroup/memory/process_api/abc/c1', '/sys/fs/cgroup/pids/c1']);
    const up = resolveCgroupPaths(host, '../../escape/y', 'id');
    expect(up?.version === 1 && [up.dirs.memory, up.dirs.freezer]).toEqual(['/sys/fs/cgroup/memory/process_api/abc/escape/y', '/sys/fs/cgroup/freezer/escape/y']);
    const abs = resolveCgroupPaths(host, '/a/../../b', 'id');
    expect(abs?.version === 1 && abs.dirs.memory).toBe('/sys/fs/cgroup/memory/b');
  });

  it('co-mounted controllers share one directory; a mount of a subtree (inside a container) is accounted for', () => {
    const co = resolveCgroupPaths({ mountinfo: v1Mountinfo('/sys/fs/cgroup', true), selfCgroup: '4:memory:/\n1:cpu,cpuacct:/\n' }, '/x', 'id');
    expect(co?.version === 1 && [co.dirs.cpu, co.dirs.cpuacct]).toEqual(['/sys/fs/cgroup/cpu/x', '/sys/fs/cgroup/cpu/x']);
    const nested = {
      mountinfo: '34 30 0:31 /docker/abc /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n',
      selfCgroup: '4:memory:/docker/abc/sub\n',
    };
    const rel = resolveCgroupPaths(nested, 'x', 'id');
    expect(rel?.version === 1 && rel.dirs.memory).toBe('/sys/fs/cgroup/memory/sub/x');
    const abs = resolveCgroupPaths(nested, '/y', 'id');
    expect(abs?.version === 1 && abs.dirs.memory).toBe('/sys/fs/cgroup/memory/y');
  });

  it('cgroup v2 when only the unified hierarchy is mounted; nothing without any cgroup file system', () => {
    const v2 = { mountinfo: '30 22 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n', selfCgroup: '0::/user.slice/session-1.scope\n' };
    expect(resolveCgroupPaths(v2, '/k8s/pod1', 'id')).toEqual({ version: 2, mount: '/sys/fs/cgroup', dir: '/sys/fs/cgroup/k8s/pod1' });
    expect(resolveCgroupPaths(v2, undefined, 'c1')).toEqual({ version: 2, mount: '/sys/fs/cgroup', dir: '/sys/fs/cgroup/user.slice/session-1.scope/c1' });
    expect(resolveCgroupPaths({ mountinfo: '22 1 0:21 / /proc rw - proc proc rw\n', selfCgroup: '' }, '/x', 'id')).toBeUndefined();
  });

  it('escaped characters in mount points are decoded', () => {
    const r = resolveCgroupPaths({ mountinfo: '34 30 0:31 / /mnt/cg\\040v1/mem rw - cgroup cgroup rw,memory\n', selfCgroup: '4:memory:/\n' }, '/x', 'id');
    expect(r).toEqual({ version: 1, dirs: { memory: '/mnt/cg v1/mem/x' } });
  });
});

describe('parseResources', () => {
  it("takes Docker's resources (zeros mean unset)", () => {
    const docker = {
      devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' }],
      memory: { disableOOMKiller: false },
      cpu: { shares: 0 },
      blockIO: { weight: 0 },
    };
    expect(parseResources(docker)).toEqual({
      limits: {
        memory: {},
        cpu: { shares: 0 },
        blockIO: { weight: 0 },
        devices: [
          { allow: false, type: 'a', major: -1, minor: -1, access: 'rwm' },
          { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
        ],
      },
      ignored: [],
    });
  });

  it('keeps every section but rdma and unified; for update only memory, cpu and pids', () => {
    const raw = {
      memory: { limit: 67108864, reservation: 1, swap: -1, kernel: 2, kernelTCP: 3, swappiness: 0, disableOOMKiller: true },
      cpu: { shares: 512, quota: -1, period: 100000, realtimeRuntime: 5, realtimePeriod: 6, cpus: '0-1,3', mems: '0' },
      pids: { limit: 20 },
      blockIO: { weight: 500 },
      hugepageLimits: [{ pageSize: '2MB', limit: 1 }],
      network: { classID: 255, priorities: [{ name: 'eth0', priority: 3 }] },
      unified: { 'memory.high': '1' },
    };
    const r = parseResources(raw);
    expect(r.limits).toEqual({
      memory: { limit: 67108864, reservation: 1, swap: -1, kernel: 2, kernelTCP: 3, swappiness: 0, disableOOMKiller: true },
      cpu: { shares: 512, quota: -1, period: 100000, realtimeRuntime: 5, realtimePeriod: 6, cpus: '0-1,3', mems: '0' },
      pids: { limit: 20 },
      blockIO: { weight: 500 },
      hugepageLimits: [{ pageSize: '2MB', limit: 1 }],
      network: { classID: 255, priorities: [{ name: 'eth0', priority: 3 }] },
    });
    expect(r.ignored).toEqual(['linux.resources.unified']);
    const u = parseResources(raw, 'resources', true);
    expect(Object.keys(u.limits)).toEqual(['memory', 'cpu', 'pids']);
    expect(u.ignored).toEqual(['resources.blockIO', 'resources.hugepageLimits', 'resources.network', 'resources.unified']);
  });

  it('refuses values of the wrong type or range, naming the field', () => {
    const bad = (raw: unknown) => {
      try {
        parseResources(raw);
      } catch (e) {
        expect(e).toBeInstanceOf(SpecError);
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    expect(bad({ memory: { limit: '64m' } })).toBe('linux.resources.memory.limit must be an integer, not "64m"');
    expect(bad({ cpu: { shares: -2 } })).toBe('linux.resources.cpu.shares must be a non-negative integer, not -2');
    expect(bad({ cpu: { cpus: '0-a' } })).toBe('linux.resources.cpu.cpus must be a list such as "0-2,4", not "0-a"');
    expect(bad({ memory: { swappiness: 101 } })).toBe('linux.resources.memory.swappiness 101 is out of range 0..100');
    // Written into file names and single lines: nothing else gets through.
    expect(bad({ hugepageLimits: [{ pageSize: '../2MB', limit: 1 }] })).toBe('linux.resources.hugepageLimits[0].pageSize must be a size such as "2MB", not "../2MB"');
    expect(bad({ network: { priorities: [{ name: 'lo 1\neth0', priority: 1 }] } })).toBe('linux.resources.network.priorities[0].name must be an interface name, not "lo 1\\neth0"');
    expect(bad({ devices: [{ allow: true, type: 'c', access: '' }] })).toBe('linux.resources.devices[0].access must be some of "rwm", not ""');
    expect(bad({ devices: [{ allow: true, type: 'p', access: 'r' }] })).toBe('linux.resources.devices[0].type must be "a", "b" or "c", not "p"');
    expect(bad({ pids: [] })).toBe('linux.resources.pids must be an object, not []');
    // int64's largest value survives JSON's doubles as 2^63.
    expect(parseResources(JSON.parse('{"memory":{"limit":9223372036854775807}}')).limits.memory?.limit).toBe(2 ** 63);
  });

  it('update merges new fields into the recorded ones', () => {
    expect(mergeResources({ memory: { limit: 1, swap: 2 }, pids: { limit: 5 } }, { memory: { limit: 3 }, cpu: { shares: 4 } })).toEqual({
      memory: { limit: 3, swap: 2 },
      cpu: { shares: 4 },
      pids: { limit: 5 },
    });
  });
});

const UNLIMITED_V1 = '9223372036854771712';

/** A v1 tree under `root`: one mount directory per controller, the container at /docker/abc with its kernel files. */
function fakeV1(root: string, controllers = ['cpu', 'cpuacct', 'cpuset', 'memory', 'freezer', 'pids']): CgroupPaths {
  const leaf: Record<string, Record<string, string>> = {
    memory: {
      'memory.limit_in_bytes': UNLIMITED_V1,
      'memory.memsw.limit_in_bytes': UNLIMITED_V1,
      'memory.soft_limit_in_bytes': UNLIMITED_V1,
      'memory.swappiness': '60',
      'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n',
    },
    cpu: { 'cpu.shares': '1024', 'cpu.cfs_period_us': '100000', 'cpu.cfs_quota_us': '-1', 'cpu.rt_period_us': '1000000', 'cpu.rt_runtime_us': '0' },
    cpuacct: {},
    cpuset: { 'cpuset.cpus': '', 'cpuset.mems': '' },
    freezer: { 'freezer.state': 'THAWED' },
    pids: { 'pids.max': 'max' },
  };
  const mounts: string[] = [];
  controllers.forEach((c, i) => {
    mounts.push(`${31 + i} 30 0:${28 + i} / ${root}/${c} rw,relatime - cgroup cgroup rw,${c}`);
    // The parent of a cpuset has its cpus and mems; a new child starts empty.
    cgroupDir(path.join(root, c, 'docker'), { 'cgroup.procs': '', ...(c === 'cpuset' ? { 'cpuset.cpus': '0-1', 'cpuset.mems': '0' } : {}) });
    cgroupDir(path.join(root, c, 'docker/abc'), { 'cgroup.procs': '', ...leaf[c] });
  });
  return resolveCgroupPaths({ mountinfo: mounts.join('\n'), selfCgroup: '' }, '/docker/abc', 'id')!;
}

describe('cgroup v1 files', () => {
  it('create copies the parent cpuset; apply writes the limits; the sandbox and the guests join different sets', () => {
    const root = scratch();
    const cg = new ContainerCgroups(fakeV1(root));
    expect(cg.create()).toEqual([]);
    const dir = (c: string) => path.join(root, c, 'docker/abc');
    expect([read(path.join(dir('cpuset'), 'cpuset.cpus')), read(path.join(dir('cpuset'), 'cpuset.mems'))]).toEqual(['0-1', '0']);
    const warnings = cg.apply(
      {
        memory: { limit: 64 << 20, reservation: 32 << 20, swap: 128 << 20, swappiness: 10, disableOOMKiller: true },
        cpu: { shares: 512, quota: 50000, period: 200000, cpus: '1', mems: '0' },
        pids: { limit: 20 },
      },
      'warn',
    );
    expect(warnings).toEqual([]);
    expect(
      Object.fromEntries(
        [
          'memory/memory.limit_in_bytes', 'memory/memory.soft_limit_in_bytes', 'memory/memory.memsw.limit_in_bytes', 'memory/memory.swappiness', 'memory/memory.oom_control',
          'cpu/cpu.shares', 'cpu/cpu.cfs_quota_us', 'cpu/cpu.cfs_period_us', 'cpuset/cpuset.cpus', 'cpuset/cpuset.mems', 'pids/pids.max',
        ].map((f) => [f, read(path.join(dir(f.split('/')[0]!), f.split('/')[1]!))]),
      ),
    ).toEqual({
      'memory/memory.limit_in_bytes': String(64 << 20),
      'memory/memory.soft_limit_in_bytes': String(32 << 20),
      'memory/memory.memsw.limit_in_bytes': String(128 << 20),
      'memory/memory.swappiness': '10',
      'memory/memory.oom_control': '1',
      'cpu/cpu.shares': '512',
      'cpu/cpu.cfs_quota_us': '50000',
      'cpu/cpu.cfs_period_us': '200000',
      'cpuset/cpuset.cpus': '1',
      'cpuset/cpuset.mems': '0',
      'pids/pids.max': '20',
    });
    // Unlimited is -1 in v1 limit files and "max" for pids.
    cg.apply({ memory: { swap: -1, limit: -1 }, pids: { limit: -1 } }, 'throw');
    expect([read(path.join(dir('memory'), 'memory.limit_in_bytes')), read(path.join(dir('memory'), 'memory.memsw.limit_in_bytes')), read(path.join(dir('pids'), 'pids.max'))]).toEqual(['-1', '-1', 'max']);

    expect(cg.joinSandbox(111)).toEqual([]);
    expect(cg.joinGuest(222)).toEqual([]);
    const procs = Object.fromEntries(['memory', 'cpu', 'cpuacct', 'cpuset', 'freezer', 'pids'].map((c) => [c, read(path.join(dir(c), 'cgroup.procs'))]));
    expect(procs).toEqual({ memory: '111', cpu: '111', cpuacct: '111', cpuset: '111', freezer: '222', pids: '222' });
  });

  it('a missing controller or file is a warning at create and an error for update', () => {
    const root = scratch();
    const cg = new ContainerCgroups(fakeV1(root, ['memory', 'freezer']));
    fs.rmSync(path.join(root, 'memory/docker/abc/memory.memsw.limit_in_bytes'));
    const limits = { memory: { limit: 1 << 20, swap: 2 << 20 }, cpu: { shares: 100 }, pids: { limit: 5 } };
    expect(cg.apply(limits, 'warn')).toEqual([
      'memory.swap not applied: the kernel does not account swap (no memory.memsw.limit_in_bytes)',
      'cpu limits not applied: no cpu cgroup',
      'pids.limit not applied: no pids cgroup',
    ]);
    expect(read(path.join(root, 'memory/docker/abc/memory.limit_in_bytes'))).toBe(String(1 << 20));
    expect(() => cg.apply({ pids: { limit: 5 } }, 'throw')).toThrow(CgroupError);
    expect(() => cg.apply({ pids: { limit: 5 } }, 'throw')).toThrow('pids.limit not applied: no pids cgroup');
    fs.rmSync(path.join(root, 'memory/docker/abc/memory.swappiness'));
    expect(() => cg.apply({ memory: { swappiness: 5 } }, 'throw')).toThrow(/^cannot write "5" to .*memory\.swappiness: ENOENT \(no such file or directory\)$/);
  });

  it('pause freezes the freezer cgroup and resume thaws it; an empty freezer cgroup is refused', async () => {
    const root = scratch();
    const cg = new ContainerCgroups(fakeV1(root));
    const state = path.join(root, 'freezer/docker/abc/freezer.state');
    await expect(cg.freeze()).rejects.toThrow(/no process of the container is in its freezer cgroup/);
    cg.joinGuest(222);
    await cg.freeze();
    expect(read(state)).toBe('FROZEN');
    cg.thaw();
    expect(read(state)).toBe('THAWED');
    const noFreezer = new ContainerCgroups(fakeV1(scratch(), ['memory']));
    await expect(noFreezer.freeze()).rejects.toThrow(/has no freezer cgroup/);
  });

  it('stats in runc\'s shape: nanoseconds, the memory entries, pids; zeros left out where runc leaves them out', () => {
    const root = scratch();
    const paths = fakeV1(root);
    const d = (c: string, files: Record<string, string>) => cgroupDir(path.join(root, c, 'docker/abc'), files);
    d('cpuacct', {
      'cpuacct.usage': '159709874',
      'cpuacct.usage_percpu': '159709874 0 \n',
      'cpuacct.usage_percpu_sys': '100000000 0 \n',
      'cpuacct.usage_percpu_user': '64000000 0 \n',
      'cpuacct.stat': 'user 6\nsystem 9\n',
    });
    d('cpu', { 'cpu.stat': 'nr_periods 15\nnr_throttled 0\nthrottled_time 0\n' });
    d('cpuset', { 'cpuset.cpus': '0', 'cpuset.mems': '0', 'cpuset.sched_load_balance': '1', 'cpuset.sched_relax_domain_level': '-1' });
    d('memory', {
      'memory.limit_in_bytes': '67108864',
      'memory.usage_in_bytes': '507904',
      'memory.max_usage_in_bytes': '2138112',
      'memory.failcnt': '0',
      'memory.memsw.limit_in_bytes': '134217728',
      'memory.memsw.usage_in_bytes': '507904',
      'memory.memsw.max_usage_in_bytes': '2138112',
      'memory.memsw.failcnt': '0',
      'memory.kmem.limit_in_bytes': UNLIMITED_V1,
      'memory.kmem.usage_in_bytes': '339968',
      'memory.kmem.max_usage_in_bytes': '548864',
      'memory.kmem.failcnt': '0',
      'memory.kmem.tcp.limit_in_bytes': UNLIMITED_V1,
      'memory.kmem.tcp.failcnt': '0',
      'memory.stat': 'cache 4096\nrss 106496\ntotal_cache 4096\n',
    });
    d('pids', { 'pids.current': '2', 'pids.max': '20' });
    expect(toJson(new ContainerCgroups(paths).stats())).toBe(
      JSON.stringify({
        cpu: {
          usage: { total: 159709874, percpu: [159709874, 0], percpu_kernel: [100000000, 0], percpu_user: [64000000, 0], kernel: 90000000, user: 60000000 },
          throttling: { periods: 15 },
        },
        cpuset: {
          cpus: [0], cpu_exclusive: 0, mems: [0], mem_hardwall: 0, mem_exclusive: 0, memory_migrate: 0, memory_spread_page: 0,
          memory_spread_slab: 0, memory_pressure: 0, sched_load_balance: 1, sched_relax_domain_level: -1,
        },
        memory: {
          cache: 4096,
          usage: { limit: 67108864, usage: 507904, max: 2138112, failcnt: 0 },
          swap: { limit: 134217728, usage: 507904, max: 2138112, failcnt: 0 },
          kernel: { limit: 'UNLIMITED', usage: 339968, max: 548864, failcnt: 0 },
          kernelTCP: { limit: 'UNLIMITED', failcnt: 0 },
          raw: { cache: 4096, rss: 106496, total_cache: 4096 },
        },
        pids: { current: 2, limit: 20 },
        blkio: {},
        hugetlb: {},
        intel_rdt: {},
        network_interfaces: null,
      }).replaceAll('"UNLIMITED"', UNLIMITED_V1),
    );
  });

  it('remove deletes the container\'s directories (empty by then), not their parents; missing ones are fine', async () => {
    const root = scratch();
    const paths = resolveCgroupPaths({ mountinfo: `31 30 0:28 / ${root}/memory rw - cgroup cgroup rw,memory\n32 30 0:29 / ${root}/pids rw - cgroup cgroup rw,pids\n`, selfCgroup: '' }, '/docker/abc', 'id')!;
    fs.mkdirSync(path.join(root, 'memory/docker/abc'), { recursive: true });
    fs.mkdirSync(path.join(root, 'pids/docker'), { recursive: true });
    expect(await new ContainerCgroups(paths).remove()).toEqual([]);
    expect([fs.existsSync(path.join(root, 'memory/docker/abc')), fs.existsSync(path.join(root, 'memory/docker')), fs.existsSync(path.join(root, 'pids/docker'))]).toEqual([false, true, true]);
  });
});

/** A FIFO that keeps everything written to it (a reader is held open), to see every write to a file. */
function recorder(p: string): () => string {
  execFileSync('mkfifo', [p]);
  const fd = fs.openSync(p, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  return () => {
    const buf = Buffer.alloc(65536);
    let n = 0;
    try {
      n = fs.readSync(fd, buf);
    } catch {
      /* nothing written: EAGAIN */
    }
    fs.closeSync(fd);
    return buf.subarray(0, n).toString();
  };
}

describe('cgroup v2 files', () => {
  /** A unified hierarchy under `root` with the container at /k8s/pod and its two leaves. */
  function fakeV2(root: string): { paths: CgroupPaths; writes: () => Record<string, string> } {
    const mount = path.join(root, 'unified');
    const pod = path.join(mount, 'k8s/pod');
    cgroupDir(mount, { 'cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc' });
    cgroupDir(path.join(mount, 'k8s'), { 'cgroup.controllers': 'cpu memory pids' });
    cgroupDir(pod, {
      'cgroup.controllers': 'cpu memory pids',
      'memory.max': 'max',
      'memory.low': '0',
      'memory.swap.max': 'max',
      'cpu.weight': '100',
      'cpu.max': 'max 100000',
      'cpuset.cpus': '',
      'cpuset.mems': '',
    });
    for (const leaf of ['sandbox', 'guest']) cgroupDir(path.join(pod, leaf), { 'cgroup.procs': '', 'pids.max': 'max', 'cgroup.freeze': '0', 'cgroup.events': 'populated 1\nfrozen 0\n' });
    const recorders = Object.fromEntries([mount, path.join(mount, 'k8s'), pod].map((d) => [path.relative(root, d), recorder(path.join(d, 'cgroup.subtree_control'))]));
    const paths = resolveCgroupPaths({ mountinfo: `30 22 0:27 / ${mount} rw - cgroup2 cgroup2 rw\n`, selfCgroup: '0::/\n' }, '/k8s/pod', 'id')!;
    return { paths, writes: () => Object.fromEntries(Object.entries(recorders).map(([k, r]) => [k, r()])) };
  }

  it('create enables the controllers on the way down (pids in the container\'s cgroup for its guest leaf); apply converts OCI values', () => {
    const root = scratch();
    const { paths, writes } = fakeV2(root);
    const cg = new ContainerCgroups(paths);
    expect(cg.create()).toEqual([]);
    expect(writes()).toEqual({ unified: '+cpu+cpuset+memory+pids', 'unified/k8s': '+cpu+memory+pids', 'unified/k8s/pod': '+pids' });
    const pod = path.join(root, 'unified/k8s/pod');
    expect(
      cg.apply({ memory: { limit: 64 << 20, reservation: 32 << 20, swap: 96 << 20 }, cpu: { shares: 512, quota: 50000, cpus: '0', mems: '0' }, pids: { limit: 20 } }, 'warn'),
    ).toEqual([]);
    expect(
      Object.fromEntries(['memory.max', 'memory.low', 'memory.swap.max', 'cpu.weight', 'cpu.max', 'cpuset.cpus', 'cpuset.mems', 'guest/pids.max', 'sandbox/pids.max'].map((f) => [f, read(path.join(pod, f))])),
    ).toEqual({
      'memory.max': String(64 << 20),
      'memory.low': String(32 << 20),
      // OCI's swap counts memory plus swap; swap.max counts swap alone.
      'memory.swap.max': String(32 << 20),
      'cpu.weight': String(sharesToWeight(512)),
      // The period is kept when only the quota changes.
      'cpu.max': '50000 100000',
      'cpuset.cpus': '0',
      'cpuset.mems': '0',
      'guest/pids.max': '20',
      'sandbox/pids.max': 'max',
    });
    expect(cg.apply({ memory: { kernel: 1, swappiness: 1 }, cpu: { realtimeRuntime: 1 } }, 'warn')).toEqual([
      'memory.kernel and memory.kernelTCP not applied: cgroup v2 has no kernel memory limit',
      'memory.swappiness not applied: cgroup v2 has no per-cgroup swappiness',
      'cpu.realtimeRuntime and cpu.realtimePeriod not applied: cgroup v2 has no real-time bandwidth',
    ]);
    expect(() => cg.apply({ memory: { swap: 16 << 20 } }, 'throw')).toThrow(`memory.swap ${16 << 20} is below memory.limit ${64 << 20}: it counts memory plus swap`);
    cg.apply({ memory: { limit: -1, swap: -1 }, cpu: { period: 200000 } }, 'throw');
    expect([read(path.join(pod, 'memory.max')), read(path.join(pod, 'memory.swap.max')), read(path.join(pod, 'cpu.max'))]).toEqual(['max', 'max', '50000 200000']);

    expect(cg.joinSandbox(111)).toEqual([]);
    expect(cg.joinGuest(222)).toEqual([]);
    expect([read(path.join(pod, 'sandbox/cgroup.procs')), read(path.join(pod, 'guest/cgroup.procs'))]).toEqual(['111', '222']);
  });

  it('pause freezes only the guest leaf and waits for the kernel to say so; a freeze that does not happen is undone', async () => {
    const root = scratch();
    const { paths, writes } = fakeV2(root);
    const guest = path.join(root, 'unified/k8s/pod/guest');
    const cg = new ContainerCgroups(paths);
    cg.joinGuest(222);
    await expect(cg.freeze(100)).rejects.toThrow("the container's processes did not freeze within 100 ms");
    expect(read(path.join(guest, 'cgroup.freeze'))).toBe('0');
    fs.writeFileSync(path.join(guest, 'cgroup.events'), 'populated 1\nfrozen 1\n');
    await cg.freeze();
    expect([read(path.join(guest, 'cgroup.freeze')), read(path.join(root, 'unified/k8s/pod/sandbox/cgroup.freeze'))]).toEqual(['1', '0']);
    cg.thaw();
    expect(read(path.join(guest, 'cgroup.freeze'))).toBe('0');
    writes();
  });

  it('stats: cpu.stat in nanoseconds, memory as v1 reports it (swap counts memory too), pids of the guest leaf', () => {
    const root = scratch();
    const { paths, writes } = fakeV2(root);
    writes();
    const pod = path.join(root, 'unified/k8s/pod');
    cgroupDir(pod, {
      'cpu.stat': 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 3\nnr_throttled 1\nthrottled_usec 7\n',
      'memory.current': '1000',
      'memory.max': '4096',
      'memory.swap.current': '10',
      'memory.swap.max': '4096',
      'memory.events': 'low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n',
      'memory.stat': 'anon 900\nfile 100\n',
    });
    cgroupDir(path.join(pod, 'guest'), { 'pids.current': '3', 'pids.max': 'max' });
    const cg = new ContainerCgroups(paths);
    expect(cg.oomKills()).toBe(1);
    expect(toJson(cg.stats())).toBe(
      JSON.stringify({
        cpu: { usage: { total: 1500000, kernel: 500000, user: 1000000 }, throttling: { periods: 3, throttled_periods: 1, throttled_time: 7000 } },
        memory: { cache: 100, usage: { limit: 4096, usage: 1000, failcnt: 2 }, swap: { limit: 8192, usage: 1010, failcnt: 0 }, raw: { anon: 900, file: 100 } },
        pids: { current: 3 },
        blkio: {},
        hugetlb: {},
        intel_rdt: {},
        network_interfaces: null,
      }),
    );
  });
});

describe('helpers', () => {
  it('cpu.shares to cpu.weight: the ends of the ranges and the default', () => {
    expect([sharesToWeight(2), sharesToWeight(1024), sharesToWeight(262144)]).toEqual([1, 39, 10000]);
  });

  it('cpuset lists, Go durations, JSON with 64-bit numbers', () => {
    expect(expandCpuList('0-2,5,7-8')).toEqual([0, 1, 2, 5, 7, 8]);
    expect(expandCpuList('')).toEqual([]);
    expect([parseDuration('5s'), parseDuration('250ms'), parseDuration('1m30s'), parseDuration('1.5s')]).toEqual([5000, 250, 90000, 1500]);
    expect(() => parseDuration('5')).toThrow('invalid duration "5"');
    expect(toJson({ a: 18446744073709551615n, b: [1n, 'x'], c: null, d: undefined })).toBe('{"a":18446744073709551615,"b":[1,"x"],"c":null}');
  });
});
