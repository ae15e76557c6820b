// Linux-exact behaviour (issue 9): test/programs/exact.c runs each group of
// cases natively and under tsvisor do, in a fresh scratch directory each
// time, and prints what every call returned; the outputs must be the same.
import { describe, it } from 'vitest';
import { runNative, runSandbox } from './harness.js';
import { cProgram, expectSameRun } from './differential.js';

const program = cProgram('exact');

describe('the same calls return the same results natively and under tsvisor', () => {
  it.each([
    ['errnos', 'errnos of link, unlinkat, getcwd, sendfile, sigtimedwait; fchown and fchmod of a pipe'],
    ['clone3', 'clone3: threads, fork, CLONE_PIDFD, invalid arguments, posix_spawn, registers kept'],
    ['clearsighand', 'clone3 CLONE_CLEAR_SIGHAND: handlers reset to SIG_DFL with their flags, SIG_IGN kept, for a fork and a CLONE_VM|CLONE_VFORK child on its own stack; the parent keeps its own; with CLONE_SIGHAND EINVAL'],
    ['badelf', 'ELF images the kernel refuses: before the point of no return execve returns ENOEXEC and the caller\'s fds are as before; past it (an unaligned segment offset, a PIE that overflows, a segment past the file\'s end) the process dies of SIGSEGV or SIGBUS'],
    ['procs', 'orphans are not the caller\'s children, execve(/proc/self/exe), own state R, /proc/<tid>'],
    ['reaping', 'zombies in /proc until reaped, held /proc/<pid> after the reap, waitid WNOWAIT/WSTOPPED/WCONTINUED/P_PIDFD, kill(-pgrp), clone3 argument checks, /proc/self/ns, coredump_filter'],
    ['procaccess', 'auxv, environ, maps, smaps, mem of another uid\'s process are refused (EACCES), stat and cmdline are not; the IPC sysctls'],
    ['proctask', '/proc/self/task links per thread, task/<tid>/children, comm written by its own thread (truncated) and refused to another process'],
    ['priority', 'getpriority/setpriority: a raise as root (kept across fork, exec and threads, shown in /proc/<pid>/stat), the clamp, PRIO_PGRP and PRIO_USER, ESRCH and EINVAL, another user\'s EPERM, RLIMIT_NICE\'s EACCES, zombies; ioprio_set/ioprio_get: the real-time class as root (kept, inherited, for a group), EPERM unprivileged, replaced by other classes'],
    ['scripts', 'execveat of a script through a close-on-exec fd or directory fd fails with ENOENT, through an inherited one runs; chains of 1 to 7 scripts (ELOOP past 5)'],
  ])('%s: %s', (cmd) => {
    const native = runNative([program.path, program.scratch(), cmd]);
    const sandbox = runSandbox([program.path, program.scratch(), cmd]);
    expectSameRun(native, sandbox);
  });
});
