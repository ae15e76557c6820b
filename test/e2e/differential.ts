// Differential tests of a C program of test/programs: built once for a test
// file, run natively and under tsvisor in fresh scratch directories, the two
// runs compared.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { type Run, rmrf } from './harness.js';
import { compile, hostScratch } from './robust-helpers.js';

export interface Program {
  /** the compiled program (set once the file's beforeAll ran) */
  readonly path: string;
  /** the scratch directory it was built in */
  readonly dir: string;
  /** a new empty directory in `dir`, mode `mode` */
  scratch(mode?: number): string;
}

/** test/programs/NAME.c, built in a scratch directory before the file's tests and removed after them. */
export function cProgram(name: string): Program {
  let dir = '';
  let bin = '';
  beforeAll(() => {
    dir = hostScratch(name);
    bin = compile(name, dir);
  });
  afterAll(() => {
    if (dir) rmrf(dir);
  });
  return {
    get path() {
      return bin;
    },
    get dir() {
      return dir;
    },
    scratch(mode = 0o755) {
      const d = fs.mkdtempSync(path.join(dir, 'run-'));
      fs.chmodSync(d, mode);
      return d;
    },
  };
}

/**
 * The native run succeeded with output, and the sandbox's gave the same
 * stdout, stderr and status; `expected` replaces the native stdout when the
 * two are compared after a rewrite (scratch paths, documented differences).
 */
export function expectSameRun(native: Run, sandbox: Run, o: { sandboxStdout?: string; expected?: string } = {}): void {
  expect(native.status, native.stderr).toBe(0);
  expect(native.stdout.length).toBeGreaterThan(0);
  expect({ stdout: o.sandboxStdout ?? sandbox.stdout, stderr: sandbox.stderr, status: sandbox.status }).toEqual({
    stdout: o.expected ?? native.stdout,
    stderr: native.stderr,
    status: native.status,
  });
}
