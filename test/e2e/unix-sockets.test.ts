// Unix-domain sockets, Linux-exact (issue 9): test/programs/unixsock.c runs
// each group of cases natively and under tsvisor do, each in a fresh scratch
// directory, and prints what every call returned (names with the scratch
// directory as $D); the outputs must be the same. The names groups cover
// what getsockname, getpeername, accept and recvfrom report for path,
// abstract and autobound sockets of every type; errnos and sends the errors
// of bind, connect and addressed sends; files renames, links and re-binds of
// socket files (sendto, sendmsg); creds getsockopt's SO_PEERCRED and
// SO_PEERGROUPS (also once the connecting process is gone, before or after
// the accept) and SCM_CREDENTIALS; passcred which messages carry the
// sender's credentials when SO_PASSCRED is set before or after the send, on
// either end, for every socket type and way of sending and connecting.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { runNative, runSandbox } from './harness.js';
import { cProgram, expectSameRun } from './differential.js';

const program = cProgram('unixsock');

/** The output with the run's scratch directory and its last component (abstract names are unique per run) replaced. */
function normalized(out: string, d: string): string {
  return out.split(d).join('$D').split(path.basename(d)).join('$T');
}

describe('unix sockets behave the same natively and under tsvisor', () => {
  it.each([
    ['names', 'exact names from getsockname, getpeername, accept, recvfrom for path, abstract and autobound sockets'],
    ['abstract', 'abstract names and autobind'],
    ['errnos', 'bind on existing paths and directories, trailing slashes, ENOENT/ENOTDIR, EPROTOTYPE, ECONNREFUSED'],
    ['sends', 'addressed sends on unconnected and connected sockets of every type'],
    ['files', 'socket files renamed, linked, unlinked and bound again'],
    ['creds', 'SO_PEERCRED and SO_PEERGROUPS of connected sockets, SCM_CREDENTIALS'],
    ['passcred', 'SCM_CREDENTIALS decided when a message is queued: SO_PASSCRED on either end, before or after, every type and way'],
  ])('%s: %s', (cmd) => {
    const nd = program.scratch();
    const sd = program.scratch();
    const native = runNative([program.path, nd, cmd]);
    const sandbox = runSandbox([program.path, sd, cmd]);
    expectSameRun(native, sandbox, { sandboxStdout: normalized(sandbox.stdout, sd), expected: normalized(native.stdout, nd) });
  });
});

describe('a unix bind never reaches the host file system', () => {
  it.each([
    ['absolute', (d: string) => `${d}/evil.sock`],
    ['climbing with ..', (d: string) => `${'../'.repeat(12)}${d.slice(1)}/evil.sock`],
    ['through /proc/self/cwd', (d: string) => `/proc/self/cwd/${d.slice(1)}/evil.sock`],
  ])('%s', (_label, name) => {
    const d = program.scratch();
    const script = [
      'import socket, sys',
      's = socket.socket(socket.AF_UNIX)',
      `s.bind(${JSON.stringify(name(d))})`,
      'print(s.getsockname())',
    ].join('\n');
    const r = runSandbox(['python3', '-c', script], { cwd: '/' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(name(d));
    // The sandbox's root is an overlay: the socket file is the guest's alone.
    expect(fs.readdirSync(d)).toEqual([]);
  });
});
