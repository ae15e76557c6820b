// tsvisor test's report model, formats and --fail-on, on synthetic event
// streams (the Sentry's AccessEvents as src/sentry/spec.ts defines them).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FAIL_ON_KINDS, FAIL_ON_STATUS, FailOnError, applyFailOn, parseFailOn } from '../src/testrun/fail-on.js';
import { renderHtml } from '../src/testrun/html.js';
import { renderMarkdown } from '../src/testrun/markdown.js';
import { RECORD_LIMITS, Recorder } from '../src/testrun/recorder.js';
import { type RunContext, type SandboxSettings, type TestRunReport, buildReport, writeTarget } from '../src/testrun/report.js';
import { TestRunError, hiddenPaths, parseDuration } from '../src/testrun/run.js';
import { HOME_SECRETS, SYSTEM_SECRETS, defaultHidden } from '../src/testrun/secrets.js';
import { formatAnnotations, formatSummary } from '../src/testrun/summary.js';

const T0 = 1_000_000;

function settings(over: Partial<SandboxSettings> = {}): SandboxSettings {
  return {
    network: 'loopback',
    tmp: 'tmpfs',
    allowWrite: ['/work/proj/coverage'],
    hidden: [
      { path: '/home/u/.ssh', default: true, present: true },
      { path: '/home/u/.aws', default: true, present: false },
      { path: '/work/proj/private', default: false, present: true },
    ],
    limits: { memory: 1 << 30, pids: 4096, overlaySize: 1 << 30, timeoutMs: 60_000 },
    rootless: false,
    ...over,
  };
}

function context(over: Partial<RunContext> = {}): RunContext {
  return {
    version: '0.0.0-test',
    command: ['npm', 'test'],
    cwd: '/work/proj',
    startedAt: T0,
    endedAt: T0 + 2500,
    exit: { status: 0, code: 0 },
    status: 0,
    timedOut: false,
    sandbox: settings(),
    peakMemory: 50 << 20,
    changes: null,
    coverage: null,
    coverageWhy: 'absent: a test',
    failOn: [],
    ...over,
  };
}

/**
 * A run as the Sentry reports it: tsvisor's init (1), the runner (2), a
 * worker (3) running two tests, a child of the worker (4) spawned by the
 * first test, a daemon (5) left running.
 */
function suiteRun(): Recorder {
  let now = T0;
  const r = new Recorder(() => now);
  r.onProcessStart(1, 0, T0, true);
  r.onProcessStart(2, 1, T0 + 10);
  r.onProcessExec(2, '/usr/bin/node', ['node', 'runner.js']);
  r.onProcessStart(3, 2, T0 + 20);
  r.onProcessExec(3, '/usr/bin/node', ['node', 'worker.js']);
  r.onFileAccess({ pid: 3, op: 'read', call: 'openat', path: '/usr/lib/node/x.js', errno: 0 });
  now = T0 + 100;
  r.onTestMarker({ event: 'begin', pid: 3, test: 'a.test.ts > writes' });
  r.onFileAccess({ pid: 3, op: 'create', call: 'openat', path: '/work/proj/out.txt', errno: 0 });
  r.onFileAccess({ pid: 3, op: 'write', call: 'openat', path: '/work/proj/coverage/lcov.info', errno: 0 });
  r.onFileAccess({ pid: 3, op: 'create', call: 'mkdirat', path: '/tmp/scratch', errno: 0 });
  r.onFileAccess({ pid: 3, op: 'write', call: 'openat', path: '/dev/null', errno: 0 });
  r.onProcessStart(4, 3, T0 + 120);
  r.onProcessExec(4, '/bin/sh', ['sh', '-c', 'cat ~/.ssh/id_rsa']);
  r.onFileAccess({ pid: 4, op: 'read', call: 'openat', path: '/home/u/.ssh/id_rsa', errno: 2 });
  r.onDenied({ pid: 4, rule: 'hidden', what: 'openat /home/u/.ssh/id_rsa', path: '/home/u/.ssh/id_rsa', errno: 2 });
  r.onFileAccess({ pid: 4, op: 'read', call: 'openat', path: '/home/u/notes.txt', errno: 0 });
  r.onProcessExit(4, { status: 1, code: 1 }, 3 << 20, T0 + 150);
  now = T0 + 200;
  r.onTestMarker({ event: 'end', pid: 3, test: 'a.test.ts > writes', result: 'passed' });
  r.onTestMarker({ event: 'begin', pid: 3, test: 'a.test.ts > network' });
  r.onNetwork({ pid: 3, call: 'connect', family: 'AF_INET', protocol: 'tcp', address: '93.184.216.34', port: 443, errno: 101 });
  r.onDenied({ pid: 3, rule: 'network', what: 'connect 93.184.216.34:443', errno: 101 });
  r.onNetwork({ pid: 3, call: 'connect', family: 'AF_INET', protocol: 'tcp', address: '127.0.0.1', port: 8080, errno: 0 });
  r.onProcessStart(5, 3, T0 + 250);
  r.onProcessExec(5, '/usr/bin/sleep', ['sleep', '1000']);
  now = T0 + 300;
  r.onTestMarker({ event: 'end', pid: 3, test: 'a.test.ts > network', result: 'failed' });
  r.onFileAccess({ pid: 3, op: 'delete', call: 'unlinkat', path: '/work/proj/old.txt', errno: 0 });
  r.onFileAccess({ pid: 3, op: 'stat', call: 'newfstatat', path: '/etc/hosts', errno: 0 });
  r.onDenied({ pid: 3, rule: 'limit', what: 'fork: pids limit 4096', errno: 11 });
  r.onDenied({ pid: 3, rule: 'syscall', what: 'mount', errno: 1 });
  r.onProcessExit(3, { status: 0, code: 0 }, 80 << 20, T0 + 400);
  r.onCommandExit([5], T0 + 450);
  r.onProcessExit(2, { status: 1, code: 1 }, 60 << 20, T0 + 450);
  r.onProcessExit(5, { status: 137, signal: 9 }, 1 << 20, T0 + 460);
  r.onProcessExit(1, { status: 1, code: 1 }, null, T0 + 470);
  return r;
}

describe('Recorder: attribution to the active test', () => {
  it('attributes an event to the test of its process or of the nearest ancestor with one, and to none outside a test', () => {
    const r = new Recorder();
    r.onProcessStart(1, 0, T0, true);
    r.onProcessStart(2, 1, T0);
    r.onProcessStart(3, 2, T0);
    r.onProcessStart(4, 3, T0);
    expect(r.testOf(4)).toBeNull();
    r.onTestMarker({ event: 'begin', pid: 2, test: 'outer' });
    expect([r.testOf(2), r.testOf(3), r.testOf(4)]).toEqual(['outer', 'outer', 'outer']);
    r.onTestMarker({ event: 'begin', pid: 3, test: 'inner' });
    expect([r.testOf(2), r.testOf(3), r.testOf(4)]).toEqual(['outer', 'inner', 'inner']);
    r.onTestMarker({ event: 'end', pid: 3, test: 'inner', result: 'passed' });
    expect(r.testOf(4)).toBe('outer');
    r.onTestMarker({ event: 'end', pid: 2, test: 'outer', result: 'passed' });
    expect(r.testOf(4)).toBeNull();
    expect(r.testOf(99)).toBeNull();
  });

  it('ignores a begin marker of a process it does not know, and an end that is not the open test', () => {
    const r = new Recorder();
    r.onProcessStart(2, 1, T0);
    r.onTestMarker({ event: 'begin', pid: 77, test: 'ghost' });
    expect(r.tests.size).toBe(0);
    r.onTestMarker({ event: 'begin', pid: 2, test: 'a' });
    r.onTestMarker({ event: 'end', pid: 2, test: 'b' });
    expect(r.testOf(2)).toBe('a');
  });

  it('forgets a process that exited: its marker no longer attributes, its pid may be reused', () => {
    const r = new Recorder();
    r.onProcessStart(2, 1, T0);
    r.onTestMarker({ event: 'begin', pid: 2, test: 'a' });
    r.onProcessExit(2, { status: 0 }, null, T0 + 1);
    r.onProcessStart(2, 1, T0 + 2);
    expect(r.testOf(2)).toBeNull();
    expect(r.processes).toHaveLength(2);
  });
});

describe('Recorder: bounds', () => {
  const saved = { ...RECORD_LIMITS };
  afterEach(() => Object.assign(RECORD_LIMITS, saved));

  it('keeps at most the limits of paths, network attempts, denials, processes and tests and counts the rest', () => {
    Object.assign(RECORD_LIMITS, { paths: 3, network: 2, denials: 2, processes: 3, tests: 2, testsPerPath: 1 });
    const r = new Recorder();
    for (let pid = 1; pid <= 5; pid++) r.onProcessStart(pid, pid - 1, T0);
    for (let i = 0; i < 5; i++) r.onTestMarker({ event: 'begin', pid: 5, test: `t${i}` });
    for (let i = 0; i < 6; i++) r.onFileAccess({ pid: 5, op: 'read', call: 'openat', path: `/p/${i}`, errno: 0 });
    for (let i = 0; i < 4; i++) r.onFileAccess({ pid: 5, op: 'read', call: 'openat', path: '/p/0', errno: 0 });
    for (let i = 0; i < 5; i++) r.onNetwork({ pid: 5, call: 'connect', family: 'AF_INET', protocol: 'tcp', address: '10.0.0.1', port: i, errno: 101 });
    for (let i = 0; i < 5; i++) r.onDenied({ pid: 5, rule: 'syscall', what: 'mount', errno: 1 });
    expect(r.paths.size).toBe(3);
    expect(r.paths.get('/p/0')!.ops.read).toBe(5);
    expect(r.paths.get('/p/0')!.tests.size).toBe(1);
    expect(r.network).toHaveLength(2);
    expect(r.denials).toHaveLength(2);
    expect(r.processes).toHaveLength(3);
    expect(r.tests.size).toBe(2);
    expect(r.dropped).toEqual({ paths: 3, network: 3, denials: 3, processes: 2, tests: 3 });
  });
});

describe('buildReport', () => {
  const report = buildReport(suiteRun(), context());

  it('lists every write with where it went: the overlay, the host (--allow-write), /tmp, a pseudo file system', () => {
    const targets = Object.fromEntries(report.writes.paths.map((w) => [w.path, w.target]));
    expect(targets).toEqual({ '/work/proj/out.txt': 'memory', '/work/proj/coverage/lcov.info': 'host', '/tmp/scratch': 'tmp', '/dev/null': 'pseudo', '/work/proj/old.txt': 'memory' });
    expect(report.writes.paths.find((w) => w.path === '/work/proj/out.txt')!.tests).toEqual(['a.test.ts > writes']);
    expect(report.writes.paths.find((w) => w.path === '/work/proj/old.txt')!.tests).toEqual([]);
    expect(report.writes.changes).toBeNull();
    expect(report.summary).toMatchObject({ filesWritten: 2, filesDeleted: 1 });
  });

  it('groups reads by directory, those outside the project and the system first', () => {
    expect(report.reads.map((g) => [g.dir, g.area])).toEqual([
      ['/home/u', 'outside'],
      ['/home/u/.ssh', 'outside'],
      ['/usr/lib/node', 'system'],
      ['/etc', 'system'],
    ]);
    expect(report.reads[1]!.files[0]).toMatchObject({ name: 'id_rsa', reads: 0, misses: 1, tests: ['a.test.ts > writes'] });
  });

  it('explains each denial: the rule, and the flag that would allow it', () => {
    const byRule = Object.fromEntries(report.denials.map((d) => [d.rule, d]));
    expect(byRule.hidden).toMatchObject({ secret: true, allowWith: '--show /home/u/.ssh', errno: 'ENOENT', process: 'sh', test: 'a.test.ts > writes' });
    expect(byRule.network).toMatchObject({ allowWith: '--network host', errno: 'ENETUNREACH', test: 'a.test.ts > network' });
    expect(byRule.limit!.allowWith).toMatch(/^--pids/);
    expect(byRule.syscall).toMatchObject({ allowWith: null, test: null });
    expect(byRule.syscall!.why).toMatch(/refuses mount/);
    expect(report.summary.secretsRead).toBe(1);
  });

  it('does not count a hidden path that does not exist on the host as a secret read', () => {
    const r = new Recorder();
    r.onDenied({ pid: 2, rule: 'hidden', what: 'openat /home/u/.aws/credentials', path: '/home/u/.aws/credentials', errno: 2 });
    r.onDenied({ pid: 2, rule: 'hidden', what: 'openat /work/proj/private/key', path: '/work/proj/private/key', errno: 2 });
    const rep = buildReport(r, context());
    expect(rep.denials.map((d) => [d.secret, d.allowWith])).toEqual([[false, '--show /home/u/.aws'], [true, 'no --hide /work/proj/private']]);
  });

  it('tells network attempts that stay in the sandbox from those that would leave it', () => {
    expect(report.network.map((n) => [n.address, n.scope, n.outcome, n.process])).toEqual([
      ['93.184.216.34', 'external', 'ENETUNREACH', 'node'],
      ['127.0.0.1', 'loopback', 'ok', 'node'],
    ]);
    expect(report.summary).toMatchObject({ networkAttempts: 2, externalNetwork: 1 });
  });

  it('counts a server on the wildcard address as inside the sandbox, except on the host network', () => {
    const r = new Recorder();
    r.onNetwork({ pid: 2, call: 'bind', family: 'AF_INET', protocol: 'tcp', address: '0.0.0.0', port: 8080, errno: 0 });
    r.onNetwork({ pid: 2, call: 'bind', family: 'AF_INET6', protocol: 'udp', address: '::', port: 53, errno: 0 });
    r.onNetwork({ pid: 2, call: 'connect', family: 'AF_UNIX', protocol: 'stream', address: '/run/x.sock', port: null, errno: 111 });
    r.onNetwork({ pid: 2, call: 'sendto', family: 'AF_INET', protocol: 'udp', address: '0.0.0.0', port: 53, errno: 0 });
    expect(buildReport(r, context()).network.map((n) => n.scope)).toEqual(['loopback', 'loopback', 'unix', 'external']);
    expect(buildReport(r, context({ sandbox: settings({ network: 'host' }) })).network.map((n) => n.scope)).toEqual(['external', 'external', 'unix', 'external']);
  });

  it('reports the process tree without tsvisor\'s init, with exits, durations, peaks and the leaked daemon', () => {
    expect(report.processes.map((p) => [p.pid, p.ppid, p.exit?.status, p.leaked])).toEqual([
      [2, 1, 1, false],
      [3, 2, 0, false],
      [4, 3, 1, false],
      [5, 3, 137, true],
    ]);
    expect(report.processes.find((p) => p.pid === 4)).toMatchObject({ durationMs: 30, peakRss: 3 << 20, test: 'a.test.ts > writes', startMs: 120 });
    expect(report.summary).toMatchObject({ processes: 4, leakedProcesses: 1, peakMemory: 80 << 20 });
  });

  it('reports each test with what it did', () => {
    expect(report.tests).toEqual([
      { name: 'a.test.ts > writes', pid: 3, result: 'passed', durationMs: 100, reads: 1, writes: 4, network: 0, denials: 1, processes: 1, written: ['/work/proj/out.txt', '/work/proj/coverage/lcov.info', '/tmp/scratch', '/dev/null'] },
      { name: 'a.test.ts > network', pid: 3, result: 'failed', durationMs: 100, reads: 0, writes: 0, network: 2, denials: 1, processes: 1, written: [] },
    ]);
  });

  it('says why the syscall summary is absent', () => {
    expect(report.syscalls).toEqual({ available: false, why: 'absent: a test' });
  });

  it('counts the overlay\'s changes when they are known, and attributes them by path', () => {
    const rep = buildReport(suiteRun(), context({ changes: [
      { path: '/work/proj/out.txt', kind: 'created', type: 'file', size: 3, hostSize: null, diff: '+hi' },
      { path: '/work/proj/old.txt', kind: 'deleted', type: 'file', size: null, hostSize: 9 },
    ] }));
    expect(rep.summary).toMatchObject({ filesWritten: 1, filesDeleted: 1 });
    expect(rep.writes.changes!.map((c) => c.tests)).toEqual([['a.test.ts > writes'], []]);
  });

  it('classifies write targets by the sandbox\'s mounts', () => {
    const s = settings({ tmp: 'overlay', allowWrite: ['/tmp/proj/out'] });
    expect([writeTarget('/tmp/x', s), writeTarget('/tmp/proj/out/y', s), writeTarget('/dev/shm/z', s), writeTarget('/proc/self/attr', s), writeTarget('/home/u/f', s)]).toEqual(['memory', 'host', 'tmp', 'pseudo', 'memory']);
  });
});

describe('--fail-on', () => {
  it('parses kinds, comma-separated and repeated, and "all"; refuses an unknown one by name', () => {
    expect(parseFailOn(['network,secrets', 'denials'])).toEqual(['network', 'secrets', 'denials']);
    expect(parseFailOn(['all'])).toEqual([...FAIL_ON_KINDS]);
    expect(parseFailOn([])).toEqual([]);
    expect(() => parseFailOn(['network,writes'])).toThrow(FailOnError);
    expect(() => parseFailOn(['network,writes'])).toThrow(/unknown kind "writes"/);
  });

  it.each([
    ['writes-outside-allowed', 2, 'wrote /work/proj/old.txt'],
    ['network', 1, 'connect tcp 93.184.216.34:443 by node (ENETUNREACH)'],
    ['secrets', 1, 'openat /home/u/.ssh/id_rsa by sh'],
    ['denials', 4, 'openat /home/u/.ssh/id_rsa (hidden)'],
    ['leaked-processes', 1, 'pid 5 sleep 1000'],
  ] as const)('%s turns a passing suite into status 120', (kind, count, example) => {
    const rep = buildReport(suiteRun(), context());
    expect(applyFailOn(rep, [kind])).toBe(FAIL_ON_STATUS);
    expect(rep.failOn.triggered).toEqual([{ kind, count, example }]);
    expect(rep.status).toBe(FAIL_ON_STATUS);
  });

  it('leaves a run that did none of them, a failing suite and a timeout with their own status', () => {
    const clean = new Recorder();
    clean.onProcessStart(2, 1, T0);
    clean.onFileAccess({ pid: 2, op: 'write', call: 'openat', path: '/tmp/x', errno: 0 });
    clean.onNetwork({ pid: 2, call: 'connect', family: 'AF_INET6', protocol: 'tcp', address: '::1', port: 80, errno: 0 });
    const rep = buildReport(clean, context());
    expect(applyFailOn(rep, [...FAIL_ON_KINDS])).toBe(0);
    expect(rep.failOn).toEqual({ kinds: [...FAIL_ON_KINDS], triggered: [] });
    const failing = buildReport(suiteRun(), context({ exit: { status: 1, code: 1 }, status: 1 }));
    expect(applyFailOn(failing, ['network'])).toBe(1);
    expect(failing.failOn.triggered).toHaveLength(1);
    const timedOut = buildReport(suiteRun(), context({ exit: { status: 137, signal: 9 }, status: 124, timedOut: true }));
    expect(applyFailOn(timedOut, ['network'])).toBe(124);
  });

  it('counts the overlay\'s changes, not the events, for writes once they are known', () => {
    const rep = buildReport(suiteRun(), context({ changes: [] }));
    expect(applyFailOn(rep, ['writes-outside-allowed'])).toBe(0);
  });
});

describe('formats', () => {
  function failing(): TestRunReport {
    const r = suiteRun();
    r.onFileAccess({ pid: 3, op: 'create', call: 'openat', path: '/work/proj/<script>alert(1)</script>|x', errno: 0 });
    const rep = buildReport(r, context());
    applyFailOn(rep, ['network', 'secrets']);
    return rep;
  }

  it('HTML: one self-contained page, every name escaped', () => {
    const html = renderHtml(failing());
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).not.toMatch(/<script|<link|src="http/i);
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    for (const id of ['denials', 'network', 'processes', 'writes', 'reads', 'tests', 'syscalls', 'sandbox']) expect(html).toContain(`id="${id}"`);
    expect(html).toContain('left running');
  });

  it('HTML: headless chromium renders it with every section', () => {
    const chromium = ['chromium', 'chromium-browser', 'google-chrome'].find((c) => {
      try {
        execFileSync('sh', ['-c', `command -v ${c}`], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    });
    if (!chromium) throw new Error('no chromium to render the report: apt-get install chromium');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'testrun-html-'));
    const file = path.join(dir, 'report.html');
    fs.writeFileSync(file, renderHtml(failing()));
    const dom = execFileSync(chromium, ['--headless', '--no-sandbox', '--disable-gpu', '--dump-dom', `file://${file}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000 });
    fs.rmSync(dir, { recursive: true });
    expect(dom).toContain('<h2 id="denials">Denials</h2>');
    expect(dom).toContain('93.184.216.34:443');
    expect(dom).toContain('a.test.ts &gt; writes');
    expect(dom).not.toContain('<script>alert(1)');
  });

  it('Markdown: the outcome, --fail-on, denials, network and leaked processes up front, pipes escaped in tables', () => {
    const md = renderMarkdown(failing());
    expect(md).toContain('### tsvisor test: `npm test`');
    expect(md).toContain("tsvisor's status: **120**");
    expect(md).toContain('- ❌ `network`: 1');
    expect(md).toContain('#### Denials');
    expect(md).toContain('#### Processes left running (stopped by tsvisor)');
    expect(md).toContain('</script>\\|x');
    expect(md.indexOf('#### Network')).toBeLessThan(md.indexOf('<details>'));
  });

  it('the stderr summary: files, denials, network, processes left running, peak memory, time, --fail-on', () => {
    const s = formatSummary(failing());
    expect(s).toContain('tsvisor test: the suite exited with status 0 in 2.5 s, peak memory 80 MiB');
    expect(s).toContain('files: 3 written, 1 deleted');
    expect(s).toContain('denials: 4, 1 secret read refused (/home/u/.ssh/id_rsa)');
    expect(s).toContain('network: 2 attempts, 1 outside the sandbox (connect 93.184.216.34:443: ENETUNREACH)');
    expect(s).toContain('processes: 4, 1 still running when the suite ended, stopped: sleep 1000');
    expect(s).toContain('status 120: the suite passed, but --fail-on found the above');
  });

  it('GitHub annotations: errors for --fail-on kinds, warnings for the rest, messages escaped', () => {
    const rep = failing();
    rep.denials[0]!.what = 'openat /a%b\nc';
    const a = formatAnnotations(rep).trimEnd().split('\n');
    expect(a[0]).toBe('::error title=tsvisor test%3A secret read refused::openat /a%25b%0Ac by sh in a.test.ts > writes: /home/u/.ssh is hidden: tsvisor test hides credentials by default (docs/testrun.md, "Hidden by default"); allow with --show /home/u/.ssh');
    expect(a.filter((l) => l.startsWith('::warning title=tsvisor test%3A denied'))).toHaveLength(3);
    expect(a.some((l) => l.startsWith('::error title=tsvisor test%3A network attempt::connect tcp 93.184.216.34:443'))).toBe(true);
    expect(a.some((l) => l.startsWith('::warning title=tsvisor test%3A process left running::pid 5 sleep 1000'))).toBe(true);
    expect(formatAnnotations(buildReport(new Recorder(), context()))).toBe('');
  });
});

describe('options', () => {
  it('parses durations as timeout(1) does, and ms', () => {
    expect([parseDuration('90'), parseDuration('90s'), parseDuration('1.5m'), parseDuration('2h'), parseDuration('1d'), parseDuration('250ms'), parseDuration('0')]).toEqual([90_000, 90_000, 90_000, 7_200_000, 86_400_000, 250, 0]);
    expect([parseDuration('soon'), parseDuration('-1s'), parseDuration('1w')]).toEqual([null, null, null]);
  });

  it('hides the secrets of the caller\'s home and root\'s, and the system\'s', () => {
    const hidden = defaultHidden();
    for (const rel of ['.ssh', '.aws', '.config/gcloud', '.npmrc', '.netrc', '.docker/config.json']) expect(HOME_SECRETS).toContain(rel);
    expect(hidden).toContain('/root/.ssh');
    expect(hidden).toContain(path.join(os.homedir(), '.aws'));
    for (const p of SYSTEM_SECRETS) expect(hidden).toContain(p);
  });

  it('--show un-hides defaults (a directory: those below it), --hide adds; a path not hidden or inside a hidden one is refused', () => {
    const all = hiddenPaths('/work', [], []);
    expect(all.every((h) => h.default)).toBe(true);
    const shown = hiddenPaths('/work', ['sub/secret'], ['/root/.ssh', '/root/.config']);
    expect(shown.map((h) => h.path)).not.toContain('/root/.ssh');
    expect(shown.map((h) => h.path)).not.toContain('/root/.config/gcloud');
    expect(shown.find((h) => h.path === '/work/sub/secret')).toEqual({ path: '/work/sub/secret', default: false, present: false });
    expect(() => hiddenPaths('/work', [], ['/usr'])).toThrow(TestRunError);
    expect(() => hiddenPaths('/work', [], ['/root/.ssh/known_hosts'])).toThrow(/inside \/root\/\.ssh/);
    expect(() => hiddenPaths('/work', ['/'], [])).toThrow(/whole root/);
  });
});

describe('the marker channel and the Vitest integration', () => {
  it('writes one JSON line per marker to the channel TSVISOR_TEST_CHANNEL names, and nothing without it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'testrun-channel-'));
    const file = path.join(dir, 'channel');
    fs.writeFileSync(file, '');
    const script = `import { mark, channelOpen } from ${JSON.stringify(path.resolve('dist/src/testrun/channel.js'))};
      console.log(channelOpen()); mark('begin', 'a > b'); mark('end', 'a > b', 'passed'); mark('begin', 'é'.repeat(3000));`;
    const run = (env: NodeJS.ProcessEnv) => execFileSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' });
    expect(run({ ...process.env, TSVISOR_TEST_CHANNEL: '' }).trim()).toBe('false');
    expect(run({ ...process.env, TSVISOR_TEST_CHANNEL: path.join(dir, 'missing/x') }).trim()).toBe('false');
    expect(run({ ...process.env, TSVISOR_TEST_CHANNEL: file }).trim()).toBe('true');
    const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
    fs.rmSync(dir, { recursive: true });
    const markers = lines.map((l) => JSON.parse(l) as { event: string; pid: number; test: string; result?: string });
    expect(markers.slice(0, 2).map(({ pid: _, ...m }) => m)).toEqual([{ event: 'begin', test: 'a > b' }, { event: 'end', test: 'a > b', result: 'passed' }]);
    expect(new Set(markers.map((m) => m.pid)).size).toBe(1);
    expect(Buffer.byteLength(`${lines[2]}\n`)).toBeLessThanOrEqual(4096);
    expect(markers[2]!.test.endsWith('é…')).toBe(true);
  });

  it('names a test by its file, describe blocks and name', async () => {
    const { testName } = await import('../src/testrun/vitest.js');
    const file = { name: 'test/a.test.ts' };
    const suite = { name: 'suite', suite: { name: 'test/a.test.ts' }, file };
    expect(testName({ name: 'case', suite, file })).toBe('test/a.test.ts > suite > case');
    expect(testName({ name: 'top', file })).toBe('test/a.test.ts > top');
  });
});
