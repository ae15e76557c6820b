// POSIX ACLs of the Sentry's in-memory file systems against Linux's tmpfs:
// test/programs/posixacl.c sets raw system.posix_acl_access and _default
// values (valid, malformed, invalid), reads them back, and checks the mode
// they fold into, chmod's effect on them, inheritance at creation and what
// users other than the owner may do, printing every call's result. The
// native run is on the host's /dev/shm (a tmpfs), the sandbox's on its own
// /dev/shm and on the overlay's in-memory upper layer. Objects of the
// overlay's lower layer (host files with ACLs, ext4) are compared with the
// same objects natively, before and after they are copied up, and so are
// host files written through the Gofer (--root).
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { type Run, rmrf, runNative, runSandbox } from './harness.js';
import { cProgram, expectSameRun } from './differential.js';

const program = cProgram('posixacl');

/** The program run natively in a fresh directory of the host's /dev/shm. */
function onHostTmpfs(): Run {
  const d = fs.mkdtempSync('/dev/shm/tsvisor-acl-');
  try {
    return runNative([program.path, d]);
  } finally {
    rmrf(d);
  }
}

/** Same output, status and stderr, and enough lines that the run went to its end. */
function same(native: Run, sandbox: Run): void {
  expectSameRun(native, sandbox);
  expect(native.stdout.split('\n').length).toBeGreaterThan(280);
}

describe('POSIX ACLs on in-memory files behave as on Linux tmpfs', () => {
  it("on the sandbox's tmpfs (/dev/shm)", () => {
    const native = onHostTmpfs();
    const sandbox = runSandbox(['/bin/sh', '-c', `mkdir /dev/shm/acl && exec ${program.path} /dev/shm/acl`]);
    same(native, sandbox);
  });

  it("on the overlay's upper layer (a host directory written in the sandbox)", () => {
    const s = program.scratch();
    same(onHostTmpfs(), runSandbox([program.path, s]));
    // The host directory is untouched.
    expect(fs.readdirSync(s)).toEqual([]);
  });

  it("the lower layer's ACLs are enforced before copy-up, come along with it, and chmod and creations act on the copies", () => {
    const n = program.scratch();
    const s = program.scratch();
    execFileSync(program.path, [n, 'setup']);
    execFileSync(program.path, [s, 'setup']);
    const native = runNative([program.path, n, 'lower']);
    const sandbox = runSandbox([program.path, s, 'lower']);
    expectSameRun(native, sandbox);
    expect(native.stdout).toContain('1000 open lf rdwr: 0\n');
    // a named entry denying what other grants
    expect(native.stdout).toContain('1001 open deny rdonly: -1 EACCES\n');
    expect(native.stdout).toContain('ld/f access: 44 ');
  });

  it('host files written through the Gofer (--root): their ACLs enforced, creation under a default ACL without the umask, as the host kernel keeps them', () => {
    const n = program.scratch();
    execFileSync(program.path, [n, 'setup']);
    const root = program.scratch();
    for (const d of ['w', 'proc', 'dev', 'tmp']) fs.mkdirSync(path.join(root, d));
    fs.copyFileSync(program.path, path.join(root, 'posixacl'));
    fs.chmodSync(path.join(root, 'posixacl'), 0o755);
    execFileSync(program.path, [path.join(root, 'w'), 'setup']);
    const native = runNative([program.path, n, 'host']);
    const sandbox = runSandbox(['/posixacl', '/w', 'host'], { doFlags: ['--root', root] });
    expectSameRun(native, sandbox);
    expect(native.stdout).toContain('ld/f mode: mode 0660\n');
  });
});
