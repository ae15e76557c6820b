// A dynamically linked program whose ELF interpreter (PT_INTERP) only the
// Sentry's mounts provide: the host's /usr bind-mounted into a busybox root,
// a loader written into a tmpfs or the overlay at run time. Each case runs
// the same bundle under `runc run` and `tsvisor run` (or natively and under
// `tsvisor do`) and compares what the programs printed and their exit
// status: argv, /proc/self/exe, cmdline, comm, the auxiliary vector, the
// errors of a missing or non-executable interpreter, and races that swap the
// program's or the interpreter's name during the exec.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Outcome, RUNTIMES, type Run, type Runtime, TSVISOR, busyboxRoot, rmrf, runBundle, runNative, runSandbox, sh, specBundle } from './harness.js';
import { PROGRAMS } from './robust-helpers.js';

/** The host's loader, as the programs below name it. */
const LOADER = '/lib64/ld-linux-x86-64.so.2';

let base: string;
let rootfs: string;
let progs: string;
let counter = 0;

const run = (rt: Runtime, dir: string, globals: string[] = []): Outcome => runBundle(rt, base, dir, globals);

/** A bundle of the busybox root with the host's /usr read-only, the test programs at /opt/t and a tmpfs /tmp; then `edit`. */
function bundle(args: string[], edit: (c: Record<string, any>) => void = () => {}): string {
  return specBundle(path.join(base, `b${counter++}`), rootfs, args, (c) => {
    edit(c);
    c.mounts.push(
      { destination: '/usr', type: 'bind', source: '/usr', options: ['rbind', 'ro'] },
      { destination: '/opt/t', type: 'bind', source: progs, options: ['rbind', 'ro'] },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] },
    );
  });
}

/** Runs `args` under both runtimes; returns tsvisor's outcome after checking it equals runc's. */
function same(args: string[], edit?: (c: Record<string, any>) => void): Outcome {
  const out = Object.fromEntries(RUNTIMES.map((rt) => [rt, run(rt, bundle(args, edit))])) as Record<Runtime, Outcome>;
  expect(out.tsvisor).toEqual(out.runc);
  return out.tsvisor;
}

/** `r` without the fd count: a native run inherits the test runner's fds. */
const withoutFds = (r: Run): Run => ({ ...r, stdout: r.stdout.replace(/^open fds=\d+\n/m, '') });

/** Compiles test/programs/elfinterp.c (or `source`) into `progs`/`name`, dynamically linked against `interp`. */
function build(name: string, interp: string, source = path.join(PROGRAMS, 'elfinterp.c'), extra: string[] = []): void {
  execFileSync('gcc', ['-O2', '-Wall', `-Wl,--dynamic-linker=${interp}`, ...extra, '-o', path.join(progs, name), source, '-lpthread'], { stdio: 'pipe' });
}

beforeAll(() => {
  base = fs.mkdtempSync('/var/tmp/tsvisor-elfinterp-');
  rootfs = busyboxRoot();
  fs.chmodSync(rootfs, 0o755);
  // As in a merged-/usr image: the loader is reached through /lib64 -> usr/lib64.
  fs.symlinkSync('usr/lib', path.join(rootfs, 'lib'));
  fs.symlinkSync('usr/lib64', path.join(rootfs, 'lib64'));
  fs.mkdirSync(path.join(rootfs, 'opt/t'), { recursive: true });
  progs = path.join(base, 'progs');
  fs.mkdirSync(progs);
  build('show', LOADER);
  build('tmpld', '/tmp/ld.so');
  build('noexec', '/tmp/ld-noexec.so');
  build('missing', '/nonexistent/ld.so');
  build('overlay', `${base}/ov/ld.so`);
  build('rootless', `${base}/rl/ld.so`);
  // For the run as an ordinary user: the programs readable, a directory it may write.
  fs.chmodSync(base, 0o755);
  fs.mkdirSync(path.join(base, 'rl'), { mode: 0o1777 });
  fs.chmodSync(path.join(base, 'rl'), 0o1777);
  build('oldld', '/tmp/ld-old.so');
  // A library found through $ORIGIN, which glibc's loader takes from /proc/self/exe.
  const lib = path.join(base, 'origin-lib.c');
  fs.writeFileSync(lib, 'int origin_answer(void) { return 42; }\n');
  fs.mkdirSync(path.join(progs, 'lib'));
  execFileSync('gcc', ['-O2', '-shared', '-fPIC', '-o', path.join(progs, 'lib/liborigin.so'), lib], { stdio: 'pipe' });
  const origin = path.join(base, 'origin.c');
  fs.writeFileSync(origin, '#include <stdio.h>\nint origin_answer(void);\nint main(void) { printf("%d\\n", origin_answer()); return 0; }\n');
  execFileSync('gcc', ['-O2', '-o', path.join(progs, 'origin'), origin, `-L${progs}/lib`, '-lorigin', '-Wl,-rpath,$ORIGIN/lib'], { stdio: 'pipe' });
  // musl's loader (musl-tools): libc.so is the loader too.
  execFileSync('musl-gcc', ['-O2', '-Wall', '-Wl,--dynamic-linker=/tmp/ld-musl.so', '-o', path.join(progs, 'musl'), path.join(PROGRAMS, 'elfinterp-musl.c')], { stdio: 'pipe' });
  // A loader from before --argv0 (glibc < 2.33): the host's, its option renamed.
  const ld = fs.readFileSync(LOADER);
  const at = ld.indexOf('--argv0\0');
  expect(at).toBeGreaterThan(0);
  ld.write('--argvX\0', at, 'latin1');
  fs.writeFileSync(path.join(progs, 'ld-old.so'), ld, { mode: 0o755 });
  const evil = path.join(base, 'evil.c');
  fs.writeFileSync(evil, '#include <stdio.h>\nint main(void) { puts("EVIL"); return 66; }\n');
  build('evil-prog', '/tmp/ld.so', evil);
  const plain = path.join(base, 'plain.c');
  fs.writeFileSync(plain, '#include <stdio.h>\nint main(void) { puts("ran"); return 7; }\n');
  build('plain', LOADER, plain);
  // An interpreter stand-in: a static PIE has no PT_INTERP, as a loader.
  execFileSync('gcc', ['-O2', '-static-pie', '-o', path.join(progs, 'evil-ld'), evil], { stdio: 'pipe' });
}, 120000);

afterAll(() => {
  rmrf(base);
  rmrf(rootfs);
});

describe('an interpreter only a bind mount provides', () => {
  it('a program from a bind mount runs as under runc: argv, /proc/self/exe, cmdline, comm, AT_EXECFN, AT_BASE', () => {
    const r = same(['/opt/t/show', 'one', 'two']);
    expect(r.status).toBe(3);
    expect(r.stdout).toContain('argv[0]=/opt/t/show\n');
    expect(r.stdout).toContain('exe=/opt/t/show\nexecfn=/opt/t/show\ncmdline=/opt/t/show|one|two|\ncomm=show\n');
    expect(r.stdout).toContain('open fds=3\n');
    expect(r.stdout).toContain('AT_BASE is the interpreter\'s=1\n');
  });

  it('the host\'s /usr/bin/env runs from the busybox shell, and runs another dynamic program', () => {
    const r = same(sh('/usr/bin/env -i A=1 /usr/bin/env; echo "[$?]"; env -i /usr/bin/env B=2 /opt/t/show x | head -3'));
    expect(r.stdout).toBe('A=1\n[0]\nargc=2\nargv[0]=/opt/t/show\nargv[1]=x\n');
  });

  it('a library found through $ORIGIN loads, also through a symlink to the program', () => {
    const r = same(sh('cd /opt/t && ./origin && /opt/t/show exec /opt/t/origin x && ln -s /opt/t/origin /tmp/o && /tmp/o'));
    expect(r.stdout).toBe('42\n42\n42\n');
  });

  it('a program run through a symlink: AT_EXECFN and argv[0] are the link, /proc/self/exe the program', () => {
    const r = same(sh('ln -s /opt/t/show /tmp/s && cd /tmp && ./s'));
    expect(r.stdout).toContain('argv[0]=./s\nexe=/opt/t/show\nexecfn=./s\ncmdline=./s|\n');
  });

  it('an exec with its own argv[0] and a relative path: argv, AT_EXECFN as execve was given them', () => {
    const r = same(sh('cd /opt && /opt/t/show exec ./t/show other-name a; echo "[$?]"'));
    expect(r.stdout).toContain('argv[0]=other-name\nargv[1]=a\nexe=/opt/t/show\nexecfn=./t/show\ncmdline=other-name|a|\ncomm=show\n');
  });
});

describe('an interpreter the sandbox wrote at run time', () => {
  it('a loader and a program written into a tmpfs run', () => {
    const r = same(sh(`cp ${LOADER} /tmp/ld.so && cp /opt/t/tmpld /tmp/p && cd /tmp && /opt/t/show exec ./p ./p z; echo "[$?]"`));
    expect(r.stdout).toContain('argv[0]=./p\nargv[1]=z\nexe=/tmp/p\nexecfn=./p\ncmdline=./p|z|\ncomm=p\n');
    expect(r.stdout).toContain('main object name=""\n');
    expect(r.stdout).toContain('[3]\n');
  });

  it('a loader without --argv0 runs the program, named as execve named it', () => {
    const r = same(sh('cp /opt/t/ld-old.so /tmp/ld-old.so && /opt/t/show exec /opt/t/oldld /opt/t/oldld k; echo "[$?]"'));
    expect(r.stdout).toContain('argv[0]=/opt/t/oldld\nargv[1]=k\nexe=/opt/t/oldld\nexecfn=/opt/t/oldld\ncmdline=/opt/t/oldld|k|\n');
    expect(r.stdout).toContain('[3]\n');
  });

  // A loader without --argv0 names the program by its path under tsvisor where runc keeps execve's argv[0] (docs/design.md): which name shows says which answer the exec used.
  it('a loader rewritten in place between execs (same inode and size): each exec asks the loader it runs about --argv0', () => {
    const each = `cat $l > /tmp/ld.so; /opt/t/show exec ./p NAME a | grep argv; echo "[$?]"`;
    const args = sh(`cp /opt/t/ld-old.so /tmp/ld.so && cp /opt/t/tmpld /tmp/p && cd /tmp && for l in /opt/t/ld-old.so ${LOADER} /opt/t/ld-old.so ${LOADER}; do ${each}; done`);
    const out = (name: string) => `argv[0]=${name}\nargv[1]=a\n[0]\n`;
    expect(run('runc', bundle(args)).stdout).toBe(out('NAME').repeat(4));
    expect(run('tsvisor', bundle(args)).stdout).toBe((out('/tmp/p') + out('NAME')).repeat(2));
  });

  it('musl\'s loader runs the program as under runc', () => {
    const r = same(sh('cp /usr/lib/x86_64-linux-musl/libc.so /tmp/ld-musl.so && cd /opt && ./t/musl a; echo "[$?]"; /opt/t/show exec /opt/t/musl other b'));
    expect(r.stdout).toBe(
      'argv[0]=./t/musl\nargv[1]=a\nexe=/opt/t/musl\nexecfn=./t/musl\nAT_BASE set=1\ncmdline=./t/musl|a|\n[5]\n' +
        'argv[0]=other\nargv[1]=b\nexe=/opt/t/musl\nexecfn=/opt/t/musl\nAT_BASE set=1\ncmdline=other|b|\n',
    );
  });

  /**
   * `script` under `tsvisor do` (the host root, writes in the overlay), then
   * natively (the host has the files only then); returns the native run
   * after checking both printed the same. --memory 0: an ordinary user gets
   * no warning that it is not enforced.
   */
  function sameAsNative(script: string, user: { uid?: number; gid?: number } = {}): Run {
    const sandboxed = withoutFds(runSandbox(sh(script), { ...user, doFlags: ['--memory', '0'] }));
    const natively = withoutFds(runNative(sh(script), user));
    expect(sandboxed).toEqual(natively);
    return natively;
  }

  it('a loader written into the overlay runs, as natively', () => {
    const r = sameAsNative(`mkdir -p ${base}/ov && cp ${LOADER} ${base}/ov/ld.so && cp ${progs}/overlay ${base}/ov/p && ${base}/ov/p q; echo "[$?]"`);
    expect(r.stdout).toContain(`argv[0]=${base}/ov/p\nargv[1]=q\nexe=${base}/ov/p\n`);
  });

  it('the same, run by an ordinary user (rootless)', () => {
    const r = sameAsNative(`cp ${LOADER} ${base}/rl/ld.so && cp ${progs}/rootless ${base}/rl/p && cd ${base}/rl && ./p r; echo "[$?]"`, { uid: 65534, gid: 65534 });
    expect(r.stdout).toContain(`argv[0]=./p\nargv[1]=r\nexe=${base}/rl/p\nexecfn=./p\n`);
  });

  it('a process that chrooted gets the interpreter of its new root', () => {
    const nr = '/tmp/nr';
    const script = [
      `mkdir -p ${nr}/lib64 ${nr}/lib/x86_64-linux-gnu ${nr}/bin`,
      `cp /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 ${nr}/lib64/`,
      `cp /usr/lib/x86_64-linux-gnu/libc.so.6 ${nr}/lib/x86_64-linux-gnu/`,
      `cp /opt/t/plain ${nr}/bin/`,
      `chroot ${nr} /bin/plain; echo "[$?]"`,
    ].join(' && ');
    const r = same(sh(script), (c) => {
      for (const set of Object.values(c.process.capabilities) as string[][]) set.push('CAP_SYS_CHROOT');
    });
    expect(r.stdout).toBe('ran\n[7]\n');
  });

  it('a missing interpreter is ENOENT, one without execute permission EACCES', () => {
    const r = same(sh(`/opt/t/show exec /opt/t/missing x; cp ${LOADER} /tmp/ld-noexec.so && chmod 644 /tmp/ld-noexec.so && /opt/t/show exec /opt/t/noexec x`));
    expect(r.stdout).toBe('exec /opt/t/missing: ENOENT\nexec /opt/t/noexec: EACCES\n');
  });
});

describe('races: a thread swaps names while its process execs', () => {
  const setup = `cp ${LOADER} /tmp/ld.so && cp /opt/t/tmpld /tmp/p && cp /opt/t/evil-prog /tmp/p-evil && cp /opt/t/evil-ld /tmp/ld-evil && chmod 644 /tmp/p-evil /tmp/ld-evil`;

  it.each([
    ['the program', '/tmp/p /tmp/p-evil'],
    ['the interpreter', '/tmp/ld.so /tmp/ld-evil'],
  ])('%s swapped with a file the guest may not execute: only the checked files run', (_what, names) => {
    const r = same(sh(`${setup} && /opt/t/show race 300 /tmp/p ${names}`));
    expect(r.stdout).toBe('ran the evil file=0\nran the good program=1\n');
  });
});

describe('the fast path', () => {
  it('an interpreter the kernel finds in the native root is left to the kernel', () => {
    const r = spawnSync(TSVISOR, ['--strace', '--strace-syscalls', 'execve', 'do', '--', '/usr/bin/env', 'true'], { encoding: 'utf8', timeout: 60000 });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/rewritten to execveat\(\d+\) of \/usr\/bin\/env\n/);
    expect(r.stderr).toMatch(/rewritten to execveat\(\d+\) of \/usr\/bin\/true\n/);
  });

  it('the bind-mount case says it runs the interpreter', () => {
    const log = path.join(base, 'strace.log');
    const out = run('tsvisor', bundle(['/opt/t/show']), ['--strace', '--strace-syscalls', 'execve', '--debug-log', log]);
    expect(out.status).toBe(3);
    expect(fs.readFileSync(log, 'utf8')).toContain(`of ${LOADER} for /opt/t/show`);
  });
});
