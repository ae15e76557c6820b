// Linux-exact /proc and /sys (issue 9): test/programs/exactproc.c runs each
// group of cases natively and under tsvisor do, in a fresh scratch directory
// each time, and prints what every call returned; the outputs must be the same.
import { describe, it } from 'vitest';
import { runNative, runSandbox } from './harness.js';
import { cProgram, expectSameRun } from './differential.js';

const program = cProgram('exactproc');

describe('/proc and /sys behave natively and under tsvisor alike', () => {
  it.each([
    ['seek', 'lseek SEEK_END, SEEK_DATA, SEEK_HOLE on /proc and /sys files and directories of each kind (seq_file EINVAL, empty, a sysfs page), the offset they set'],
    ['accounts', '/proc\'s inode 1, task/<tid>/io counts the thread\'s own calls, /proc/net/tcp and udp show socket owners as the sandbox\'s uids'],
  ])('%s: %s', (cmd) => {
    const native = runNative([program.path, program.scratch(), cmd]);
    const sandbox = runSandbox([program.path, program.scratch(), cmd]);
    expectSameRun(native, sandbox);
  });
});
