// Linux-exact behaviour (issue 9): test/programs/exact.c runs each group of
// cases natively and under tsvisor do, in a fresh scratch directory each
// time, and prints what every call returned; the outputs must be the same.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { rmrf, runNative, runSandbox } from './harness.js';
import { compile, hostScratch } from './robust-helpers.js';

let dir: string;
let exact: string;
beforeAll(() => {
  dir = hostScratch('exact');
  exact = compile('exact', dir);
});
afterAll(() => {
  if (dir) rmrf(dir);
});

function scratch(): string {
  const d = fs.mkdtempSync(path.join(dir, 'run-'));
  fs.chmodSync(d, 0o755);
  return d;
}

describe('the same calls return the same results natively and under tsvisor', () => {
  it.each([
    ['errnos', 'errnos of link, unlinkat, getcwd, sendfile, sigtimedwait; fchown and fchmod of a pipe'],
    ['clone3', 'clone3: threads, fork, CLONE_PIDFD, invalid arguments, posix_spawn, registers kept'],
    ['procs', 'orphans are not the caller\'s children, execve(/proc/self/exe), own state R, /proc/<tid>'],
    ['reaping', 'zombies in /proc until reaped, held /proc/<pid> after the reap, waitid WNOWAIT/WSTOPPED/WCONTINUED/P_PIDFD, kill(-pgrp), clone3 argument checks, /proc/self/ns, coredump_filter'],
    ['procaccess', 'auxv, environ, maps, smaps, mem of another uid\'s process are refused (EACCES), stat and cmdline are not; the IPC sysctls'],
    ['proctask', '/proc/self/task links per thread, task/<tid>/children, comm written by its own thread (truncated) and refused to another process'],
    ['scripts', 'execveat of a script through a close-on-exec fd or directory fd fails with ENOENT, through an inherited one runs'],
  ])('%s: %s', (cmd) => {
    const native = runNative([exact, scratch(), cmd]);
    const sandbox = runSandbox([exact, scratch(), cmd]);
    expect(native.status).toBe(0);
    expect(native.stdout.length).toBeGreaterThan(0);
    expect({ stdout: sandbox.stdout, stderr: sandbox.stderr, status: sandbox.status }).toEqual({
      stdout: native.stdout,
      stderr: native.stderr,
      status: native.status,
    });
  });
});
