// tsvisor do as an ordinary user (issue 11, item 2; docs/design.md,
// "Rootless"). The suite runs as root, so every run here, native or
// sandboxed, is made as a user of its own (uid 4242, gid 4243: different
// numbers, so a uid taken for a gid shows), through spawn's uid/gid.
// Nothing is skipped: a host that gives an ordinary user no user namespace,
// or a checkout that user cannot read, fails the first tests with the reason.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Run, type RunOptions, REPO, TSVISOR, rmrf, runNative, runSandbox, sh, tempDir, treeSnapshot } from './harness.js';
import { expectSameRun } from './differential.js';
import {
  CLEAN,
  HostHelper,
  NAMES,
  SandboxRun,
  compileEscape,
  goferAndSignalsGuest,
  hostSystemState,
  pidReuse,
  rand,
  varTmpDir,
  verdict,
  waitFor,
} from './escape-helpers.js';
import { runObserved, runWithEvents } from './access-run.js';
import { compile } from './robust-helpers.js';
import { userNamespaceBlocker } from '../../src/sentry/rootless.js';

const UID = 4242;
const GID = 4243;
const PATH = '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin';

let home: string;
let work: string;
let escapeDir: string;
let escapeBin: string;

const userEnv = (): NodeJS.ProcessEnv => ({ PATH, HOME: home, LANG: 'C', LC_ALL: 'C' });
const asUser = (o: RunOptions = {}): RunOptions => ({ uid: UID, gid: GID, env: userEnv(), ...o });
const native = (argv: string[], o: RunOptions = {}): Run => runNative(argv, asUser(o));
/** `tsvisor do` as the user; --memory 0 unless the test sets limits (a cgroup it may not have would warn). */
const sandbox = (argv: string[], o: RunOptions & { doFlags?: string[] } = {}): Run =>
  runSandbox(argv, { ...asUser(o), doFlags: o.doFlags ?? ['--memory', '0'] });

/** Makes `p` the user's. */
function own(p: string, mode: number): void {
  fs.chownSync(p, UID, GID);
  fs.chmodSync(p, mode);
}

beforeAll(() => {
  home = tempDir('rootless-home');
  own(home, 0o700);
  work = tempDir('rootless-work');
  own(work, 0o755);
  escapeDir = varTmpDir('rootless-escape');
  escapeBin = compileEscape(escapeDir);
});

afterAll(() => {
  for (const d of [home, work, escapeDir]) if (d) rmrf(d);
});

describe('the host and the checkout', () => {
  it('let an ordinary user make user namespaces (else the reason)', () => {
    const r = native(['unshare', '--user', '--map-root-user', 'true']);
    expect(r.status, `an ordinary user cannot make a user namespace here (${userNamespaceBlocker() ?? r.stderr.trim()}): tsvisor cannot run rootless`).toBe(0);
    expect(userNamespaceBlocker()).toBeUndefined();
  });

  it('let that user run tsvisor from this checkout', () => {
    const r = native([TSVISOR, '--version']);
    expect(r.status, `uid ${UID} cannot run ${TSVISOR} (the checkout ${REPO} must be readable by it): ${r.stderr}`).toBe(0);
  });

  it('a host that forbids them gets a one-line error naming the setting', () => {
    // user.max_user_namespaces is per user namespace: userns-limit lowers it to 0 in one that looks like the host.
    const limit = compile('userns-limit', escapeDir);
    const r = runNative([limit, String(UID), String(GID), TSVISOR, 'do', '--', 'true'], { env: userEnv() });
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr.split('\n').filter(Boolean) }).toEqual({
      status: 125,
      stdout: '',
      stderr: [expect.stringMatching(/^tsvisor: running without root needs unprivileged user namespaces, which this host forbids \(user\.max_user_namespaces=0\): /)],
    });
  });

  it('settings that forbid unprivileged user namespaces are named in a one-line error', () => {
    const fake = tempDir('rootless-procsys');
    try {
      const set = (name: string, value: string) => {
        const file = path.join(fake, ...name.split('.'));
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, `${value}\n`);
      };
      set('user.max_user_namespaces', '15000');
      set('kernel.unprivileged_userns_clone', '1');
      set('kernel.apparmor_restrict_unprivileged_userns', '0');
      expect(userNamespaceBlocker(fake)).toBeUndefined();
      for (const [name, forbids] of [
        ['kernel.apparmor_restrict_unprivileged_userns', '1'],
        ['kernel.unprivileged_userns_clone', '0'],
        ['user.max_user_namespaces', '0'],
      ] as const) {
        set(name, forbids);
        const msg = userNamespaceBlocker(fake);
        expect(msg).toContain(`(${name}=${forbids})`);
        expect(msg).not.toContain('\n');
      }
    } finally {
      rmrf(fake);
    }
  });
});

describe('programs run as natively, as their caller', () => {
  beforeAll(() => {
    fs.writeFileSync(path.join(work, 'mine'), 'the user\'s own\n');
    own(path.join(work, 'mine'), 0o600);
    fs.writeFileSync(path.join(work, 'root-only'), 'root\'s\n');
    fs.chmodSync(path.join(work, 'root-only'), 0o600);
  });

  it.each<[string, string[]]>([
    ['identity', ['id']],
    ['identity (python)', ['python3', '-c', 'import os; print(os.getuid(), os.geteuid(), os.getgid(), os.getegid(), os.getgroups())']],
    ['host name and kernel', ['uname', '-n', '-s']],
    [
      'changing to other ids is refused (EPERM), to its own allowed',
      ['python3', '-c', [
        'import os',
        'for f, a in [(os.setuid, 0), (os.setgid, 0), (os.seteuid, 1), (os.setuid, os.getuid()), (os.setgid, os.getgid())]:',
        '  try: f(a); print(f.__name__, "ok")',
        '  except OSError as e: print(f.__name__, e.errno)',
        'try: os.setresgid(-1, -1, 0)',
        'except OSError as e: print("setresgid", e.errno)',
        'try: os.setgroups([])',
        'except OSError as e: print("setgroups", e.errno)',
      ].join('\n')],
    ],
    ['a file only the user may read, owners as numbers', sh('cat mine; ls -ln mine root-only | cut -d" " -f1,3,4,5,9')],
    ['a file the user may not read', sh('cat root-only 2>&1; cat /etc/shadow 2>&1; echo status $?')],
    ['busybox applets', sh('busybox echo hi | busybox sha256sum; busybox wc -c mine; busybox stat -c "%u %g %a" mine')],
    ['python computes and reads', ['python3', '-c', 'import hashlib,os; print(hashlib.sha256(open("mine","rb").read()).hexdigest(), os.access("root-only", os.R_OK), os.stat("mine").st_uid)']],
  ])('%s', (_name, argv) => {
    expectSameRun(native(argv, { cwd: work }), sandbox(argv, { cwd: work }));
  });

  it.each<[string, string[]]>([
    ['an exit status', sh('echo out; echo err >&2; exit 7')],
    ['a python exception', ['python3', '-c', 'raise SystemExit("failed: " + str(3 * 7))']],
    ['a missing command', sh('no-such-command-here')],
  ])('%s, with its output', (_name, argv) => {
    const n = native(argv, { cwd: work });
    const s = sandbox(argv, { cwd: work });
    expect(n.status).not.toBe(0);
    expect({ stdout: s.stdout, stderr: s.stderr, status: s.status }).toEqual({ stdout: n.stdout, stderr: n.stderr, status: n.status });
  });

  it.each<[string, string[]]>([
    ['SIGTERM', sh('kill -TERM $$')],
    ['SIGKILL', sh('kill -KILL $$')],
    ['SIGABRT', ['python3', '-c', 'import os; os.abort()']],
    ['SIGSEGV', ['python3', '-c', 'import ctypes; ctypes.string_at(0)']],
  ])('a death by %s is status 128+N', (sig, argv) => {
    const n = native(argv);
    expect(n.signal).toBe(sig);
    expect(sandbox(argv).status).toBe(128 + os.constants.signals[sig as NodeJS.Signals]);
  });

  it('unix sockets (path, abstract, datagram) work with their peer credentials, and the host gets no socket file', () => {
    const sock = path.join(work, `sock-${rand()}`);
    const argv = ['python3', '-c', [
      'import os, socket, struct, sys',
      'def peer(a): return struct.unpack("iII", a.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)) == (os.getpid(), os.getuid(), os.getgid())',
      's = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen()',
      'c = socket.socket(socket.AF_UNIX); c.connect(sys.argv[1]); a, _ = s.accept(); c.send(b"hi")',
      'print(a.recv(2), s.getsockname() == sys.argv[1], os.stat(sys.argv[1]).st_uid == os.getuid(), peer(a))',
      'x = socket.socket(socket.AF_UNIX); x.bind("\\0" + sys.argv[2]); x.listen()',
      'y = socket.socket(socket.AF_UNIX); y.connect("\\0" + sys.argv[2]); b, _ = x.accept(); print(peer(b))',
      'd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); d.bind(sys.argv[1] + "-d")',
      'e = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); e.sendto(b"dg", sys.argv[1] + "-d"); print(d.recv(2))',
    ].join('\n'), sock, `tsvisor-rootless-${rand()}`];
    const s = sandbox(argv);
    expect(fs.existsSync(sock)).toBe(false);
    expectSameRun(native(argv), s);
  });

  it('the network settings in /proc/sys/net are the sandbox\'s own, and readable', () => {
    const r = sandbox(sh('cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/net/ipv4/ping_group_range'));
    // Linux's defaults in a new network namespace
    expect({ stdout: r.stdout, stderr: r.stderr, status: r.status }).toEqual({ stdout: '1024\n1\t0\n', stderr: '', status: 0 });
  });

  it('a pty of the sandbox\'s own works', () => {
    const r = sandbox(['python3', '-c', 'import os,pty; m,s=pty.openpty(); print(os.ttyname(s)); os.write(s,b"x\\n"); print(os.read(m,8)); print(sorted(os.listdir("/dev/pts")))']);
    expect({ stdout: r.stdout, status: r.status }).toEqual({ stdout: "/dev/pts/0\nb'x\\r\\n'\n['0', 'ptmx']\n", status: 0 });
  });
});

describe('the host stays unchanged', () => {
  it('writes, deletes, renames and chmods of the user\'s own files are kept in memory', () => {
    const dir = path.join(work, `tree-${rand()}`);
    fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'a'), 'a\n');
    fs.writeFileSync(path.join(dir, 'sub', 'b'), 'b\n');
    fs.writeFileSync(path.join(dir, 'ro'), 'read-only\n');
    for (const p of [dir, path.join(dir, 'sub'), path.join(dir, 'a'), path.join(dir, 'sub', 'b')]) fs.chownSync(p, UID, GID);
    own(path.join(dir, 'ro'), 0o444);
    const before = treeSnapshot(dir);
    const homeBefore = treeSnapshot(home);
    const tmpName = `/tmp/tsvisor-rootless-${rand()}`;
    const script = [
      'echo changed >> a',
      'rm sub/b',
      'mv a renamed',
      'mkdir new && echo n > new/f',
      'chmod 644 ro && echo over > ro',
      `echo t > ${tmpName}`,
      'echo h > "$HOME/written"',
      `cat renamed ro new/f ${tmpName} "$HOME/written"; ls -A . sub | tr "\\n" " "`,
    ].join(' && ');
    const r = sandbox(sh(script), { cwd: dir });
    expect({ stdout: r.stdout, stderr: r.stderr, status: r.status }).toEqual({
      stdout: 'a\nchanged\nover\nn\nt\nh\n.: new renamed ro sub  sub: ',
      stderr: '',
      status: 0,
    });
    expect(treeSnapshot(dir)).toEqual(before);
    expect(treeSnapshot(home)).toEqual(homeBefore);
    expect(fs.existsSync(tmpName)).toBe(false);
  });

  it('files the user may not write stay refused, as natively', () => {
    const argv = sh('echo x > /etc/passwd; echo $?; rm /etc/hostname; echo $?; touch /newfile; echo $?');
    const n = native(argv);
    const s = sandbox(argv);
    expect(s.stdout).toBe(n.stdout);
    expect(s.stdout).toBe('2\n1\n1\n');
    expect(fs.existsSync('/newfile')).toBe(false);
  });
});

describe('processes', () => {
  it('host processes of the same user are invisible and cannot be signalled', () => {
    const host = spawn('sleep', ['60'], { uid: UID, gid: GID, stdio: 'ignore' });
    try {
      const pid = host.pid!;
      const argv = sh(`kill -0 ${pid} 2>&1; echo $?; test -e /proc/${pid}; echo $?; for p in /proc/[0-9]*; do echo \${p#/proc/}; done | sort -n | tail -1`);
      expect(native(argv).stdout).toMatch(/^0\n0\n/);
      const r = sandbox(argv);
      expect(r.stdout).toMatch(/^\/bin\/sh: 1: kill: No such process\n\n1\n1\n\d+\n$/);
      // the sandbox's own processes only: init, sh, the loop's subshell, sort and tail
      expect(Number(r.stdout.trim().split('\n').pop())).toBeLessThan(10);
      expect(host.exitCode).toBeNull();
    } finally {
      host.kill('SIGKILL');
    }
  });

  it('signals from the guest reach only the sandbox (escape: signals, canaries of the same user)', async () => {
    const canary = new HostHelper([escapeBin, 'canary'], { uid: UID, gid: GID });
    try {
      await canary.ready();
      const run = new SandboxRun([escapeBin, 'signals', 'hostpids=stdin', `hostinit=${fs.readFileSync('/proc/1/cmdline', 'latin1').replace(/\0/g, ' ').trim()}`], ['--memory', '0'], {
        uid: UID,
        gid: GID,
        env: userEnv(),
      });
      const { gofer, guest } = await goferAndSignalsGuest(run);
      const pids = [`tsvisor:${run.pid}`, `gofer:${gofer}`, `guest-host-pid:${guest}`, `canary-same-user:${canary.pid}`, 'host-init:1'];
      run.child.stdin!.end(`${pids.join(' ')}\n`);
      const r = await run.done;
      const labels = pids.map((p) => `signals-hostpid-${p.split(':')[0]}`);
      expect.soft(verdict(r, 'signals', [...NAMES.signals!, ...labels]), `stderr:\n${r.stderr}`).toEqual(CLEAN);
      expect.soft(await canary.received(), 'signals received by a host process of the same user').toEqual([]);
    } finally {
      canary.stop();
    }
  });

  it('--pids bounds the sandbox\'s processes; the user\'s host processes do not count', () => {
    const hosts = Array.from({ length: 4 }, () => spawn('sleep', ['60'], { uid: UID, gid: GID, stdio: 'ignore' }));
    try {
      const fork = 'import os,time\nn=0\ntry:\n  while True:\n    if os.fork()==0:\n      time.sleep(30); os._exit(0)\n    n+=1\nexcept OSError as e:\n  print(n, e.errno)\n';
      const r = sandbox(['python3', '-c', fork], { doFlags: ['--memory', '0', '--pids', '16'] });
      // 16 = init + python + 14 children; EAGAIN is 11
      expect({ stdout: r.stdout, status: r.status }).toEqual({ stdout: '14 11\n', status: 0 });
    } finally {
      for (const h of hosts) h.kill('SIGKILL');
    }
  });

  it('the sandbox ends when its command exits, and with a signal to tsvisor', async () => {
    const token = String(900000 + Math.floor(Math.random() * 99999));
    const r = sandbox(sh(`setsid sleep ${token} & nohup sleep ${token} >/dev/null 2>&1 & echo started`));
    expect({ stdout: r.stdout, status: r.status }).toEqual({ stdout: 'started\n', status: 0 });
    const left = (t: string) => spawnSync('pgrep', ['-u', String(UID), '-f', `^sleep ${t}$`], { encoding: 'latin1' }).stdout.trim();
    await waitFor(() => left(token) === '', 3000, `processes of the sandbox left after it ended: ${left(token)}`);

    const token2 = String(Number(token) + 1);
    const run = new SandboxRun(['sleep', token2], ['--memory', '0'], { uid: UID, gid: GID, env: userEnv() });
    await waitFor(() => left(token2) !== '', 15000, 'the guest to start');
    const t0 = Date.now();
    process.kill(run.pid, 'SIGTERM');
    const done = await run.done;
    expect(done.status).toBe(143);
    expect(Date.now() - t0).toBeLessThan(10000);
    await waitFor(() => left(token2) === '', 3000, `processes of the sandbox left after tsvisor ended: ${left(token2)}`);
  });
});

describe('what tsvisor test builds on', () => {
  it("a run's process events are observed as with root", () => {
    const r = runWithEvents(sh('sh -c "exit 3"; echo done'), { flags: ['--memory', '0'], cwd: work, as: { uid: UID, gid: GID, home } });
    expect({ stdout: r.stdout, status: r.status }).toEqual({ stdout: 'done\n', status: 0 });
    const execs = r.events.filter((e) => e.kind === 'exec').map((e) => e.args[2] as string[]);
    expect(execs).toEqual([
      ['/bin/sh', '-c', 'sh -c "exit 3"; echo done'],
      ['sh', '-c', 'exit 3'],
    ]);
    const statuses = r.events.filter((e) => e.kind === 'exit').map((e) => (e.args[1] as { status: number }).status);
    expect(statuses).toContain(3);
  });

  it('a hidden file, a network attempt and the writes are observed as with root', () => {
    const secret = path.join(home, `.netrc-${rand()}`);
    fs.writeFileSync(secret, 'machine x\n');
    own(secret, 0o600);
    const script = `cat ${secret} 2>/dev/null; echo $?; echo w > out-${rand()}; python3 -c 'import socket; socket.create_connection(("10.1.2.3", 80), timeout=1)' 2>/dev/null; echo $?`;
    const r = runObserved(sh(script), { hide: [secret], cwd: home, doFlags: ['--memory', '0'], writes: true, as: { uid: UID, gid: GID, home } });
    expect({ stdout: r.stdout, status: r.status }).toEqual({ stdout: '1\n1\n', status: 0 });
    expect(r.denials.map((d) => d.rule)).toEqual(['hidden', 'network']);
    expect(r.files.some((f) => f.path === secret && f.errno === 2)).toBe(true);
    expect(r.network.map((n) => [n.address, n.port, n.errno])).toEqual([['10.1.2.3', 80, 101]]);
    expect(r.changes?.map((c) => [path.dirname(c.path), c.kind])).toEqual([[home, 'created']]);
    expect(fs.readdirSync(home).filter((n) => n.startsWith('out-'))).toEqual([]);
  });
});

describe('network', () => {
  it('loopback works inside; the host\'s loopback services are out of reach', async () => {
    const server = spawn('python3', ['-c', 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(s.getsockname()[1], flush=True); s.accept()'], {
      uid: UID,
      gid: GID,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    try {
      let port = '';
      server.stdout!.on('data', (d: Buffer) => (port += d.toString()));
      await waitFor(() => port.endsWith('\n'), 10000, 'the host server');
      const probe = `import socket\ntry:\n  socket.create_connection(("127.0.0.1", ${port.trim()}), timeout=5); print("connected")\nexcept OSError as e:\n  print(e.errno)\n`;
      expect(native(['python3', '-c', probe]).stdout).toBe('connected\n');
      expect(sandbox(['python3', '-c', probe]).stdout).toBe('111\n'); // ECONNREFUSED
      const inside = 'import socket\ns=socket.socket(); s.bind(("127.0.0.1",0)); s.listen()\nc=socket.create_connection(s.getsockname()); a,_=s.accept(); c.send(b"ok"); print(a.recv(2))';
      expect(sandbox(['python3', '-c', inside]).stdout).toBe("b'ok'\n");
    } finally {
      server.kill('SIGKILL');
    }
  });
});

describe('escape attempts as an ordinary user', () => {
  const hostname = () => fs.readFileSync('/etc/hostname', 'latin1').trim();

  it.each(['dotdot', 'procroot', 'dirfds', 'privileged', 'chroot', 'x32', 'procsys', 'devices', 'blockedcalls'])('escape %s', (cmd) => {
    const sys = hostSystemState();
    const r = sandbox([escapeBin, cmd, `hosthostname=${hostname()}`, `hostdir=${escapeDir}`]);
    expect(verdict(r, cmd, NAMES[cmd]!), `stderr:\n${r.stderr}`).toEqual(CLEAN);
    expect(hostSystemState()).toEqual(sys);
  });

  it("escape heldswap: a reopen never opens the user's own file of the overlay's lower layer that a thread swapped in", () => {
    // The user may write it: only the overlay keeps the sandbox from doing so.
    const victim = path.join(escapeDir, 'victim');
    fs.writeFileSync(victim, 'rootless-victim\n', { mode: 0o644 });
    fs.chownSync(victim, UID, GID);
    const r = sandbox([escapeBin, 'heldswap', `victim=${victim}`]);
    expect(verdict(r, 'heldswap', NAMES.heldswap!), `stderr:\n${r.stderr}`).toEqual(CLEAN);
    expect(fs.readFileSync(victim, 'latin1')).toBe('rootless-victim\n');
  });

  it("escape pidreuse: /proc/PID files of a reaped child never open the user's own host process that took its pid", async () => {
    const secret = `PIDREUSE-SECRET-${rand()}`;
    const run = new SandboxRun([escapeBin, 'pidreuse', `secret=${secret}`], ['--memory', '0'], { uid: UID, gid: GID, env: userEnv() });
    const r = await pidReuse(run, UID, GID, secret);
    expect(verdict(r, 'pidreuse', NAMES.pidreuse!), `stderr:\n${r.stderr}`).toEqual(CLEAN);
  });

  it('escape int80: 32-bit calls never run', () => {
    const probe = spawnSync(escapeBin, ['int80probe'], { encoding: 'utf8' });
    const m = /^int80 (returns|signal) (-?\d+)$/m.exec(probe.stdout);
    expect(m, `native int80 probe: ${probe.stdout}${probe.stderr}`).not.toBeNull();
    const r = sandbox([escapeBin, 'int80', ...(m![1] === 'signal' ? [`native-signal=${m![2]}`] : [])]);
    expect(verdict(r, 'int80', NAMES.int80!), `stderr:\n${r.stderr}`).toEqual(CLEAN);
  });

});

describe('what an ordinary user is told', () => {
  const oneLine = (r: Run) => r.stderr.split('\n').filter(Boolean);

  it('a memory limit that cannot be enforced is said in one line, never silently', () => {
    const r = runSandbox(['true'], asUser());
    expect(r.status).toBe(0);
    const lines = oneLine(r);
    const cgroupWritable = lines.length === 0;
    if (!cgroupWritable) expect(lines).toEqual([expect.stringMatching(/^tsvisor: warning: --memory is not enforced: \S.*$/)]);
    expect(oneLine(runSandbox(['true'], { ...asUser(), doFlags: ['--memory', '0'] }))).toEqual([]);
  });

  it('coverage and the OCI commands need root, in one line each', () => {
    const cov = native([TSVISOR, 'coverage', '--', 'true']);
    expect({ status: cov.status, stderr: oneLine(cov) }).toEqual({ status: 1, stderr: [expect.stringMatching(/^tsvisor: tsvisor coverage needs root: .*eBPF/)] });
    const run = native([TSVISOR, 'run', '--bundle', work, `c-${rand()}`]);
    expect({ status: run.status, stderr: oneLine(run) }).toEqual({ status: 1, stderr: [expect.stringMatching(/^tsvisor: the OCI commands \(create, run\) need root/)] });
  });
});
