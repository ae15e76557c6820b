// tsvisor's own unit tests under `tsvisor test` (issue 11): the unit test
// files run with Vitest natively and under `bin/tsvisor test`, each in a
// scratch copy of the project, with the Vitest integration (vitest.config.ts's
// setupFiles) marking each test. Compared: the pass/fail result of every test
// (Vitest's JSON reporter, written through --allow-write results), the exit
// status, the files the run wrote (the report's against the native run's),
// the host copy unchanged but for results/, and the report's attribution of
// file accesses to the test that made them.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestRunReport, within } from '../../src/testrun/report.js';
import { REPO, TSVISOR, type Run, changed, copyNodeModules, rmrf, runNative, treeSnapshot } from './harness.js';

/** The unit test files: no host root, daemon or sandbox of their own needed. */
const UNIT = [
  'test/bpf.test.ts',
  'test/bpf-oci-seccomp.test.ts',
  'test/code-cache.test.ts',
  'test/coverage-report.test.ts',
  'test/coverage-schema.test.ts',
  'test/syscall-table.test.ts',
  'test/testrun-diff.test.ts',
  'test/testrun-report.test.ts',
  'test/oci/cgroup-devices.test.ts',
  'test/oci/cgroups.test.ts',
  'test/oci/spec.test.ts',
  'test/oci/state.test.ts',
  'test/sentry/idmap.test.ts',
  'test/sentry/lru.test.ts',
];

/**
 * The others below test/ but test/e2e (which start sandboxes, daemons and
 * containers), and why they are not unit tests a sandbox can run.
 */
const NOT_UNIT: Record<string, string> = {
  'test/gofer/lifecycle.test.ts': 'starts real Gofers, which confine themselves in a mount namespace of their own (a nested sandbox: unshare(CLONE_NEWNS) is EPERM in tsvisor) and open host devices',
  'test/gofer/mutate.test.ts': 'starts real Gofers (a nested sandbox, as above)',
  'test/gofer/walk-open.test.ts': 'starts real Gofers (a nested sandbox, as above) and makes a device node with mknod, which needs CAP_MKNOD on the host',
  'test/gofer/perf.test.ts': 'a measurement of Gofer round trips (bench material), on real Gofers',
  'test/shim/shim.test.ts': "starts containerd-shim-tsvisor-v2 servers and their sandboxes (a nested sandbox, as the Gofer's) as root",
};

/** What a copy of the project holds, and a copy of node_modules (harness.ts copyNodeModules). */
const COPIED = ['bin', 'build', 'dist', 'scripts', 'src', 'test', 'syscall-tables', 'docs', 'package.json', 'tsconfig.json', 'vitest.config.ts'];

/** Outside /tmp, so that the sandbox's /tmp is a private tmpfs. */
const BASE = fs.mkdtempSync('/var/tmp/tsvisor-selftest-');
afterAll(() => rmrf(BASE));

/** The environment of a run with its own empty HOME (testrun-report.test.ts's chromium writes below it). */
function env(home: string): NodeJS.ProcessEnv {
  fs.mkdirSync(home);
  return { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: home, LANG: 'C', LC_ALL: 'C' };
}

/**
 * A change below HOME as its first two components (.cache/chromium-headless):
 * chromium names its profile directories at random (scoped_dirXXXXXX).
 */
const homeArea = (rel: string) => rel.split('/').slice(0, 2).join('/');
const VITEST = ['node', 'node_modules/vitest/vitest.mjs', 'run', '--reporter=json', '--outputFile=results/vitest.json', ...UNIT];
const TIMEOUT = 600_000;

/** A copy of the project (timestamps kept, so global-setup sees a current build) with an empty results/. */
function project(name: string): string {
  const dir = path.join(BASE, name);
  for (const e of COPIED) fs.cpSync(path.join(REPO, e), path.join(dir, e), { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
  copyNodeModules(dir);
  fs.mkdirSync(path.join(dir, 'results'));
  return dir;
}

interface VitestJson {
  numTotalTests: number;
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: { name: string; assertionResults: { ancestorTitles: string[]; title: string; status: string; failureMessages: string[] }[] }[];
}

function results(dir: string): VitestJson {
  return JSON.parse(fs.readFileSync(path.join(dir, 'results/vitest.json'), 'utf8')) as VitestJson;
}

/** Each test as the Vitest integration names it ("FILE > DESCRIBE... > NAME"), with its status. */
function statuses(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of results(dir).testResults) {
    for (const a of f.assertionResults) out[[path.relative(dir, f.name), ...a.ancestorTitles, a.title].join(' > ')] = a.status;
  }
  return out;
}

/** The failed tests' messages, for an assertion's message. */
function failures(dir: string): string {
  return results(dir)
    .testResults.flatMap((f) => f.assertionResults.filter((a) => a.status === 'failed').map((a) => `${a.title}: ${a.failureMessages.join('\n').slice(0, 1000)}`))
    .join('\n');
}

const counts = (j: VitestJson) => ({ total: j.numTotalTests, passed: j.numPassedTests, failed: j.numFailedTests, pending: j.numPendingTests, todo: j.numTodoTests });

describe("tsvisor's own unit tests natively and under tsvisor test", () => {
  let nativeDir: string;
  let native: Run;
  let nativeChanged: string[];
  let nativeHomeChanged: string[];
  let home: string;
  let dir: string;
  let before: string[];
  let sandboxed: Run;
  let report: TestRunReport;

  beforeAll(() => {
    nativeDir = project('native');
    const nb = treeSnapshot(nativeDir);
    const nativeHome = path.join(BASE, 'home-native');
    const nativeEnv = env(nativeHome);
    native = runNative(VITEST, { cwd: nativeDir, env: nativeEnv, timeoutMs: TIMEOUT });
    nativeChanged = changed(nb, treeSnapshot(nativeDir));
    nativeHomeChanged = [...new Set(changed([], treeSnapshot(nativeHome)).map(homeArea))].sort();

    dir = project('sandboxed');
    before = treeSnapshot(dir);
    const reportDir = path.join(BASE, 'report');
    home = path.join(BASE, 'home-sandboxed');
    const r = spawnSync(TSVISOR, ['test', '--report', reportDir, '--allow-write', 'results', '--', ...VITEST], { cwd: dir, env: env(home), encoding: 'latin1', timeout: TIMEOUT });
    if (r.error) throw r.error;
    sandboxed = { stdout: r.stdout, stderr: r.stderr, status: r.status, signal: r.signal };
    report = JSON.parse(fs.readFileSync(path.join(reportDir, 'report.json'), 'utf8')) as TestRunReport;
  }, 2 * TIMEOUT + 120_000);

  it('the unit test files are the test files outside test/e2e less those that are not unit tests', () => {
    const files: string[] = [];
    const walk = (rel: string) => {
      for (const e of fs.readdirSync(path.join(REPO, rel), { withFileTypes: true })) {
        const p = path.posix.join(rel, e.name);
        if (e.isDirectory() && p !== 'test/e2e') walk(p);
        else if (e.name.endsWith('.test.ts')) files.push(p);
      }
    };
    walk('test');
    expect([...UNIT, ...Object.keys(NOT_UNIT)].sort()).toEqual(files.sort());
  });

  it('gives every test the native result, the same counts and the same exit status', () => {
    expect(native.status, native.stderr.slice(-2000)).toBe(0);
    const n = statuses(nativeDir);
    expect(Object.keys(n).length).toBeGreaterThan(200);
    expect(statuses(dir), failures(dir)).toEqual(n);
    expect(counts(results(dir))).toEqual(counts(results(nativeDir)));
    expect(sandboxed.status, sandboxed.stderr.slice(-2000)).toBe(native.status);
    expect(report.suite).toEqual({ status: native.status, signal: null, timedOut: false });
  });

  it('the report names each test the integration marked, with its result', () => {
    const marked = Object.fromEntries(report.tests.map((t) => [t.name, t.result]));
    const ran = Object.entries(statuses(dir)).filter(([, s]) => s === 'passed' || s === 'failed');
    expect(report.tests.length).toBe(ran.length);
    expect(marked).toEqual(Object.fromEntries(ran));
  });

  it("attributes a test's file accesses to it, its child processes' included", () => {
    const files = (d: string) => report.reads.find((g) => g.dir === path.join(dir, d))!.files;
    const testsOf = (d: string, name: string) => files(d).find((f) => f.name === name)!.tests;
    // Read by `bin/tsvisor syscalls`, which the test runs.
    expect(testsOf('syscall-tables', 'syscalls.json')).toContain(
      'test/syscall-table.test.ts > syscalls.json > is what tsvisor syscalls prints: support and evidence for each call',
    );
    // Read by the test itself, and by no other.
    expect(testsOf('docs', 'syscalls.md')).toEqual([
      'test/syscall-table.test.ts > syscalls.json > is what docs/syscalls.md shows (regenerate it with tsvisor syscalls --format markdown)',
    ]);
    expect(testsOf('docs', 'coverage-schema.md')).toEqual([]);
  });

  it("the report's writes are what the native run wrote, and the host copy is unchanged but for results/", () => {
    expect(nativeChanged).toContain('results/vitest.json');
    const rel = (p: string) => path.relative(dir, p);
    const inMemory = report.writes.changes!.map((c) => c.path);
    const through = report.writes.paths.filter((w) => w.target === 'host').map((w) => w.path);
    const all = [...inMemory, ...through];
    expect(all.filter((p) => within(p, dir)).map(rel).sort()).toEqual(nativeChanged);
    expect([...new Set(all.filter((p) => within(p, home) && p !== home).map((p) => homeArea(path.relative(home, p))))].sort()).toEqual(nativeHomeChanged);
    expect(all.filter((p) => !within(p, dir) && !within(p, home))).toEqual([]);
    expect(changed(before, treeSnapshot(dir))).toEqual(['results/vitest.json']);
    expect(fs.readdirSync(home)).toEqual([]);
  });
});
