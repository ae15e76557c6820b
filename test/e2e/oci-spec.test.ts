// config.json fields honoured as runc honours them: each case runs the same
// bundle under `runc run` and `tsvisor run` and compares what the container
// printed, its exit status and, where it matters, the files on the host.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Outcome, RUNTIMES, type Runtime, TSVISOR, busyboxRoot, hostOwners, rmrf, runBundle, specBundle, whenRunning } from './harness.js';
import { compile } from './robust-helpers.js';

let base: string;
let rootfs: string;
let counter = 0;

function runtimeArgv(rt: Runtime): string[] {
  return rt === 'runc' ? ['runc', '--root', path.join(base, 'state-runc')] : [TSVISOR, '--root', path.join(base, 'state-tsvisor')];
}

/** A bundle with `tsvisor spec`'s config.json, the test root, `args`, and `edit` applied. */
function bundle(args: string[], edit: (c: Record<string, any>) => void): string {
  return specBundle(path.join(base, `b${counter++}`), rootfs, args, edit);
}

const run = (rt: Runtime, dir: string): Outcome => runBundle(rt, base, dir, [], 60000);

/** Runs the bundle under both runtimes; returns tsvisor's outcome after checking it equals runc's. */
function same(args: string[], edit: (c: Record<string, any>) => void = () => {}): Outcome {
  const out: Record<string, Outcome> = {};
  for (const rt of RUNTIMES) out[rt] = run(rt, bundle(args, edit));
  expect(out.tsvisor).toEqual(out.runc);
  return out.tsvisor!;
}

const sh = (script: string) => ['/bin/sh', '-c', script];

beforeAll(() => {
  base = fs.mkdtempSync('/var/tmp/tsvisor-ocispec-');
  rootfs = busyboxRoot();
  fs.chmodSync(rootfs, 0o755); // for cases that run as a user other than root
  fs.writeFileSync(path.join(rootfs, 'etc/secret'), 'secret\n');
  fs.mkdirSync(path.join(rootfs, 'srv/hidden'), { recursive: true });
  fs.writeFileSync(path.join(rootfs, 'srv/hidden/file'), 'hidden\n');
});

afterAll(() => {
  rmrf(base);
  rmrf(rootfs);
});

describe('linux.maskedPaths and linux.readonlyPaths', () => {
  it('masked files read empty, masked directories are empty, missing paths are skipped; read-only paths refuse writes', () => {
    const host = path.join(base, 'data');
    for (const d of ['ro', 'rw']) fs.mkdirSync(path.join(host, d), { recursive: true });
    const script = [
      'cat /etc/secret; echo "[$?]"',
      'ls -l /etc/secret | cut -c1-10',
      'ls -A /srv/hidden; echo "[$?]"',
      'touch /srv/hidden/x; echo "[$?]"',
      'echo x > /data/ro/f; echo "[$?]"',
      'echo x > /data/rw/f; echo "[$?]"',
      'cat /data/rw/f',
    ].join('; ');
    const r = same(sh(script), (c) => {
      c.mounts.push({ destination: '/data', type: 'bind', source: host, options: ['rbind', 'rw'] });
      c.linux.maskedPaths = ['/etc/secret', '/srv/hidden', '/does/not/exist'];
      c.linux.readonlyPaths = ['/data/ro', '/not/there/either'];
    });
    expect(r.stdout).toBe('[0]\ncrw-rw-rw-\n[0]\n[1]\n[1]\n[0]\nx\n');
    expect(r.stderr).toBe("touch: /srv/hidden/x: Read-only file system\n/bin/sh: can't create /data/ro/f: Read-only file system\n");
    expect(r.status).toBe(0);
    expect(fs.readdirSync(path.join(host, 'ro'))).toEqual([]);
  });
});

describe('process.args', () => {
  it.each([
    ['nonexistent-cmd', 'exec: "nonexistent-cmd": executable file not found in $PATH'],
    ['/bin/nope', 'exec: "/bin/nope": stat /bin/nope: no such file or directory'],
    ['/etc/passwd', 'exec: "/etc/passwd": permission denied'],
    ['/etc', 'exec: "/etc": permission denied'],
  ])('%s: run fails before the container starts, with runc\'s message', (cmd, message) => {
    for (const rt of RUNTIMES) {
      const r = run(rt, bundle([cmd], () => {}));
      expect(r.status, rt).toBe(1);
      expect(r.stdout, rt).toBe('');
      // runc logs in logfmt, with its quotes escaped.
      expect(r.stderr.replace(/\\"/g, '"'), rt).toContain(`unable to start container process: ${message}`);
    }
  });
});

describe('linux.sysctl', () => {
  it('namespaced sysctls are set in the container\'s own namespaces and read back', () => {
    const script = [
      'cat /proc/sys/net/ipv4/ping_group_range /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shmmni',
      // A non-root user may bind port 80 once ip_unprivileged_port_start is 0.
      'timeout 1 nc -l -p 80; echo "nc=$?"',
    ].join('; ');
    const r = same(sh(script), (c) => {
      c.process.user = { uid: 1000, gid: 1000 };
      c.linux.sysctl = { 'net.ipv4.ping_group_range': '0 2147483647', 'net.ipv4.ip_unprivileged_port_start': '0', 'kernel.shmmni': '1234' };
    });
    expect(r.stdout).toBe('0\t2147483647\n0\n1234\nnc=143\n');
    expect(fs.readFileSync('/proc/sys/kernel/shmmni', 'utf8')).not.toBe('1234\n');
  });

  it.each([
    ['vm.swappiness', '10', (c: Record<string, any>) => c],
    ['net.ipv4.ip_forward', '1', (c: Record<string, any>) => (c.linux.namespaces = c.linux.namespaces.filter((n: { type: string }) => n.type !== 'network'))],
  ])('%s is refused before anything runs, as by runc', (key, value, edit) => {
    const before = fs.readFileSync(`/proc/sys/${key.replace(/\./g, '/')}`, 'utf8');
    for (const rt of RUNTIMES) {
      const r = run(rt, bundle(sh('echo ran'), (c) => {
        edit(c);
        c.linux.sysctl = { [key]: value };
      }));
      expect(r.status, rt).toBe(1);
      expect(r.stdout, rt).toBe('');
      expect(r.stderr, rt).toContain(key);
    }
    expect(fs.readFileSync(`/proc/sys/${key.replace(/\./g, '/')}`, 'utf8')).toBe(before);
  });
});

describe('process', () => {
  it('user, additional groups, umask, cwd, env, rlimits', () => {
    const r = same(sh('id; umask; pwd; echo "$FOO"; ulimit -n; ulimit -Hn; ulimit -s'), (c) => {
      c.process.user = { uid: 1000, gid: 1000, additionalGids: [10, 20], umask: 0o027 };
      c.process.cwd = '/tmp';
      c.process.env.push('FOO=bar baz');
      c.process.rlimits = [
        { type: 'RLIMIT_NOFILE', soft: 321, hard: 654 },
        { type: 'RLIMIT_STACK', soft: 4194304, hard: 8388608 },
      ];
    });
    expect(r.stdout).toBe('uid=1000 gid=1000 groups=10,20\n0027\n/tmp\nbar baz\n321\n654\n4096\n');
  });

  it('capabilities: the sets the spec gives, as /proc/self/status shows them', () => {
    same(sh('grep -E "^Cap(Inh|Prm|Eff|Bnd|Amb)" /proc/self/status'), (c) => {
      const caps = ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
      c.process.capabilities = { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: [] };
    });
  });

  it.each([
    ['root', 0],
    ['a user other than root', 1000],
  ])('capabilities for %s: inheritable and ambient sets, and sets smaller than the bounding set', (_, uid) => {
    const r = same(sh('grep -E "^Cap(Inh|Prm|Eff|Bnd|Amb)" /proc/self/status'), (c) => {
      c.process.user = { uid, gid: uid };
      c.process.capabilities = {
        bounding: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SETUID'],
        effective: ['CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW'],
        permitted: ['CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW'],
        inheritable: ['CAP_NET_BIND_SERVICE', 'CAP_NET_RAW'],
        ambient: ['CAP_NET_BIND_SERVICE'],
      };
    });
    // Ambient CAP_NET_BIND_SERVICE (bit 10) survives the exec of a user's program; inheritable has bit 13 too.
    expect(r.stdout).toContain('CapInh:\t0000000000002400\nCapPrm:\t');
    expect(r.stdout).toContain('CapAmb:\t0000000000000400\n');
  });

  it.each([true, false])('noNewPrivileges %s, as /proc/self/status shows it', (nnp) => {
    const r = same(sh('grep NoNewPrivs /proc/self/status'), (c) => {
      c.process.noNewPrivileges = nnp;
      c.process.user = { uid: 1000, gid: 1000 };
    });
    expect(r.stdout).toBe(`NoNewPrivs:\t${nnp ? 1 : 0}\n`);
  });

  // Set-id exec in detail: test/e2e/setid.test.ts.
  // busybox, run set-user-id, drops the ids itself for an applet not marked
  // as needing them (sh), under runc as under tsvisor.
  it('noNewPrivileges false: a set-user-ID busybox of the container root, as under runc; the Sentry still traps the guest', () => {
    // busybox picks its applet by its own name: the copy keeps it, in a directory of its own.
    const suid = path.join(rootfs, 'suid/busybox');
    fs.mkdirSync(path.dirname(suid));
    fs.copyFileSync('/bin/busybox', suid);
    fs.chmodSync(suid, 0o4755);
    const edit = (c: Record<string, any>) => {
      c.process.noNewPrivileges = false;
      c.process.user = { uid: 1000, gid: 1000 };
    };
    try {
      const r = same(['/suid/busybox', 'sh', '-c', 'id -u; grep -E "^(CapEff|NoNewPrivs)" /proc/self/status'], edit);
      expect(r).toEqual({ status: 0, stdout: '1000\nCapEff:\t0000000000000000\nNoNewPrivs:\t0\n', stderr: '' });
      // The Sentry's mount table, not the host's.
      expect(run('tsvisor', bundle(['/suid/busybox', 'sh', '-c', 'head -1 /proc/self/mountinfo | cut -d" " -f1-5'], edit)).stdout).toBe('1 1 254:0 / /\n');
    } finally {
      fs.rmSync(path.dirname(suid), { recursive: true });
    }
  });

  it('rlimits with a soft limit below the hard one', () => {
    const r = same(sh('ulimit -Sn; ulimit -Hn; ulimit -Sc; ulimit -Hc'), (c) => {
      c.process.rlimits = [
        { type: 'RLIMIT_NOFILE', soft: 3000, hard: 4000 },
        { type: 'RLIMIT_CORE', soft: 1024 * 1024, hard: 2 * 1024 * 1024 },
      ];
    });
    expect(r.stdout).toBe('3000\n4000\n2048\n4096\n');
  });

  it('noNewPrivileges and oomScoreAdj, which the process may raise', () => {
    const r = same(sh('grep NoNewPrivs /proc/self/status; cat /proc/self/oom_score_adj; echo 700 > /proc/self/oom_score_adj; cat /proc/self/oom_score_adj; echo 100 > /proc/self/oom_score_adj; echo "[$?]"'), (c) => {
      c.process.noNewPrivileges = true;
      c.process.oomScoreAdj = 500;
      c.process.capabilities = { bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] };
    });
    expect(r.stdout).toBe('NoNewPrivs:\t1\n500\n700\n[0]\n');
  });

  it('hostname', () => {
    const r = same(sh('hostname; cat /proc/sys/kernel/hostname; uname -n'), (c) => (c.hostname = 'box-one'));
    expect(r.stdout).toBe('box-one\nbox-one\nbox-one\n');
  });

  // runc 1.1 ignores the spec's domainname (added to runc in 1.2); tsvisor sets it.
  it('domainname', () => {
    const r = run('tsvisor', bundle(sh('cat /proc/sys/kernel/domainname'), (c) => (c.domainname = 'example.org')));
    expect(r).toEqual({ status: 0, stdout: 'example.org\n', stderr: '' });
  });
});

describe('mounts', () => {
  it('tmpfs size and mode, read-only binds, mqueue, devpts, cgroup', () => {
    const host = path.join(base, 'ro-src');
    fs.mkdirSync(host, { recursive: true });
    fs.writeFileSync(path.join(host, 'f'), 'host file\n');
    const script = [
      'stat -c "%a %U" /scratch; df -k /scratch | tail -1 | tr -s " " | cut -d" " -f2',
      'cat /ro/f; echo x > /ro/g; echo "[$?]"',
      'ls -ld /dev/mqueue /dev/pts | cut -c1-10',
      'grep -c . /proc/self/mountinfo >/dev/null && echo ok',
    ].join('; ');
    same(sh(script), (c) => {
      c.mounts.push({ destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['size=1m', 'mode=710'] });
      c.mounts.push({ destination: '/ro', type: 'bind', source: host, options: ['rbind', 'ro'] });
    });
    expect(fs.readdirSync(host)).toEqual(['f']);
  });
});

describe('tmpfs options', () => {
  it('size, nr_inodes, mode, uid, gid, noexec and /dev/shm: mountinfo, /proc/mounts, statfs, df, ENOSPC, exec and PROT_EXEC as under runc', () => {
    compile('mountflags', path.join(rootfs, 'bin'));
    // Fields 4 on of mountinfo (mount ids and device numbers differ between runtimes).
    const mountinfo = (dir: string) => `grep " ${dir} " /proc/self/mountinfo | cut -d" " -f4-; grep " ${dir} " /proc/mounts`;
    const script = [
      mountinfo('/tmpfs-opts'),
      mountinfo('/dev/shm'),
      mountinfo('/dev'),
      'stat -c "%a %u %g" /tmpfs-opts; df -k /tmpfs-opts /dev/shm | tail -2 | tr -s " " | cut -d" " -f1,2,6',
      'dd if=/dev/zero of=/tmpfs-opts/big bs=1k count=2048 2>&1 | head -1; ls -l /tmpfs-opts/big | tr -s " " | cut -d" " -f5',
      'rm /tmpfs-opts/big; i=0; while [ $i -lt 10 ] && touch /tmpfs-opts/f$i 2>/dev/null; do i=$((i+1)); done; echo "files: $i"; rm /tmpfs-opts/f*',
      'cp /bin/mountflags /tmpfs-opts/x; /tmpfs-opts/x; echo "[$?]"; cp /bin/mountflags /dev/shm/x; /dev/shm/x; echo "[$?]"; cp /bin/mountflags /tmpfs-exec/x; /tmpfs-exec/x; echo "[$?]"',
      'mountflags statfs /tmpfs-opts inodes /tmpfs-opts statfs /dev/shm statfs /tmpfs-exec exec /tmpfs-opts/x exec /dev/shm/x exec /tmpfs-exec/x exec /bin/mountflags',
    ].join('; ');
    const r = same(sh(script), (c) => {
      c.mounts = c.mounts.filter((m: { destination: string }) => m.destination !== '/dev/shm');
      // As Docker writes --tmpfs, --shm-size and destinations that no other case uses: runc 1.1 gives a tmpfs on an existing directory that directory's mode (runc 1.1 keeps an existing one's mode).
      c.mounts.push({ destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=1m'] });
      c.mounts.push({ destination: '/tmpfs-opts', type: 'tmpfs', source: 'tmpfs', options: ['rw', 'noexec', 'nosuid', 'nodev', 'size=100k', 'nr_inodes=6', 'mode=777', 'uid=5', 'gid=6'] });
      c.mounts.push({ destination: '/tmpfs-exec', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'exec', 'dev', 'size=1m'] });
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('/tmpfs-opts rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,size=100k,nr_inodes=6,mode=777,uid=5,gid=6\n');
    expect(r.stdout).toContain('/dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=1024k\n');
    expect(r.stdout).toContain('mmap PROT_EXEC /tmpfs-opts/x: EPERM\nmprotect PROT_EXEC /tmpfs-opts/x: EACCES\n');
    expect(r.stdout).toContain('mmap PROT_EXEC /tmpfs-exec/x: ok\n');
    expect(r.stdout).toContain('files: 5\n');
  });
});

describe('the mount table', () => {
  it("lists the spec's mounts in its order, each with the source the spec names", () => {
    // The mounts runtime-tools' generator writes, /dev/pts before /dev/shm.
    const r = same(sh("cut -d' ' -f5,8,9 /proc/self/mountinfo | grep -E '^/(proc|dev|dev/pts|dev/shm|dev/mqueue|sys) '"), (c) => {
      c.mounts = [
        { destination: '/proc', type: 'proc', source: 'proc' },
        { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
        { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
        { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
        { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
        { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      ];
    });
    expect(r.stdout).toBe('/proc proc proc\n/dev tmpfs tmpfs\n/dev/pts devpts devpts\n/dev/shm tmpfs shm\n/dev/mqueue mqueue mqueue\n/sys sysfs sysfs\n');
  });
});

describe('hooks', () => {
  it('run at the points runc runs them, with the state on stdin, their args and env', () => {
    // startContainer hooks run in the container (their path is the
    // container's), the others where runc 1.1 runs them, before the pivot
    // (the host's paths); all log to one file, which the container sees
    // through a bind mount.
    const script = '#!/bin/sh\nstate=$(cat)\necho "$1 $HOOKVAR $(echo "$state" | grep -o \'"status":"[a-z]*"\') $(echo "$state" | grep -o \'"id":"[^"]*"\')" >> "$2"\n';
    const hostHook = path.join(base, 'hook.sh');
    fs.writeFileSync(hostHook, script);
    fs.chmodSync(hostHook, 0o755);
    fs.writeFileSync(path.join(rootfs, 'hook.sh'), script);
    fs.chmodSync(path.join(rootfs, 'hook.sh'), 0o755);
    const logs: Record<string, string> = {};
    for (const rt of RUNTIMES) {
      const dir = path.join(base, `hooklog-${rt}`);
      fs.mkdirSync(dir);
      const inside = new Set(['startContainer']);
      const kinds = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];
      const r = run(rt, bundle(sh('echo container ran'), (c) => {
        c.mounts.push({ destination: '/hooklog', type: 'bind', source: dir, options: ['rbind', 'rw'] });
        c.hooks = Object.fromEntries(
          kinds.map((k) => [
            k,
            [{ path: inside.has(k) ? '/hook.sh' : hostHook, args: ['hook.sh', k, inside.has(k) ? '/hooklog/log' : path.join(dir, 'log')], env: [`HOOKVAR=${k}-env`] }],
          ]),
        );
      }));
      expect(r, rt).toEqual({ status: 0, stdout: 'container ran\n', stderr: '' });
      logs[rt] = fs.readFileSync(path.join(dir, 'log'), 'utf8');
    }
    const lines = (log: string) => log.trim().split('\n').map((l) => l.replace(/"id":"t\d+-\d+"$/, '"id":"ID"'));
    expect(lines(logs.tsvisor!)).toEqual([
      'prestart prestart-env "status":"creating" "id":"ID"',
      'createRuntime createRuntime-env "status":"creating" "id":"ID"',
      'createContainer createContainer-env "status":"creating" "id":"ID"',
      'startContainer startContainer-env "status":"created" "id":"ID"',
      'poststart poststart-env "status":"running" "id":"ID"',
      'poststop poststop-env "status":"stopped" "id":"ID"',
    ]);
    // runc runs poststart as it lets the process go, racing startContainer
    // inside, and reads the state before the process runs.
    const runcLines = lines(logs.runc!).map((l) => l.replace(/^(poststart poststart-env "status":)"created"/, '$1"running"'));
    expect([...runcLines].sort()).toEqual([...lines(logs.tsvisor!)].sort());
  });

  // The OCI spec: a failed poststop hook is a warning, the remaining hooks
  // still run. runc 1.1 warns too but skips the hooks after the failed one.
  it('a failing poststop hook is a warning; the hooks after it still run', () => {
    const log = path.join(base, 'poststop-log');
    const r = run('tsvisor', bundle(sh('echo container ran'), (c) => {
      c.hooks = { poststop: [{ path: '/bin/false' }, { path: '/bin/sh', args: ['sh', '-c', `echo second >> ${log}`] }] };
    }));
    expect(r).toEqual({ status: 0, stdout: 'container ran\n', stderr: 'tsvisor: warning: poststop hook /bin/false failed: exit status 1\n' });
    expect(fs.readFileSync(log, 'utf8')).toBe('second\n');
  });

  // runc saves the config at create and runs the poststop hooks it had
  // then, whatever config.json says at delete; so does tsvisor (and its
  // shell deletes a container created without any, bin/tsvisor).
  it('poststop hooks are those of create, however config.json changes before delete', () => {
    const outcome = (rt: Runtime, before: string[], after: string[]) => {
      const log = path.join(base, `poststop-${rt}-${counter++}.log`);
      const hooks = (names: string[]) => (names.length ? { poststop: names.map((n) => ({ path: '/bin/sh', args: ['sh', '-c', `echo ${n} >> ${log}`] })) } : {});
      const dir = bundle(sh('true'), (c) => (c.hooks = hooks(before)));
      const id = `c${counter++}`;
      const cli = (...args: string[]) =>
        spawnSync(runtimeArgv(rt)[0]!, [...runtimeArgv(rt).slice(1), ...args], { encoding: 'utf8', timeout: 60000, stdio: args[0] === 'create' ? 'ignore' : ['ignore', 'pipe', 'pipe'] });
      expect(cli('create', '--bundle', dir, id).status).toBe(0);
      const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
      config.hooks = hooks(after);
      fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
      expect(cli('start', id).status).toBe(0);
      for (let i = 0; i < 200 && !/"status":\s*"stopped"/.test(cli('state', id).stdout); i++) spawnSync('sleep', ['0.05']);
      const del = cli('delete', id);
      return { status: del.status, stderr: del.stderr, ran: fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '' };
    };
    for (const [before, after] of [[['created'], []], [[], ['added']], [['created'], ['changed']]]) {
      const runc = outcome('runc', before!, after!);
      expect(runc).toEqual({ status: 0, stderr: '', ran: before!.map((n) => `${n}\n`).join('') });
      expect(outcome('tsvisor', before!, after!)).toEqual(runc);
    }
  });

  it('a failing prestart hook fails the container before it runs', () => {
    for (const rt of RUNTIMES) {
      const r = run(rt, bundle(sh('echo container ran'), (c) => (c.hooks = { prestart: [{ path: '/bin/false' }] })));
      expect(r.status, rt).toBe(1);
      expect(r.stdout, rt).toBe('');
    }
  });
});

describe('a hook that does not read its stdin', () => {
  it('create, start and delete succeed as under runc: the state it leaves unread is no error', () => {
    // A state larger than a pipe holds (its annotations), so writing it to a
    // hook that exits without reading fails with EPIPE, every time.
    const steps = (rt: Runtime) => {
      const dir = bundle(sh('true'), (c) => {
        c.annotations = { big: 'x'.repeat(256 * 1024) };
        c.hooks = { poststart: [{ path: '/bin/true' }], poststop: [{ path: '/bin/true' }] };
      });
      const id = `c${counter++}`;
      // create hands its stdio to the container: nothing to wait on there.
      const cli = (...args: string[]) =>
        spawnSync(runtimeArgv(rt)[0]!, [...runtimeArgv(rt).slice(1), ...args], { encoding: 'utf8', timeout: 60000, stdio: args[0] === 'create' ? 'ignore' : ['ignore', 'pipe', 'pipe'] });
      const out = [cli('create', '--bundle', dir, id), cli('start', id)];
      for (let i = 0; i < 200 && !/"status":\s*"stopped"/.test(cli('state', id).stdout); i++) spawnSync('sleep', ['0.05']);
      out.push(cli('delete', id));
      return out.map((x) => ({ status: x.status, stderr: x.stderr ?? '' }));
    };
    const runc = steps('runc');
    expect(runc).toEqual([{ status: 0, stderr: '' }, { status: 0, stderr: '' }, { status: 0, stderr: '' }]);
    expect(steps('tsvisor')).toEqual(runc);
  });
});

describe('linux.devices', () => {
  it('device nodes tsvisor provides appear where the spec puts them, with its mode and owner', () => {
    const r = same(sh('ls -l /dev/extra/mynull /dev/zero2 | cut -c1-10,11-40 | tr -s " "; echo hi > /dev/extra/mynull && echo written; head -c 4 /dev/zero2 | od -An -tx1'), (c) => {
      c.linux.devices = [
        { path: '/dev/extra/mynull', type: 'c', major: 1, minor: 3, fileMode: 0o620, uid: 0, gid: 5 },
        { path: '/dev/zero2', type: 'c', major: 1, minor: 5, fileMode: 0o444, uid: 1000, gid: 1000 },
      ];
    });
    expect(r.stdout).toContain('written\n');
  });

  it('a host terminal is refused at create, naming it', () => {
    const r = run('tsvisor', bundle(sh('echo ran'), (c) => (c.linux.devices = [{ path: '/dev/hostpts', type: 'c', major: 136, minor: 0, fileMode: 0o666 }])));
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('linux.devices[0]: /dev/hostpts (c 136:0): tsvisor passes no host terminals');
  });

  it('host character devices appear with the given number, mode and owner; the devices cgroup rules decide the opens, as under runc', () => {
    // /dev/loop-control and /dev/net/tun answer a write without ioctls (EINVAL, EBADFD); /dev/kvm is only opened.
    for (const d of ['/dev/loop-control', '/dev/net/tun', '/dev/kvm']) expect(fs.existsSync(d), `${d} on the host`).toBe(true);
    const script = [
      'ls -ln /dev/lc /dev/net/tunx /dev/kv | cut -c1-10,30-',
      'echo x > /dev/lc; echo "[$?]"',
      'cat /dev/net/tunx; echo "[$?]"; echo x > /dev/net/tunx; echo "[$?]"',
      'echo > /dev/kv; echo "[$?]"; cat /dev/kv; echo "[$?]"',
    ].join('; ');
    const r = same(sh(script), (c) => {
      c.linux.devices = [
        { path: '/dev/lc', type: 'c', major: 10, minor: 237, fileMode: 0o600, uid: 0, gid: 0 },
        { path: '/dev/net/tunx', type: 'c', major: 10, minor: 200, fileMode: 0o640, uid: 5, gid: 6 },
        { path: '/dev/kv', type: 'c', major: 10, minor: 232, fileMode: 0o666 },
      ];
      // Docker's shape: deny everything, then allow each device (runc adds its own allow rules for /dev/net/tun and the standard devices after these).
      c.linux.resources = {
        devices: [
          { allow: false, access: 'rwm' },
          { allow: true, type: 'c', major: 10, minor: 237, access: 'rwm' },
          { allow: true, type: 'c', major: 10, minor: 200, access: 'r' },
          { allow: true, type: 'c', major: 10, minor: 232, access: 'w' },
        ],
      };
    });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain("cat: can't open '/dev/kv': Operation not permitted\n");
    expect(r.stderr).toContain('sh: write error: Invalid argument\n');
  });
});

describe('raw sockets', () => {
  it('CAP_NET_RAW decides whether ping may open its raw socket, as under runc', () => {
    const script = sh('ping -c1 -W2 127.0.0.1 >/dev/null 2>&1 && echo ping-ok || echo ping-refused');
    const withRaw = same(script, (c) => {
      for (const set of ['bounding', 'effective', 'permitted']) c.process.capabilities[set].push('CAP_NET_RAW');
    });
    expect(withRaw.stdout).toBe('ping-ok\n');
    const without = same(script);
    expect(without.stdout).toBe('ping-refused\n');
  });
});

describe("the runtime's --network flag (runsc's)", () => {
  it('sandbox (the default) joins the network namespace the spec names; none gives the container one of its own with loopback only', () => {
    const ns = `tsv-net-${process.pid}`;
    const add = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8' });
    expect(add.status, add.stderr).toBe(0);
    try {
      const veth = spawnSync('ip', ['-n', ns, 'link', 'add', 'tsvv0', 'type', 'veth', 'peer', 'name', 'tsvv1'], { encoding: 'utf8' });
      expect(veth.status, veth.stderr).toBe(0);
      const withPath = (c: Record<string, any>) => {
        c.linux.namespaces = c.linux.namespaces.map((n: { type: string }) => (n.type === 'network' ? { type: 'network', path: `/run/netns/${ns}` } : n));
      };
      const links = sh('ip -o link | cut -d: -f2 | cut -d@ -f1 | tr -d " " | sort | tr "\\n" " "');
      const runWith = (flags: string[]) =>
        spawnSync(TSVISOR, ['--root', path.join(base, 'state-net'), ...flags, 'run', '--bundle', bundle(links, withPath), `net${counter++}`], { encoding: 'utf8', timeout: 60000 });
      const joined = runWith([]);
      expect(joined.stdout, joined.stderr).toBe('lo tsvv0 tsvv1 ');
      const none = runWith(['--network=none']);
      expect(none.stdout, none.stderr).toBe('lo ');
    } finally {
      spawnSync('ip', ['netns', 'delete', ns]);
    }
  });
});

describe('runtime flags tsvisor refuses', () => {
  it('--platform=ptrace: create fails, saying why', () => {
    const r = spawnSync(TSVISOR, ['--root', path.join(base, 'state-p'), '--platform=ptrace', 'run', '--bundle', bundle(sh('echo ran'), () => {}), `p${counter++}`], { encoding: 'utf8', timeout: 60000 });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('--platform=ptrace is not supported');
  });
});

describe('linux.uidMappings and gidMappings (a user namespace in the spec)', () => {
  /** Docker's userns-remap range (dockremap:100000:65536). */
  const REMAP = [{ containerID: 0, hostID: 100000, size: 65536 }];

  /**
   * A copy of the test root owned by host 100000, as Docker's userns-remap
   * prepares it (runc's mapped root must be able to reach it).
   */
  function mappedRoot(name: string): string {
    fs.chmodSync(base, 0o711);
    const mapped = path.join(base, `mapped-root-${name}`);
    fs.cpSync(rootfs, mapped, { recursive: true, verbatimSymlinks: true });
    fs.chmodSync(mapped, 0o755);
    spawnSync('chown', ['-R', '-h', '100000:100000', mapped]);
    return mapped;
  }

  /** The spec's user namespace with `uid`/`gid` mappings, on a writable `root`. */
  const userns = (root: string, uid: object[], gid: object[] = uid) => (c: Record<string, any>) => {
    c.root = { path: root, readonly: false };
    c.linux.namespaces.push({ type: 'user' });
    c.linux.uidMappings = uid;
    c.linux.gidMappings = gid;
  };

  /** The ids the host's /proc/PID/status gives the container's processes (what docker top and ps read), by command line. */
  async function hostIds(rt: Runtime, dir: string, execUser: string | null, log = path.join(base, `log-${counter++}`)): Promise<string[]> {
    const argv = [...runtimeArgv(rt), ...(rt === 'tsvisor' ? ['--log', log] : [])];
    const id = `ids${process.pid}-${counter++}`;
    // create and exec --detach hand their stdio to the container: nothing to wait on there.
    const cli = (...args: string[]) => spawnSync(argv[0]!, [...argv.slice(1), ...args], { encoding: 'utf8', timeout: 60000, stdio: 'ignore' });
    expect(cli('create', '--bundle', dir, id).status, `${rt} create`).toBe(0);
    try {
      expect(cli('start', id).status, `${rt} start`).toBe(0);
      if (execUser) expect(cli('exec', '--detach', '--user', execUser, id, 'sleep', '61').status, `${rt} exec`).toBe(0);
      const pids = await whenRunning(argv, id, execUser ? 'sleep 61' : 'sleep 60');
      return pids
        .map((pid) => {
          const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
          const line = (key: string) => new RegExp(`^${key}:[ \\t]*(.*)$`, 'm').exec(status)![1]!.trim().split(/\s+/).join(' ');
          const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
          return `${cmd}: ${['Uid', 'Gid', 'Groups'].map((k) => `${k} ${line(k)}`.trim()).join(', ')}`;
        })
        .sort();
    } finally {
      cli('delete', '--force', id);
    }
  }

  it('files show the container ids the mappings give, and what the container makes is owned on the host by the mapped ids', () => {
    const hostFiles: Record<string, string> = {};
    for (const rt of RUNTIMES) {
      const mapped = mappedRoot(rt);
      fs.chownSync(path.join(mapped, 'etc/hostname'), 0, 0); // a host file no mapping covers
      const script = [
        'id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map',
        "ls -ln /etc/passwd /etc/hostname | awk '{print $3, $4, $9}'",
        'echo made > /tmp/made; mkdir /tmp/dir; chown 1000:1000 /tmp/dir',
        "ls -lnd /tmp/made /tmp/dir | awk '{print $3, $4, $9}'",
      ].join('; ');
      const r = run(rt, bundle(sh(script), (c) => {
        userns(mapped, REMAP)(c);
        for (const set of ['bounding', 'effective', 'permitted']) c.process.capabilities[set].push('CAP_CHOWN');
      }));
      expect(r, rt).toEqual({
        status: 0,
        stdout: `0\n0\n${'         0     100000      65536\n'.repeat(2)}65534 65534 /etc/hostname\n0 0 /etc/passwd\n1000 1000 /tmp/dir\n0 0 /tmp/made\n`,
        stderr: '',
      });
      hostFiles[rt] = hostOwners(mapped, ['tmp/made', 'tmp/dir']).join(', ');
    }
    expect(hostFiles.tsvisor).toBe('tmp/made 100000:100000, tmp/dir 101000:101000');
    expect(hostFiles.tsvisor).toEqual(hostFiles.runc);
  });

  it('POSIX ACLs of host files name the container ids the mappings give: set, read, refused for an unmapped id, as under runc', () => {
    const acl = compile('posixacl', base);
    const out: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      const mapped = mappedRoot(`acl-${rt}`);
      fs.copyFileSync(acl, path.join(mapped, 'posixacl'));
      fs.chmodSync(path.join(mapped, 'posixacl'), 0o755);
      const dir = path.join(mapped, 'tmp');
      spawnSync(acl, [dir, 'ids-setup']);
      fs.chownSync(path.join(dir, 'hostf'), 100000, 100000);
      const inside = run(rt, bundle(['/posixacl', '/tmp', 'ids'], userns(mapped, REMAP)));
      const host = spawnSync(acl, [dir, 'ids-show'], { encoding: 'utf8' }).stdout;
      out[rt] = { inside, host };
    }
    const ts = out.tsvisor as { inside: Outcome; host: string };
    // the host's 101000 is the container's 1000; its 5 no mapping covers (-1, not the overflow id)
    expect(ts.inside.stdout).toContain('hostf get: 52 02000000 01000600 ffffffff 02000600 e8030000 02000400 ffffffff ');
    expect(ts.inside.stdout).toContain('idf unmapped user: -1 EINVAL\n');
    // the container's 1000 and 2000 are the host's 101000 and 102000
    expect(ts.host).toBe('idf get: 52 02000000 01000600 ffffffff 02000600 888a0100 04000400 ffffffff 08000400 708e0100 10000600 ffffffff 20000000 ffffffff\n');
    expect(out.tsvisor).toEqual(out.runc);
  });

  it('a host file the mappings do not cover: neither the container root (with CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_CHOWN) nor its uid 65534 may read, change or chown it, as under runc', () => {
    const out: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      const mapped = mappedRoot(`unmapped-${rt}`);
      const secret = path.join(mapped, 'etc/secret');
      fs.chownSync(secret, 0, 0);
      fs.chmodSync(secret, 0o600);
      const script = 'cat /etc/secret; echo "[$?]"; chmod 666 /etc/secret; echo "[$?]"; chown 0:0 /etc/secret; echo "[$?]"; touch /etc/secret; echo "[$?]"; ls -ln /etc/secret | cut -d" " -f1-6';
      const runs = [0, 65534].map((uid) =>
        run(rt, bundle(sh(script), (c) => {
          userns(mapped, REMAP)(c);
          c.process.user = { uid, gid: uid };
          for (const set of ['bounding', 'effective', 'permitted']) c.process.capabilities[set].push('CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_CHOWN');
        })),
      );
      const st = fs.statSync(secret);
      out[rt] = { runs, host: `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}` };
    }
    expect((out.tsvisor as { host: string }).host).toBe('600 0:0');
    expect(out.tsvisor).toEqual(out.runc);
  });

  it("a user of the container: its ids, and a bind mount's files it makes, owned on the host by its mapped ids", () => {
    const out: Record<string, { run: Outcome; host: string; unmapped: Outcome }> = {};
    for (const rt of RUNTIMES) {
      const mapped = mappedRoot(`user-${rt}`);
      const data = path.join(base, `mapped-data-${rt}`);
      fs.mkdirSync(data);
      fs.chownSync(data, 101000, 101000); // the container's uid 1000
      const script = [
        'id -u; id -g; id -G',
        'echo made > /data/file; mkdir /data/dir; ln -s file /data/link',
        "ls -ln /data | awk 'NR > 1 {print $3, $4, $9}'",
        'touch /etc/passwd 2>&1; echo "[$?]"', // the container root's
      ].join('; ');
      const r = run(rt, bundle(sh(script), (c) => {
        userns(mapped, [{ containerID: 0, hostID: 100000, size: 1001 }], REMAP)(c);
        c.process.user = { uid: 1000, gid: 1000, additionalGids: [1000, 10] };
        c.mounts.push({ destination: '/data', type: 'bind', source: data, options: ['rbind', 'rw'] });
      }));
      const host = hostOwners(data).join(', ');
      // Ids the spec does not map (uids above 1000 here), as root.
      const unmapped = run(rt, bundle(sh('touch /tmp/f; chown 2000 /tmp/f; echo "[$?]"; su -s /bin/sh -c id nobody; echo "[$?]"'), (c) => {
        userns(mapped, [{ containerID: 0, hostID: 100000, size: 1001 }], REMAP)(c);
        for (const set of ['bounding', 'effective', 'permitted']) c.process.capabilities[set].push('CAP_CHOWN', 'CAP_SETUID', 'CAP_SETGID');
      }));
      out[rt] = { run: r, host, unmapped };
    }
    expect(out.tsvisor!.run.stdout).toMatch(/^1000\n1000\n1000 10\n1000 1000 dir\n1000 1000 file\n1000 1000 link\n/);
    expect(out.tsvisor!.host).toBe('dir 101000:101000, file 101000:101000, link 101000:101000');
    expect(out.tsvisor).toEqual(out.runc);
  });

  it("the host sees the guest's processes with the ids runc's have (/proc/PID/status, which docker top and ps read)", async () => {
    const seen: Record<string, string[]> = {};
    for (const rt of RUNTIMES) {
      const dir = bundle(['sleep', '60'], (c) => {
        userns(mappedRoot(`ps-${rt}`), REMAP)(c);
        c.process.user = { uid: 0, gid: 0, additionalGids: [10] };
      });
      seen[rt] = await hostIds(rt, dir, '1000:1000');
    }
    expect(seen.tsvisor).toEqual([
      'sleep 60: Uid 100000 100000 100000 100000, Gid 100000 100000 100000 100000, Groups 100010',
      'sleep 61: Uid 101000 101000 101000 101000, Gid 101000 101000 101000 101000, Groups 100010',
    ]);
    expect(seen.tsvisor).toEqual(seen.runc);
  });

  it("mappings that include host root: runc's root is the host's, tsvisor keeps its own range and says why in its log", async () => {
    // Container 0 is host 0, the rest Docker's range.
    const uid = [{ containerID: 0, hostID: 0, size: 1 }, { containerID: 1, hostID: 100001, size: 65535 }];
    const seen: Record<string, string[]> = {};
    const log = path.join(base, 'log-refused');
    for (const rt of RUNTIMES) seen[rt] = await hostIds(rt, bundle(['sleep', '60'], userns(mappedRoot(`root-${rt}`), uid)), null, log);
    expect(seen.runc).toEqual(['sleep 60: Uid 0 0 0 0, Gid 0 0 0 0, Groups']);
    expect(seen.tsvisor).toEqual(['sleep 60: Uid 1000000000 1000000000 1000000000 1000000000, Gid 1000000000 1000000000 1000000000 1000000000, Groups']);
    expect(fs.readFileSync(log, 'utf8')).toContain("the guest runs in tsvisor's own user namespace (host ids 1000000000+), not the spec's: the spec's uid/gid mappings include host uid 0, which tsvisor never gives a guest");
    // Inside, the container's ids are its own either way.
    const r = run('tsvisor', bundle(sh('id -u; id -g'), userns(mappedRoot('root-id'), uid)));
    expect(r).toEqual({ status: 0, stdout: '0\n0\n', stderr: '' });
  });
});
