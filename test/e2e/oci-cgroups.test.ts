// linux.resources through the host's cgroups, and the commands built on them
// (pause, resume, update, events, wait), compared with runc (and runsc for
// wait) on the same bundles. Every container's cgroupsPath is below a
// parent of this run's own, which must be empty again at the end.
import { type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TSVISOR, busyboxRoot, rmrf, specBundle } from './harness.js';
import { until } from './daemon-helpers.js';

type Runtime = 'runc' | 'tsvisor';
const RUNTIMES: Runtime[] = ['runc', 'tsvisor'];
const CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'cpuset', 'pids', 'freezer'];
/** This run's cgroup parent, in every hierarchy. */
const PARENT = `/tsvisor-e2e-${process.pid}`;

let base: string;
let rootfs: string;
let counter = 0;

function runtimeArgv(rt: Runtime | 'runsc'): string[] {
  if (rt === 'runc') return ['runc', '--root', path.join(base, 'state-runc')];
  if (rt === 'runsc') return ['runsc', '--root', path.join(base, 'state-runsc'), '--network=none', '--platform=ptrace'];
  return [TSVISOR, '--root', path.join(base, 'state-tsvisor'), '--log', path.join(base, 'tsvisor.log')];
}

function cli(rt: Runtime | 'runsc', args: string[], input = ''): SpawnSyncReturns<string> {
  const [bin, ...pre] = runtimeArgv(rt);
  const r = spawnSync(bin!, [...pre, ...args], { encoding: 'utf8', input, timeout: 60000, killSignal: 'SIGKILL' });
  if (r.error) throw r.error;
  return r;
}

/** A bundle with `tsvisor spec`'s config.json, the test root, `args`, cgroupsPath PARENT/`name`, and `edit` applied. */
function bundle(name: string, args: string[], edit: (c: Record<string, any>) => void = () => {}): string {
  return specBundle(path.join(base, `b${counter++}`), rootfs, args, (config) => {
    config.linux.cgroupsPath = `${PARENT}/${name}`;
    edit(config);
  });
}

/** `run` to the end; stdout and stderr collected. */
function run(rt: Runtime, dir: string): { status: number | null; stdout: string; stderr: string } {
  const r = cli(rt, ['run', '--bundle', dir, `c${counter++}`]);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * `create` then `start`, the container's stdout and stderr going to `out`
 * (a pipe would stay open as long as the container runs).
 */
function createAndStart(rt: Runtime | 'runsc', dir: string, id: string, out: string, start = true): void {
  const fd = fs.openSync(out, 'w');
  try {
    const [bin, ...pre] = runtimeArgv(rt);
    const r = spawnSync(bin!, [...pre, 'create', '--bundle', dir, id], { stdio: ['ignore', fd, fd], timeout: 60000, killSignal: 'SIGKILL' });
    expect(r.status, `${rt} create: ${fs.readFileSync(out, 'utf8')}`).toBe(0);
  } finally {
    fs.closeSync(fd);
  }
  if (start) {
    const s = cli(rt, ['start', id]);
    expect(s.status, `${rt} start: ${s.stderr}`).toBe(0);
  }
}

function status(rt: Runtime, id: string): string {
  const r = cli(rt, ['state', id]);
  expect(r.status, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { status: string }).status;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The container `name`'s directory in a hierarchy. */
const cgroupDir = (controller: string, name: string) => path.join('/sys/fs/cgroup', controller, PARENT, name);

/** `controller/file` of container `name` for each of `files`. */
function cgroupFiles(name: string, files: string[]): Record<string, string> {
  return Object.fromEntries(files.map((f) => [f, fs.readFileSync(path.join(cgroupDir(f.split('/')[0]!, name), f.split('/')[1]!), 'utf8').trim()]));
}

/** The container directories left in any hierarchy below PARENT whose names start with `prefix`. */
function leftovers(prefix: string): string[] {
  return CONTROLLERS.flatMap((c) => {
    const dir = path.join('/sys/fs/cgroup', c, PARENT);
    return fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() && e.name.startsWith(prefix)).map((e) => `${c}/${e.name}`) : [];
  });
}

const lines = (file: string) => fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length;

beforeAll(() => {
  base = fs.mkdtempSync('/var/tmp/tsvisor-ocicg-');
  rootfs = busyboxRoot();
});

afterAll(() => {
  for (const rt of RUNTIMES) {
    const root = path.join(base, `state-${rt}`);
    for (const id of fs.existsSync(root) ? fs.readdirSync(root) : []) if (!id.startsWith('.')) cli(rt, ['delete', '--force', id]);
  }
  // runc and runsc use more hierarchies than tsvisor and may leave their
  // (empty) cgroups behind; tsvisor's are checked in the tests.
  for (const h of fs.readdirSync('/sys/fs/cgroup')) {
    const dir = path.join('/sys/fs/cgroup', h, PARENT);
    if (!fs.existsSync(dir)) continue;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) fs.rmdirSync(path.join(dir, e.name));
    fs.rmdirSync(dir);
  }
  rmrf(base);
  rmrf(rootfs);
});

describe('linux.resources', () => {
  it('memory: a guest that allocates past the limit is OOM-killed (137) and the container goes on, as under runc', () => {
    // The subshell allocates; the shell reports how it died.
    const script = 'echo start; (x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo survived); echo "child $?"';
    const limit = (c: Record<string, any>) => (c.linux.resources = { memory: { limit: 64 << 20, swap: 64 << 20 } });
    const out: Record<string, unknown> = {};
    for (const rt of RUNTIMES) out[rt] = run(rt, bundle(`oom-${rt}`, ['/bin/sh', '-c', script], limit));
    expect(out.tsvisor).toMatchObject({ status: 0, stdout: 'start\nchild 137\n' });
    expect(out.tsvisor).toEqual(out.runc);
    // The init itself: the container's status is 137.
    for (const rt of RUNTIMES) out[rt] = run(rt, bundle(`oominit-${rt}`, ['/bin/sh', '-c', 'x=$(head -c 200000000 /dev/zero | tr "\\0" a)'], limit));
    expect(out.tsvisor).toMatchObject({ status: 137 });
    expect(out.tsvisor).toEqual(out.runc);
    expect(leftovers('oom')).toEqual([]);
  });

  it('pids: forking past the limit fails, at the same count as under runc (the Sentry and the Gofer do not count)', () => {
    const script = 'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo $i; sleep 5 & done; echo finished';
    const out: Record<string, unknown> = {};
    for (const rt of RUNTIMES) out[rt] = run(rt, bundle(`pids-${rt}`, ['/bin/sh', '-c', script], (c) => (c.linux.resources = { pids: { limit: 6 } })));
    // The shell and 5 sleeps: the sixth fork fails and the shell gives up.
    expect(out.tsvisor).toEqual({ status: 2, stdout: '1\n2\n3\n4\n5\n6\n', stderr: "/bin/sh: can't fork: Resource temporarily unavailable\n" });
    expect(out.tsvisor).toEqual(out.runc);
  });

  it('memory, cpu, cpuset and pids values land in the same cgroup files as under runc; delete removes the cgroups', () => {
    const resources = {
      memory: { limit: 64 << 20, reservation: 32 << 20, swap: 128 << 20 },
      cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0', mems: '0' },
      pids: { limit: 30 },
    };
    const files = [
      'memory/memory.limit_in_bytes', 'memory/memory.soft_limit_in_bytes', 'memory/memory.memsw.limit_in_bytes',
      'cpu/cpu.shares', 'cpu/cpu.cfs_quota_us', 'cpu/cpu.cfs_period_us', 'cpuset/cpuset.cpus', 'cpuset/cpuset.mems', 'pids/pids.max',
    ];
    const seen: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      const name = `files-${rt}`;
      createAndStart(rt, bundle(name, ['sleep', '1000'], (c) => (c.linux.resources = resources)), name, path.join(base, `${name}.out`), false);
      seen[rt] = cgroupFiles(name, files);
      // The sandbox (for tsvisor the Sentry, the Gofer, the anchor and its keeper too) is in
      // the memory cgroup; the created init is in the freezer and pids cgroups.
      const procs = (c: string) => fs.readFileSync(path.join(cgroupDir(c, name), 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
      expect(procs('memory').length, rt).toBe(rt === 'tsvisor' ? 5 : 1);
      expect(procs('freezer'), rt).toEqual(procs('pids'));
      expect(procs('pids').length, rt).toBe(1);
      const del = cli(rt, ['delete', '--force', name]);
      expect(del.status, del.stderr).toBe(0);
      expect(leftovers(name), rt).toEqual([]);
    }
    expect(seen.tsvisor).toEqual({
      'memory/memory.limit_in_bytes': String(64 << 20),
      'memory/memory.soft_limit_in_bytes': String(32 << 20),
      'memory/memory.memsw.limit_in_bytes': String(128 << 20),
      'cpu/cpu.shares': '512',
      'cpu/cpu.cfs_quota_us': '50000',
      'cpu/cpu.cfs_period_us': '100000',
      'cpuset/cpuset.cpus': '0',
      'cpuset/cpuset.mems': '0',
      'pids/pids.max': '30',
    });
    expect(seen.tsvisor).toEqual(seen.runc);
  });

  it('a cgroup the host refuses is a warning in the log and the container still runs (runc refuses to create it)', () => {
    // cgroup file systems refuse names with a newline: mkdir fails in every hierarchy.
    const edit = (c: Record<string, any>) => {
      c.linux.cgroupsPath = `${PARENT}/bad\nname`;
      c.linux.resources = { memory: { limit: 64 << 20 }, pids: { limit: 10 } };
    };
    const t = run('tsvisor', bundle('unused', ['echo', 'ran'], edit));
    expect(t).toEqual({ status: 0, stdout: 'ran\n', stderr: '' });
    const log = fs.readFileSync(path.join(base, 'tsvisor.log'), 'utf8');
    expect(log).toMatch(/^W.* cannot create the memory cgroup \/sys\/fs\/cgroup\/memory\/tsvisor-e2e-\d+\/bad$/m);
    expect(log).toContain('memory limits not applied: no memory cgroup');
    expect(run('runc', bundle('unused', ['echo', 'ran'], edit)).status).not.toBe(0);
  });

  it('--systemd-cgroup without systemd: create fails with runc\'s message and leaves nothing', () => {
    for (const rt of RUNTIMES) {
      const dir = bundle('unused', ['true'], (c) => (c.linux.cgroupsPath = 'system.slice:tsvisor:e2e'));
      const [bin, ...pre] = runtimeArgv(rt);
      const r = spawnSync(bin!, [...pre, '--systemd-cgroup', 'create', '--bundle', dir, `sd-${rt}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60000 });
      expect(r.status, rt).toBe(1);
      expect(r.stderr, rt).toContain('systemd not running on this host, cannot use systemd cgroups manager');
      expect(cli(rt, ['state', `sd-${rt}`]).status, rt).not.toBe(0);
    }
  });

  it('a create that fails once the sandbox is in its cgroups (no such command) leaves no cgroup behind', () => {
    const dir = bundle('failed', ['/nonexistent']);
    const fd = fs.openSync(path.join(base, 'failed.out'), 'w');
    const r = spawnSync(TSVISOR, [...runtimeArgv('tsvisor').slice(1), 'create', '--bundle', dir, 'failed'], { stdio: ['ignore', fd, fd], timeout: 60000 });
    fs.closeSync(fd);
    expect(r.status).toBe(1);
    expect(fs.readFileSync(path.join(base, 'failed.out'), 'utf8')).toContain('/nonexistent');
    expect(cli('tsvisor', ['state', 'failed']).status).not.toBe(0);
    // The anchor's keeper, moved in with the Gofer, kept them busy: they stayed.
    expect(CONTROLLERS.filter((c) => fs.existsSync(cgroupDir(c, 'failed')))).toEqual([]);
  });
});

describe('pause and resume', () => {
  it('pause stops a counting guest and state says paused; resume lets it go on; the errors are runc\'s', async () => {
    const seen: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      const name = `pause-${rt}`;
      const out = path.join(base, `${name}.out`);
      createAndStart(rt, bundle(name, ['/bin/sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done']), name, out);
      await until(`${rt}: the counter to start`, () => lines(out) >= 3, 20_000);
      const steps: unknown[] = [];
      const step = (command: string, ...args: string[]) => {
        const r = cli(rt, [command, name, ...args]);
        steps.push([[command, ...args].join(' '), r.status]);
        return r;
      };
      expect(step('pause').stderr, rt).toBe('');
      steps.push(status(rt, name));
      const frozenAt = lines(out);
      await sleep(1000);
      expect(lines(out), `${rt}: the counter moved while paused`).toBe(frozenAt);
      step('pause'); // "container not running"
      step('resume');
      steps.push(status(rt, name));
      await until(`${rt}: the counter to go on`, () => lines(out) > frozenAt + 3, 20_000);
      step('resume'); // "container not paused"
      // A paused container can be killed: runc thaws it after SIGKILL.
      step('pause');
      step('kill', '9');
      await until(`${rt}: the killed container to stop`, () => status(rt, name) === 'stopped', 20_000);
      step('resume');
      expect(cli(rt, ['delete', name]).status, rt).toBe(0);
      expect(leftovers(name), rt).toEqual([]);
      seen[rt] = steps;
    }
    expect(seen.tsvisor).toEqual([
      ['pause', 0], 'paused', ['pause', 1], ['resume', 0], 'running', ['resume', 1], ['pause', 0], ['kill 9', 0], ['resume', 1],
    ]);
    expect(seen.tsvisor).toEqual(seen.runc);
  }, 120000);

  it('a created container can be paused and resumed, and then started', async () => {
    const seen: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      const name = `pausec-${rt}`;
      const out = path.join(base, `${name}.out`);
      createAndStart(rt, bundle(name, ['echo', 'hello']), name, out, false);
      const r = [cli(rt, ['pause', name]).status, status(rt, name), cli(rt, ['start', name]).status, cli(rt, ['resume', name]).status, status(rt, name)];
      expect(cli(rt, ['start', name]).status).toBe(0);
      await until(`${rt}: the container to finish`, () => status(rt, name) === 'stopped', 20_000);
      seen[rt] = [...r, fs.readFileSync(out, 'utf8')];
      cli(rt, ['delete', name]);
    }
    expect(seen.tsvisor).toEqual([0, 'paused', 1, 0, 'created', 'hello\n']);
    expect(seen.tsvisor).toEqual(seen.runc);
  });
});

describe('update', () => {
  it('changes the limits in the cgroup files, from flags and from JSON on stdin, as under runc', () => {
    const files = ['memory/memory.limit_in_bytes', 'memory/memory.memsw.limit_in_bytes', 'cpu/cpu.shares', 'cpu/cpu.cfs_quota_us', 'pids/pids.max'];
    const seen: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      const name = `update-${rt}`;
      createAndStart(rt, bundle(name, ['sleep', '1000'], (c) => (c.linux.resources = { memory: { limit: 64 << 20, swap: 128 << 20 }, pids: { limit: 10 } })), name, path.join(base, `${name}.out`));
      const steps: unknown[] = [cgroupFiles(name, files)];
      const upd = (args: string[], input = '') => {
        const r = cli(rt, ['update', ...args, name], input);
        steps.push([args.join(' '), r.status], cgroupFiles(name, files));
      };
      upd(['--memory', '256m', '--memory-swap', '512m', '--cpu-share', '256', '--cpu-quota', '20000', '--pids-limit', '40']);
      // What Docker sends: every field, zeros for "unchanged".
      upd(['--resources', '-'], JSON.stringify({ memory: { limit: 128 << 20, swap: 0 }, cpu: { shares: 0, quota: 0 }, pids: { limit: 50 }, blockIO: { weight: 0 } }));
      // Above memory+swap: the kernel refuses, the command fails.
      upd(['--memory', '1g']);
      upd(['--pids-limit', '-1']);
      cli(rt, ['kill', name, '9']);
      expect(cli(rt, ['delete', '--force', name]).status).toBe(0);
      seen[rt] = steps;
    }
    expect(seen.tsvisor).toEqual([
      { 'memory/memory.limit_in_bytes': String(64 << 20), 'memory/memory.memsw.limit_in_bytes': String(128 << 20), 'cpu/cpu.shares': '1024', 'cpu/cpu.cfs_quota_us': '-1', 'pids/pids.max': '10' },
      ['--memory 256m --memory-swap 512m --cpu-share 256 --cpu-quota 20000 --pids-limit 40', 0],
      { 'memory/memory.limit_in_bytes': String(256 << 20), 'memory/memory.memsw.limit_in_bytes': String(512 << 20), 'cpu/cpu.shares': '256', 'cpu/cpu.cfs_quota_us': '20000', 'pids/pids.max': '40' },
      ['--resources -', 0],
      { 'memory/memory.limit_in_bytes': String(128 << 20), 'memory/memory.memsw.limit_in_bytes': String(512 << 20), 'cpu/cpu.shares': '256', 'cpu/cpu.cfs_quota_us': '20000', 'pids/pids.max': '50' },
      ['--memory 1g', 1],
      { 'memory/memory.limit_in_bytes': String(128 << 20), 'memory/memory.memsw.limit_in_bytes': String(512 << 20), 'cpu/cpu.shares': '256', 'cpu/cpu.cfs_quota_us': '20000', 'pids/pids.max': '50' },
      ['--pids-limit -1', 0],
      { 'memory/memory.limit_in_bytes': String(128 << 20), 'memory/memory.memsw.limit_in_bytes': String(512 << 20), 'cpu/cpu.shares': '256', 'cpu/cpu.cfs_quota_us': '20000', 'pids/pids.max': 'max' },
    ]);
    expect(seen.tsvisor).toEqual(seen.runc);
  });

  it('a stopped container cannot be updated', async () => {
    for (const rt of RUNTIMES) {
      const name = `updstop-${rt}`;
      createAndStart(rt, bundle(name, ['true']), name, path.join(base, `${name}.out`));
      await until(`${rt}: the container to stop`, () => status(rt, name) === 'stopped', 20_000);
      const r = cli(rt, ['update', '--pids-limit', '5', name]);
      expect(r.status, rt).toBe(1);
      expect(r.stderr, rt).toContain('container not running');
      cli(rt, ['delete', name]);
    }
  });
});

/** The shape of a JSON value: objects as their keys (recursively), arrays and numbers by type. */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return 'array';
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x)]));
  return v === null ? 'null' : typeof v;
}

describe('events', () => {
  it('--stats prints one object in runc\'s shape, with the container\'s numbers', () => {
    const seen: Record<string, any> = {};
    for (const rt of RUNTIMES) {
      const name = `events-${rt}`;
      createAndStart(rt, bundle(name, ['/bin/sh', '-c', 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exec sleep 1000'], (c) => (c.linux.resources = { memory: { limit: 64 << 20 }, pids: { limit: 30 } })), name, path.join(base, `${name}.out`));
      const r = cli(rt, ['events', '--stats', name]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.endsWith('}\n') && r.stdout.split('\n').length, rt).toBe(2);
      seen[rt] = JSON.parse(r.stdout);
      cli(rt, ['kill', name, '9']);
      const again = cli(rt, ['delete', '--force', name]);
      expect(again.status, again.stderr).toBe(0);
    }
    const t = seen.tsvisor;
    expect([t.type, t.id]).toEqual(['stats', 'events-tsvisor']);
    expect(t.data.cpu.usage.total).toBeGreaterThan(0);
    expect(t.data.memory.usage.limit).toBe(64 << 20);
    expect(t.data.memory.usage.usage).toBeGreaterThan(0);
    expect(t.data.memory.usage.usage).toBeLessThanOrEqual(64 << 20);
    expect(t.data.pids).toEqual({ current: 1, limit: 30 });
    // Same fields as runc's, apart from counters that are zero on one side (runc leaves zeros out).
    const keys = (o: any) => Object.keys(o).sort();
    expect(keys(t)).toEqual(keys(seen.runc));
    expect(keys(t.data)).toEqual(keys(seen.runc.data));
    for (const k of ['usage', 'swap', 'kernel', 'kernelTCP']) expect(shape(t.data.memory[k]), k).toEqual(shape(seen.runc.data.memory[k]));
    expect(keys(t.data.memory.raw)).toEqual(keys(seen.runc.data.memory.raw));
    expect(shape(t.data.cpuset)).toEqual(shape(seen.runc.data.cpuset));
    expect(seen.runc.data.pids).toEqual({ current: 1, limit: 30 });
  });

  it('without --stats: one object per interval until the container stops', async () => {
    const name = 'stream';
    createAndStart('tsvisor', bundle(name, ['sleep', '2']), name, path.join(base, `${name}.out`));
    const [bin, ...pre] = runtimeArgv('tsvisor');
    const child = spawn(bin!, [...pre, 'events', '--interval', '300ms', name], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    const events = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; id: string });
    expect(events.length).toBeGreaterThanOrEqual(3);
    for (const e of events) expect([e.type, e.id]).toEqual(['stats', name]);
    expect(cli('tsvisor', ['delete', name]).status).toBe(0);
  });
});

describe('wait', () => {
  it('prints the exit status of init, as runsc does: its code, or 128 + the signal that killed it', async () => {
    const seen: Record<string, unknown> = {};
    for (const rt of ['runsc', 'tsvisor'] as const) {
      const results: unknown[] = [];
      for (const [name, args, signal] of [
        [`wait7-${rt}`, ['/bin/sh', '-c', 'sleep 1; exit 7'], undefined],
        [`wait9-${rt}`, ['sleep', '1000'], '9'],
      ] as const) {
        createAndStart(rt, bundle(name, [...args]), name, path.join(base, `${name}.out`));
        const [bin, ...pre] = runtimeArgv(rt);
        const waiter = spawn(bin!, [...pre, 'wait', name], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        waiter.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
        const code = new Promise<number | null>((resolve) => waiter.on('exit', resolve));
        if (signal) {
          await sleep(1000);
          expect(cli(rt, ['kill', name, signal]).status).toBe(0);
        }
        results.push([await code, out.replace(name, 'ID')]);
        expect(cli(rt, ['delete', '--force', name]).status).toBe(0);
      }
      seen[rt] = results;
    }
    expect(seen.tsvisor).toEqual([
      [0, '{"id":"ID","exitStatus":7}\n'],
      [0, '{"id":"ID","exitStatus":137}\n'],
    ]);
    expect(seen.tsvisor).toEqual(seen.runsc);
  }, 120000);
});

describe('many containers', () => {
  it('20 containers run in parallel, each in its own cgroups, and leave none behind', async () => {
    const runOne = (i: number) =>
      new Promise<{ status: number | null; stdout: string }>((resolve) => {
        const dir = bundle(`par-${i}`, ['/bin/sh', '-c', 'echo $((6*7))'], (c) => (c.linux.resources = { memory: { limit: 256 << 20 }, pids: { limit: 50 } }));
        const [bin, ...pre] = runtimeArgv('tsvisor');
        const child = spawn(bin!, [...pre, 'run', '--bundle', dir, `par-${i}`], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
        child.on('exit', (status) => resolve({ status, stdout }));
      });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => runOne(i)));
    expect(results).toEqual(Array.from({ length: 20 }, () => ({ status: 0, stdout: '42\n' })));
    expect(leftovers('par-')).toEqual([]);
  }, 300000);
});
