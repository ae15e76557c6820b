// Linux-exact /proc and /sys (issue 9): test/programs/exactproc.c runs each
// group of cases natively and under tsvisor do, in a fresh scratch directory
// each time, and prints what every call returned; the outputs must be the same.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TSVISOR, runNative, runSandbox, specBundle } from './harness.js';
import { cProgram, expectSameRun } from './differential.js';
import { Running } from './robust-helpers.js';

const program = cProgram('exactproc');
const dumpable = cProgram('dumpable');

describe('/proc and /sys behave natively and under tsvisor alike', () => {
  it.each([
    ['seek', 'lseek SEEK_END, SEEK_DATA, SEEK_HOLE on /proc and /sys files and directories of each kind (seq_file EINVAL, empty, a sysfs page), the offset they set'],
    ['flags', 'F_GETFL shows the status flags /proc files and directories were opened with (O_DIRECTORY only if asked), F_SETFL; O_DIRECT is EINVAL on /proc and /sys files'],
    ['sysstat', 'sysfs attributes stat as a page, directories as empty, neither with blocks'],
    ['dirstat', '/proc/self/fd\'s size is the fd count, fdinfo is 0555, /proc/sys directories have one link'],
    ['fdlinks', '/proc/self/fd/N links show how the fd was opened (r-x read, -wx write, none for O_PATH; pipes and sockets alike); exe, cwd, root and ns links are 0777'],
    ['accounts', '/proc\'s inode 1, task/<tid>/io counts the thread\'s own calls, /proc/net/tcp and udp show socket owners as the sandbox\'s uids'],
    ['oom', 'oom_score_adj: reads, writes (NUL, whitespace, hex), EINVAL for text and out of range, EACCES below the floor without CAP_SYS_RESOURCE, inherited at fork'],
    ['sysctl', '/proc/sys is accessed by its mode bits alone (no capability overrides them); a net sysctl\'s are the others\' for root of a user namespace that does not own the network namespace, as the sandbox\'s (access, faccessat, faccessat2, open); natively the program runs so itself'],
    ['auxv', '/proc/self/auxv is the vector the process got, AT_EXECFN included (the Sentry moves its string at exec), in the process and in a forked child'],
    ['zombie', '/proc/<pid> files opened while the child runs, read once it is a zombie: cmdline, environ, maps and smaps read nothing, comm, stat, status and statm still read'],
    ['states', "a process's state: 'T' stopped by SIGSTOP (stat and status), sleeping again after SIGCONT, never a tracing stop; right after its exec (the close-on-exec pipe closed) named after the new program"],
    ['boottime', 'a process\'s start time (/proc/<pid>/stat field 22) counts on the clock of /proc/uptime, sysinfo and /proc/stat\'s btime, and reads the same each time'],
    ['writeless', 'files without a write opened write-only: root\'s open succeeds and its writes fail (EIO, EINVAL), another user\'s open fails (EACCES)'],
  ])('%s: %s', (cmd) => {
    const native = runNative([program.path, program.scratch(), cmd]);
    const sandbox = runSandbox([program.path, program.scratch(), cmd]);
    expectSameRun(native, sandbox);
  });

  it('uts: /proc/sys/kernel/hostname and domainname fds read the names sethostname and setdomainname set, and epoll reports the change (EPOLLERR, to every fd)', () => {
    // Natively in a UTS namespace of its own: the host's names stay.
    const native = runNative(['unshare', '--uts', program.path, program.scratch(), 'uts']);
    const sandbox = runSandbox([program.path, program.scratch(), 'uts']);
    expectSameRun(native, sandbox);
  });

});

/**
 * A writer holding CAP_SYS_RESOURCE in the sandbox (given by the spec) may
 * lower oom_score_adj as Linux lets it, even where the host's root lacks that
 * capability (as here, so the expectations are Linux's documented semantics,
 * not a native run): the Sentry keeps the value, and the host's stays at the
 * sandbox's own.
 */
describe('/proc/<pid> of a process that is not dumpable (PR_SET_DUMPABLE 0, an effective uid changed and back)', () => {
  // Linux refuses a caller without CAP_SYS_PTRACE mem, exe and fds of such a
  // process even of the same uid, and shows its files as root's (for uid
  // 1000 environ and maps too: their mode is the owner's, root's).
  it.each([
    ['root with CAP_SYS_PTRACE', []],
    ['root without CAP_SYS_PTRACE', ['noptrace']],
  ])('%s', (_what, args) => {
    const argv = [dumpable.path, ...args];
    expectSameRun(runNative(argv), runSandbox(argv));
  });

  it('uid 1000', () => {
    const argv = ['setpriv', '--reuid', '1000', '--regid', '1000', '--clear-groups', dumpable.path];
    expectSameRun(runNative(argv), runSandbox(argv));
  });
});

describe('oom_score_adj of a guest holding CAP_SYS_RESOURCE', () => {
  function bundle(cmd: string): string {
    const root = program.scratch();
    for (const d of ['proc', 'dev', 'tmp']) fs.mkdirSync(path.join(root, d));
    fs.copyFileSync(program.path, path.join(root, 'exactproc'));
    fs.chmodSync(path.join(root, 'exactproc'), 0o755);
    return specBundle(path.join(program.scratch(), 'b'), root, ['/exactproc', '/tmp', cmd], (c) => {
      const caps = [...c.process.capabilities.bounding, 'CAP_SYS_RESOURCE'];
      c.process.capabilities = { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: [] };
    });
  }

  it('sets any value in range, as LTP\'s library does for itself and its children', () => {
    const state = program.scratch();
    const r = spawnSync(TSVISOR, ['--root', state, 'run', '--bundle', bundle('oompriv'), 'oompriv'], { encoding: 'utf8', timeout: 60000 });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(r.stdout).toBe(
      [
        'parent: set -1000: ok, reads -1000',
        'oom_score at -1000: 0',
        'child inherits -1000',
        'child: set 0: ok, reads 0',
        'child: set -500: ok, reads -500',
        'parent keeps -1000',
        'parent: set 300: ok, reads 300',
        'parent: set -200: ok, reads -200',
        '',
      ].join('\n'),
    );
  });

  it('leaves the host\'s value at the sandbox\'s own', async () => {
    const state = program.scratch();
    const b = bundle('oomhold');
    const run = new Running([TSVISOR, '--root', state, 'run', '--bundle', b, 'oomhold']);
    try {
      await run.waitFor(/held: set -1000: ok, reads -1000\n/);
      const own = fs.readFileSync('/proc/self/oom_score_adj', 'utf8');
      const held = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p) && readOr(`/proc/${p}/cmdline`).startsWith(`/exactproc\0/tmp\0oomhold\0`));
      expect(held.length).toBe(1);
      expect(readOr(`/proc/${held[0]}/oom_score_adj`)).toBe(own);
    } finally {
      run.kill('SIGKILL');
      await run.finish();
      spawnSync(TSVISOR, ['--root', state, 'delete', '--force', 'oomhold'], { encoding: 'utf8', timeout: 30000 });
    }
  });
});

function readOr(p: string): string {
  try {
    return fs.readFileSync(p, 'latin1');
  } catch {
    return '';
  }
}
