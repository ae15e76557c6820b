// Linux-exact behaviour (issue 9) that gVisor's syscall tests found wrong:
// test/programs/exactmisc.c runs each group of cases natively and under
// tsvisor do, in a fresh scratch directory each time, and prints what every
// call returned; the outputs must be the same.
import { describe, it } from 'vitest';
import { runNative, runSandbox } from './harness.js';
import { cProgram, expectSameRun } from './differential.js';

const program = cProgram('exactmisc');

describe('the same calls return the same results natively and under tsvisor', () => {
  it.each([
    ['chroot', 'getcwd of a cwd left outside the root by chroot: "(unreachable)" and the path from the mount root'],
    ['opath', 'fcntl, ioctl and syncfs on O_PATH fds: F_GETFL shows O_PATH, the commands Linux refuses give EBADF (the generic ioctls FIONBIO, FIOCLEX, FIONCLEX, FIOASYNC, FIOQSIZE too); bad fds give EBADF before ENOTTY'],
    ['setns', 'setns errors before the privilege check: EBADF, EINVAL for a file or bad flags, ESRCH for an exited pidfd'],
    ['comm', 'a script\'s process is named after the script (prctl PR_GET_NAME, /proc/self/comm), until it renames itself'],
    ['linkat', 'linkat(fd, "", AT_EMPTY_PATH): the opener with unchanged credentials or CAP_DAC_READ_SEARCH, else ENOENT'],
    ['execfn', 'AT_EXECFN is the path execve was given: absolute, relative, a script\'s, /dev/fd/N[/path] for execveat; fexecve of a memfd script'],
    ['pts', '/dev/pts/N exists and is listed while its terminal does: gone once the master is closed'],
    ['empty', 'an empty name gives ENOENT before the directory fd is looked at (unlinkat, mkdirat, mknodat, symlinkat, renameat, linkat)'],
    ['affinity', 'the CPU mask is the process\'s own right after an open, and a child forked then inherits it (sched_getaffinity)'],
    ['ctty', 'open, openat and openat2 of a terminal without O_NOCTTY, for reading, makes a session leader without one take it as its controlling terminal (not a master, not another session\'s, not with O_WRONLY); TIOCNOTTY gives it up'],
    ['nosys', 'syscall(-1) and unknown numbers fail with ENOSYS'],
  ])('%s: %s', (cmd) => {
    const native = runNative([program.path, program.scratch(), cmd]);
    const sandbox = runSandbox([program.path, program.scratch(), cmd]);
    expectSameRun(native, sandbox);
  });

  it('session: a command started without a terminal leads a session of its own (natively under setsid, as runc starts a container\'s process): setsid() is EPERM, a terminal it opens becomes its controlling terminal', () => {
    const native = runNative(['setsid', program.path, program.scratch(), 'session']);
    const sandbox = runSandbox([program.path, program.scratch(), 'session']);
    expectSameRun(native, sandbox);
  });
});
