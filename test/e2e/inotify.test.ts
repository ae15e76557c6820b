// inotify (issue 9): inotify_init, inotify_init1, inotify_add_watch,
// inotify_rm_watch. test/programs/inotify.c performs the same operations
// natively and under tsvisor do, each in a fresh scratch directory, and
// prints every call's result and every event read from the instance (watch
// descriptors, masks, cookies in order of appearance, names). The two event
// streams must be the same.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { runNative, runSandbox } from './harness.js';
import { cProgram, expectSameRun } from './differential.js';

const program = cProgram('inotify');

describe('inotify reports the same events natively and under tsvisor', () => {
  it.each([
    ['basic', 'flags, FIONREAD, EINVAL for a small buffer, poll/select/epoll, events of creation, attributes, names, removal'],
    ['watches', 'watch descriptors, IN_MASK_ADD/IN_MASK_CREATE, IN_ONLYDIR, IN_DONT_FOLLOW, IN_ONESHOT, rm_watch, errnos, fork'],
    ['moves', 'cookies of moves between and within directories, IN_MOVE_SELF, replaced targets, IN_DELETE_SELF, two instances'],
    ['data', 'IN_MODIFY, IN_ACCESS, IN_CLOSE_* of reads, writes and closes that run on the host; IN_EXCL_UNLINK; a blocking read'],
    ['overflow', 'coalescing of identical events, IN_Q_OVERFLOW past 16384 queued events'],
    ['churn', '1000 instances made, watched and closed in turn'],
  ])('%s: %s', (cmd) => {
    const native = runNative([program.path, program.scratch(), cmd]);
    const sandbox = runSandbox([program.path, program.scratch(), cmd]);
    expectSameRun(native, sandbox);
  });
});

describe('inotify on a root written through the Gofer (host files) reports what Linux reports', () => {
  it.each([['basic'], ['watches'], ['moves'], ['closes']])('%s', (cmd) => {
    const root = fs.mkdtempSync(path.join(program.dir, 'root-'));
    fs.copyFileSync(program.path, path.join(root, 'inotify'));
    fs.chmodSync(path.join(root, 'inotify'), 0o755);
    fs.mkdirSync(path.join(root, 's'));
    const native = runNative([program.path, program.scratch(), cmd]);
    const sandbox = runSandbox(['/inotify', '/s', cmd], { doFlags: ['--root', root] });
    expect(native.status).toBe(0);
    expect({ stdout: sandbox.stdout, stderr: sandbox.stderr, status: sandbox.status }).toEqual({
      stdout: native.stdout,
      stderr: native.stderr,
      status: native.status,
    });
  });
});

describe('inotify bounds', () => {
  it('a sandbox holds at most 64 instances (EMFILE past them), and gets them back once closed', () => {
    // Every instance counts against host root's max_user_instances (128): one
    // sandbox must not take them all. Not compared with Linux: natively the
    // limit is the user's.
    const r = runSandbox([program.path, program.scratch(), 'limits']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('made, watched and closed: 1000\nheld: 64, then EMFILE\nafter closing them = 0\n');
  });

  it('/proc/sys/fs/inotify shows the sandbox\'s limits and the host\'s queue size', () => {
    const d = '/proc/sys/fs/inotify';
    const r = runSandbox(['/bin/cat', `${d}/max_user_instances`, `${d}/max_user_watches`, `${d}/max_queued_events`]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`64\n65536\n${fs.readFileSync(`${d}/max_queued_events`, 'utf8')}`);
  });
});
