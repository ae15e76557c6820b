// Linux-exact file-system behaviour (issue 9): test/programs/exactfs.c runs
// each group of cases natively and under tsvisor do, on each file system the
// sandbox has, and prints what every call returned; the outputs must be the
// same.
//   overlay  the host root with the in-memory overlay (the default of `do`);
//            the fixture is made natively first, so it is the lower layer
//   tmpfs    the sandbox's /dev/shm against the host's /dev/shm
//   gofer    a root directory written through the Gofer (--root without
//            --overlay) against the same tree under chroot
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { type Run, rmrf, runChroot, runNative, runSandbox } from './harness.js';
import { cProgram, expectSameRun } from './differential.js';

const program = cProgram('exactfs');

type Fs = 'overlay' | 'tmpfs' | 'gofer';

/** A root for --root: the program and a busybox sh and rm (system() runs "rm -rf"), with the fixture in /w. */
function goferRoot(): string {
  const root = program.scratch();
  for (const d of ['bin', 'w', 'proc', 'dev', 'tmp']) fs.mkdirSync(path.join(root, d));
  fs.copyFileSync('/bin/busybox', path.join(root, 'bin/busybox'));
  fs.chmodSync(path.join(root, 'bin/busybox'), 0o755);
  for (const a of ['sh', 'rm']) fs.symlinkSync('busybox', path.join(root, 'bin', a));
  fs.copyFileSync(program.path, path.join(root, 'exactfs'));
  fs.chmodSync(path.join(root, 'exactfs'), 0o755);
  execFileSync(program.path, [path.join(root, 'w'), 'setup']);
  return root;
}

const TMPFS_BASELINE = new Set(['xattr']);

/** The program run natively in a fresh directory `d` of the host's /dev/shm, after the fixture is made there. */
function onHostTmpfs(args: string[], d = fs.mkdtempSync('/dev/shm/tsvisor-exactfs-')): Run {
  fs.mkdirSync(d, { recursive: true });
  try {
    return runNative(['/bin/sh', '-c', `${program.path} ${d} setup && exec ${program.path} ${d} ${args.join(' ')}`]);
  } finally {
    rmrf(d);
  }
}

/** The program run natively and in the sandbox on file system `kind`. */
function both(kind: Fs, args: string[]): { native: Run; sandbox: Run } {
  if (kind === 'overlay') {
    const s = program.scratch();
    execFileSync(program.path, [s, 'setup']);
    const sandbox = runSandbox([program.path, s, ...args]);
    // The overlay's upper layer is memory: where limits are the file system's
    // (xattr sizes), the baseline is a tmpfs, not the host's ext4.
    if (TMPFS_BASELINE.has(args[0]!)) return { native: onHostTmpfs(args), sandbox };
    const n = program.scratch();
    execFileSync(program.path, [n, 'setup']);
    return { native: runNative([program.path, n, ...args]), sandbox };
  }
  if (kind === 'tmpfs') {
    // The same path in the host's /dev/shm and in the sandbox's own.
    const d = fs.mkdtempSync('/dev/shm/tsvisor-exactfs-');
    rmrf(d);
    return { native: onHostTmpfs(args, d), sandbox: runSandbox(['/bin/sh', '-c', `mkdir ${d} && ${program.path} ${d} setup && exec ${program.path} ${d} ${args.join(' ')}`]) };
  }
  const n = goferRoot();
  const s = goferRoot();
  // The native run sees a /proc as the sandbox does.
  execFileSync('mount', ['-t', 'proc', 'proc', path.join(n, 'proc')]);
  try {
    return { native: runChroot(n, ['/exactfs', '/w', ...args]), sandbox: runSandbox(['/exactfs', '/w', ...args], { doFlags: ['--root', s] }) };
  } finally {
    execFileSync('umount', [path.join(n, 'proc')]);
  }
}

/**
 * Where tsvisor deliberately differs (syscall-tables/ notes say why): the
 * native line and the line the sandbox prints instead.
 */
const DELIBERATE: Record<string, [string, string][]> = {
  // A host file is reopened through /proc/self/fd/N of the O_PATH fd the
  // Gofer resolved (no path walk), where O_NOFOLLOW cannot be asked for.
  'flags@gofer': [['F_GETFL after open(0400000): 163840', 'F_GETFL after open(0400000): 32768']],
  // A Gofer message carries at most 64 510 bytes of value: a 64 KiB value
  // of a host file gets E2BIG (ext4 has no room for it either: ENOSPC).
  'xattr@gofer': [
    ['a 65536-byte value: -1 ENOSPC', 'a 65536-byte value: -1 E2BIG'],
    ['a 65536-byte value: -1 ENOSPC', 'a 65536-byte value: -1 E2BIG'],
  ],
  // ftruncate and mmap run on the host kernel, which cannot be given an O_PATH
  // fd (seccomp's ADDFD refuses them): the guest's O_PATH fd is a host fd
  // open for neither reading nor writing.
  opath: [
    ['ftruncate: -1 EBADF', 'ftruncate: -1 EINVAL'],
    ['mmap: -1 EBADF', 'mmap: -1 EACCES'],
  ],
};

function same(kind: Fs, args: string[]): void {
  const { native, sandbox } = both(kind, args);
  let expected = native.stdout;
  for (const [n, s] of [...(DELIBERATE[args[0]!] ?? []), ...(DELIBERATE[`${args[0]}@${kind}`] ?? [])]) {
    expect(expected).toContain(`\n${n}\n`);
    expected = expected.replace(`\n${n}\n`, `\n${s}\n`);
  }
  expectSameRun(native, sandbox, { expected });
}

const ALL: Fs[] = ['overlay', 'tmpfs', 'gofer'];

describe('file-system calls return the same results natively and under tsvisor', () => {
  const cases: [string, string, Fs[]][] = [
    ['fd-file', 'fd calls on unlinked, renamed and replaced files (fstat, fchmod, futimens, xattrs, ftruncate, /proc/self/fd)', ALL],
    ['fd-dir', 'fd calls, getdents and fchdir on removed and renamed directories', ALL],
    ['times', 'utime, utimes, futimesat, utimensat, futimens: explicit times, UTIME_OMIT, UTIME_NOW, nanoseconds', ALL],
    ['dirs', 'directory fds: read, pread, readv EISDIR, mmap ENODEV, O_TRUNC EISDIR, getdents buffers', ALL],
    ['opath', 'O_PATH fds: what works through them and what gives EBADF', ALL],
    ['fifo', 'mkfifo and mknod FIFOs: non-blocking and blocking opens, ENXIO, O_RDWR, EINTR and SA_RESTART, unlink and rename', ALL],
    ['flags', 'F_GETFL after open and create: access modes, O_APPEND, O_SYNC, O_NOFOLLOW, directories', ALL],
    ['fsize', 'RLIMIT_FSIZE: EFBIG and SIGXFSZ on write, truncate, ftruncate, fallocate and copy-up', ALL],
    ['xattr', 'xattrs of files, directories, symlinks, FIFOs: namespaces, sizes, ERANGE, E2BIG, flags, copy-up', ALL],
    // Not on a Gofer root yet: its requests name paths from the export's root, which stop past 4 096 bytes.
    ['deep', '4095 nested directories: mkdir, chdir, a file at the bottom, getcwd and /proc/self/cwd ENAMETOOLONG', ['overlay', 'tmpfs']],
    // Not on a Gofer root: the Gofer's host files have no O_TMPFILE (EOPNOTSUPP, syscall-tables/ open).
    ['tmpfile', 'open, openat and openat2 with O_TMPFILE: an unnamed file (nlink 0, /proc/self/fd "DIR/#INO (deleted)"), named by linkat through AT_EMPTY_PATH or /proc/self/fd unless O_EXCL; EINVAL, ENOTDIR, ENOENT; unlinked files stay unlinkable', ['overlay', 'tmpfs']],
    ['whiteout', 'delete, recreate, delete again leaves the name absent at any depth; renames and RENAME_EXCHANGE of lower directories', ALL],
    ['walk', 'cold paths of several components (one Gofer request can walk them): symlinks, files, missing names, "..", ".", trailing slashes, loops, an unsearchable directory', ALL],
  ];
  for (const [cmd, what, kinds] of cases) {
    for (const kind of kinds) it(`${cmd} on ${kind}: ${what}`, () => same(kind, [cmd]));
  }
  // Random sequences of tree operations on the fixture meet whiteouts, opaque
  // directories and copy-ups in combinations no fixed case lists.
  for (const [kind, seed] of [['overlay', 1], ['overlay', 2], ['overlay', 3], ['tmpfs', 4], ['gofer', 5]] as [Fs, number][]) {
    it(`random tree operations on ${kind}, seed ${seed}`, () => same(kind, ['random', String(seed), '300']));
  }
});

// A directory with a second missing name is listed once and later missing
// names are answered from the listing (vfs/goferfs.ts). Names made there
// afterwards must still be found once their dentries left the cache: 40 000
// misses in another directory make the dentry cache evict them.
it('names made in a listed directory of a Gofer root are found after the dentry cache evicted them', () => {
  const script = [
    'cd /w && b=/bin/busybox',
    'for n in x y; do [ -e a/$n ] || echo "a/$n absent"; done',
    '$b touch a/f && $b mkdir a/d && $b ln -s f a/s && $b ln a/f a/h && $b mkfifo a/p && $b touch c/m && $b mv c/m a/r',
    'i=0; while [ $i -lt 40000 ]; do [ -e z/n$i ] && echo "z/n$i present"; i=$((i+1)); done',
    'for n in f d s h p r x y; do if [ -e a/$n ] || [ -L a/$n ]; then echo "a/$n present"; else echo "a/$n absent"; fi; done',
    '$b ls a',
  ].join('\n');
  // Directories the Gofer looked up (the Sentry lists through their O_PATH fds).
  const [n, s] = [goferRoot(), goferRoot()];
  for (const root of [n, s]) for (const d of ['a', 'z', 'c']) fs.mkdirSync(path.join(root, 'w', d));
  const native = runChroot(n, ['/bin/sh', '-c', script]);
  const sandbox = runSandbox(['/bin/sh', '-c', script], { doFlags: ['--root', s] });
  expect(native.stdout).toContain('a/r present');
  expectSameRun(native, sandbox);
}, 120_000);
