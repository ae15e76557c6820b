// tsvisor test end to end: purpose-built suites (a shell script that writes,
// deletes, reads a secret, connects out, leaves a daemon and is refused a
// mount) run natively and under `bin/tsvisor test`, comparing the exit
// status and the file effects with the native run's, checking that the host
// is unchanged but for --allow-write paths, and reading the report.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestRunReport } from '../../src/testrun/report.js';
import { REPO, TSVISOR, type Run, changed, copyNodeModules, rmrf, runNative, treeSnapshot } from './harness.js';

/** Outside /tmp, so that the sandbox's /tmp is a private tmpfs; open to the ordinary user's run below. */
const BASE = fs.mkdtempSync('/var/tmp/tsvisor-testrun-');
fs.chmodSync(BASE, 0o755);
afterAll(() => rmrf(BASE));

/** The ordinary user the rootless run is made as (as rootless.test.ts: a uid and gid of their own). */
const USER = { uid: 4242, gid: 4243 };

/** Gives `p` and everything below it to `user` (a run as that user owns its project and home, as natively). */
function chownTree(p: string, user: { uid: number; gid: number }): void {
  fs.chownSync(p, user.uid, user.gid);
  if (fs.lstatSync(p).isDirectory()) for (const e of fs.readdirSync(p)) chownTree(path.join(p, e), user);
}

/** The purpose-built suite; `end` is its last line (its status). */
function suite(end: string): string {
  return `set -u
echo data > out.txt
mkdir -p build && echo object > build/a.o
rm old.txt
echo scratch > /tmp/scratch-$$
echo lcov > coverage/lcov.info
if cat "$HOME/.ssh/id_rsa" >/dev/null 2>&1; then echo secret-read; else echo secret-hidden; fi
python3 -c 'import socket
try: socket.create_connection(("203.0.113.7", 80), timeout=1)
except OSError as e: print("connect", e.errno)'
sleep 1000 >/dev/null 2>&1 &
echo $! > daemon.pid
if mount -t tmpfs none /mnt 2>/dev/null; then echo mounted; umount /mnt; else echo mount-refused; fi
${end}
`;
}

/** A project: a file the suite deletes, a coverage/ directory to write through, the suite; `user` owns it. */
function project(name: string, script: string, user?: { uid: number; gid: number }): string {
  const dir = path.join(BASE, name);
  fs.mkdirSync(path.join(dir, 'coverage'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'old.txt'), 'old\n');
  fs.writeFileSync(path.join(dir, 'suite.sh'), script);
  if (user) chownTree(dir, user);
  return dir;
}

/** A home with a secret in it, as the caller's (`user`'s). */
function home(name: string, user?: { uid: number; gid: number }): string {
  const dir = path.join(BASE, name);
  fs.mkdirSync(path.join(dir, '.ssh'), { recursive: true });
  fs.writeFileSync(path.join(dir, '.ssh/id_rsa'), 'PRIVATE KEY\n');
  if (user) chownTree(dir, user);
  return dir;
}
const HOME = home('home');
const environment = (h: string) => ({ PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: h, LANG: 'C', LC_ALL: 'C' });
const ENV = environment(HOME);

interface TestRun extends Run {
  report: TestRunReport;
}

/** `tsvisor test [flags] --report DIR -- argv` in `cwd` (as `user`). */
function runTest(cwd: string, flags: string[], argv: string[], env: NodeJS.ProcessEnv = ENV, user?: { uid: number; gid: number }): TestRun {
  const dir = fs.mkdtempSync(path.join(BASE, 'report-'));
  if (user) chownTree(dir, user);
  const r = spawnSync(TSVISOR, ['test', '--report', dir, ...flags, '--', ...argv], { cwd, env, encoding: 'latin1', timeout: 120_000, ...(user ?? {}) });
  if (r.error) throw r.error;
  const json = path.join(dir, 'report.json');
  const report = fs.existsSync(json) && fs.statSync(json).size ? (JSON.parse(fs.readFileSync(json, 'utf8')) as TestRunReport) : (undefined as never);
  return { stdout: r.stdout, stderr: r.stderr, status: r.status, signal: r.signal, report };
}

function killDaemon(dir: string): void {
  const pid = Number(fs.readFileSync(path.join(dir, 'daemon.pid'), 'utf8'));
  if (pid > 1) process.kill(pid, 'SIGKILL');
}

// As root and as an ordinary user (rootless: unprivileged user namespaces), the same suite and the same report.
describe.each([
  ['root', undefined],
  [`an ordinary user (uid ${USER.uid})`, USER],
] as const)('tsvisor test as %s: a suite that does everything a report lists', (who, user) => {
  let native: { run: Run; changed: string[] };
  let sandboxed: TestRun;
  let dir: string;
  let before: string[];
  const tag = user ? 'user' : 'root';
  const HOME = user ? home('home-user', user) : home('home-root');
  const env = environment(HOME);

  beforeAll(() => {
    const nativeDir = project(`native-${tag}`, suite('exit 3'), user);
    const nb = treeSnapshot(nativeDir);
    const run = runNative(['/bin/sh', 'suite.sh'], { cwd: nativeDir, env, timeoutMs: 60_000, ...(user ?? {}) });
    killDaemon(nativeDir);
    native = { run, changed: changed(nb, treeSnapshot(nativeDir)) };
    dir = project(`sandboxed-${tag}`, suite('exit 3'), user);
    before = treeSnapshot(dir);
    sandboxed = runTest(dir, ['--allow-write', 'coverage'], ['/bin/sh', 'suite.sh'], env, user);
  });

  it('runs as the caller', () => {
    expect(sandboxed.report.sandbox, who).toMatchObject({ rootless: Boolean(user) });
  });

  it('exits with the native run\'s status, and says what differed on stdout: the secret, the mount', () => {
    expect(native.run.status).toBe(3);
    expect(sandboxed.status, sandboxed.stderr).toBe(3);
    expect(sandboxed.report.suite).toEqual({ status: 3, signal: null, timedOut: false });
    expect(native.run.stdout).toContain('secret-read');
    expect(sandboxed.stdout).toContain('secret-hidden');
    expect(sandboxed.stdout).toContain('mount-refused');
  });

  it('leaves the host unchanged except the --allow-write path', () => {
    expect(changed(before, treeSnapshot(dir))).toEqual(['coverage/lcov.info']);
    expect(fs.readFileSync(path.join(dir, 'coverage/lcov.info'), 'utf8')).toBe('lcov\n');
    expect(fs.readFileSync(path.join(HOME, '.ssh/id_rsa'), 'utf8')).toBe('PRIVATE KEY\n');
  });

  it('lists exactly the files the native run changed, with where each write went', () => {
    const rel = (p: string) => path.relative(dir, p);
    const inProject = sandboxed.report.writes.paths.filter((w) => w.path.startsWith(`${dir}/`));
    expect(inProject.map((w) => rel(w.path)).sort()).toEqual(native.changed);
    expect(Object.fromEntries(inProject.map((w) => [rel(w.path), w.target]))).toMatchObject({ 'out.txt': 'memory', 'build/a.o': 'memory', 'old.txt': 'memory', 'coverage/lcov.info': 'host' });
    expect(inProject.find((w) => rel(w.path) === 'old.txt')!.ops).toEqual({ delete: 1 });
    const scratch = sandboxed.report.writes.paths.filter((w) => w.path.startsWith('/tmp/scratch-'));
    expect(scratch.map((w) => w.target)).toEqual(['tmp']);
    expect(sandboxed.report.sandbox.tmp).toBe('tmpfs');
  });

  it('reports the secret read as a hidden denial, explained, with the flag that would allow it', () => {
    const secret = sandboxed.report.denials.filter((d) => d.secret);
    expect(secret.length).toBeGreaterThan(0);
    expect(secret[0]).toMatchObject({ rule: 'hidden', errno: 'ENOENT', allowWith: `--show ${HOME}/.ssh`, process: 'cat' });
    expect(sandboxed.report.summary.secretsRead).toBe(secret.length);
  });

  it('reports the attempt to reach outside with address, port, protocol, process and outcome', () => {
    const out = sandboxed.report.network.filter((n) => n.scope === 'external');
    expect(out).toEqual([expect.objectContaining({ call: 'connect', family: 'AF_INET', protocol: 'tcp', address: '203.0.113.7', port: 80, process: 'python3' })]);
    expect(out[0]!.outcome).not.toBe('ok');
  });

  it('reports the refused mount as a syscall denial no flag allows', () => {
    expect(sandboxed.report.denials).toContainEqual(expect.objectContaining({ rule: 'syscall', allowWith: null, process: 'mount' }));
  });

  it('reports the process tree with the daemon left running, which tsvisor stopped', () => {
    const procs = sandboxed.report.processes;
    const sh = procs.find((p) => p.argv?.[1] === 'suite.sh')!;
    expect(sh).toMatchObject({ exit: { status: 3, signal: null }, leaked: false });
    const daemon = procs.find((p) => p.argv?.[0] === 'sleep')!;
    expect(daemon).toMatchObject({ ppid: sh.pid, leaked: true, exit: { status: 137, signal: 9 } });
    expect(procs.filter((p) => p.leaked)).toEqual([daemon]);
    expect(procs.find((p) => p.argv?.[0] === 'python3')).toMatchObject({ exit: { status: 0, signal: null }, leaked: false });
    expect(procs.every((p) => p.peakRss === null || p.peakRss > 0)).toBe(true);
  });

  it('reads: outside the project and the system first (the home), with counts', () => {
    const first = sandboxed.report.reads[0]!;
    expect(first.area).toBe('outside');
    expect(sandboxed.report.reads.find((g) => g.dir === dir)).toMatchObject({ area: 'project' });
    expect(sandboxed.report.reads.find((g) => g.dir === dir)!.files.find((f) => f.name === 'suite.sh')!.reads).toBeGreaterThan(0);
  });

  it('prints the summary on stderr and writes the three formats', () => {
    expect(sandboxed.stderr).toContain('tsvisor test: the suite exited with status 3');
    const s = sandboxed.report.summary;
    expect(s.filesDeleted).toBe(1);
    expect(sandboxed.stderr).toContain(`files: ${s.filesWritten} written, 1 deleted (in memory, except under ${dir}/coverage)`);
    expect(sandboxed.stderr).toMatch(/1 still running when the suite ended, stopped: sleep 1000/);
  });
});

describe('tsvisor test: --fail-on', () => {
  it.each([
    ['writes-outside-allowed'],
    ['network'],
    ['secrets'],
    ['denials'],
    ['leaked-processes'],
  ])('%s turns the passing suite into status 120', (kind) => {
    const dir = project(`fail-on-${kind}`, suite('exit 0'));
    const r = runTest(dir, ['--allow-write', 'coverage', '--fail-on', kind], ['/bin/sh', 'suite.sh']);
    expect(r.status, r.stderr).toBe(120);
    expect(r.report.failOn.triggered.map((t) => t.kind)).toEqual([kind]);
    expect(r.stderr).toContain(`--fail-on ${kind}:`);
  });

  it('a suite that does none of them passes with --fail-on all; GitHub annotations only when asked', () => {
    const dir = project('clean', 'echo fine > /tmp/x && cat /tmp/x\n');
    const r = runTest(dir, ['--fail-on', 'all'], ['/bin/sh', 'suite.sh']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('fine\n');
    const gh = runTest(project('annotated', suite('exit 0')), ['--allow-write', 'coverage', '--fail-on', 'network'], ['/bin/sh', 'suite.sh'], { ...ENV, GITHUB_ACTIONS: 'true' });
    expect(gh.stdout).toMatch(/^::error title=tsvisor test%3A network attempt::connect tcp 203\.0\.113\.7:80/m);
    expect(gh.stdout).toMatch(/^::warning title=tsvisor test%3A secret read refused::/m);
  });

  it('an unknown kind is a usage error, status 2, before anything runs', () => {
    const r = runTest(BASE, ['--fail-on', 'network,bogus'], ['/bin/true']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown kind "bogus"');
  });
});

describe('tsvisor test: status, timeout, network, attribution', () => {
  it('exits 128+N like the native run when a signal kills the suite', () => {
    const argv = ['/bin/sh', '-c', 'kill -TERM $$'];
    const n = runNative(argv, { cwd: BASE, env: ENV });
    const r = runTest(BASE, [], argv);
    expect(n.signal).toBe('SIGTERM');
    expect(r.status).toBe(143);
    expect(r.report.suite).toMatchObject({ status: 143, signal: 15 });
  });

  it('--timeout kills the sandbox and exits 124, saying so', () => {
    const t0 = Date.now();
    const r = runTest(BASE, ['--timeout', '1s'], ['/bin/sleep', '60']);
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(r.status).toBe(124);
    expect(r.report.suite.timedOut).toBe(true);
    expect(r.stderr).toContain('stopped after --timeout 1.0 s: the sandbox was killed (status 124, as timeout(1))');
  });

  it('a local server on loopback works; nothing of it counts as reaching outside', () => {
    const script = `import socket, threading
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
port = s.getsockname()[1]
threading.Thread(target=lambda: s.accept()[0].sendall(b"pong"), daemon=True).start()
c = socket.create_connection(("127.0.0.1", port)); print(c.recv(4).decode())`;
    const r = runTest(BASE, ['--fail-on', 'network'], ['python3', '-c', script]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('pong\n');
    expect(r.report.network.map((n) => [n.call, n.scope, n.outcome])).toEqual(expect.arrayContaining([['bind', 'loopback', 'ok'], ['connect', 'loopback', 'ok']]));
  });

  it('attributes each access to the test whose marker is open in the process or its nearest ancestor', () => {
    const dir = project('markers', '');
    const script = `mark() { printf '{"event":"%s","pid":%d,"test":"%s"%s}\\n' "$1" $$ "$2" "$3" > "$TSVISOR_TEST_CHANNEL"; }
mark begin first ''
echo one > first.txt
sh -c 'echo two > child.txt'
mark end first ',"result":"passed"'
mark begin second ''
cat "$HOME/.ssh/id_rsa" 2>/dev/null
mark end second ',"result":"failed"'
echo three > outside.txt
`;
    const r = runTest(dir, [], ['/bin/sh', '-c', script]);
    expect(r.status, r.stderr).toBe(0);
    const byPath = Object.fromEntries(r.report.writes.paths.map((w) => [path.basename(w.path), w.tests]));
    expect(byPath).toMatchObject({ 'first.txt': ['first'], 'child.txt': ['first'], 'outside.txt': [] });
    expect(r.report.tests.map((t) => [t.name, t.result, t.denials])).toEqual([['first', 'passed', 0], ['second', 'failed', 1]]);
    expect(r.report.tests[0]!.processes).toBe(1);
    expect(r.report.denials.find((d) => d.secret)!.test).toBe('second');
  });

  it('the Vitest integration marks each test through the channel', () => {
    const dir = path.join(BASE, 'vitest-project');
    // The project holds copies of what it uses: the checkout may lie below /tmp, which the sandbox does not show.
    copyNodeModules(dir);
    for (const e of ['package.json', 'dist']) fs.cpSync(path.join(REPO, e), path.join(dir, 'node_modules/tsvisor', e), { recursive: true });
    fs.writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}\n');
    fs.writeFileSync(path.join(dir, 'vitest.config.mjs'), "export default { test: { setupFiles: ['tsvisor/vitest'], pool: 'forks' } };\n");
    fs.writeFileSync(path.join(dir, 'a.test.mjs'), `import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
describe('files', () => {
  it('writes', () => { fs.writeFileSync('written-by-test.txt', 'x'); expect(1).toBe(1); });
  it('fails', () => { expect(fs.existsSync(process.env.HOME + '/.ssh/id_rsa')).toBe(true); });
});
`);
    const vitest = path.join(dir, 'node_modules/vitest/vitest.mjs');
    const n = runNative(['node', vitest, 'run', '--config', 'vitest.config.mjs'], { cwd: dir, env: ENV, timeoutMs: 120_000 });
    fs.rmSync(path.join(dir, 'written-by-test.txt'));
    const r = runTest(dir, [], ['node', vitest, 'run', '--config', 'vitest.config.mjs']);
    expect(n.status, n.stdout + n.stderr).toBe(0);
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.report.tests.map((t) => [t.name, t.result])).toEqual([['a.test.mjs > files > writes', 'passed'], ['a.test.mjs > files > fails', 'failed']]);
    expect(r.report.writes.paths.find((w) => w.path === path.join(dir, 'written-by-test.txt'))!.tests).toEqual(['a.test.mjs > files > writes']);
    expect(r.report.denials.find((d) => d.secret)!.test).toBe('a.test.mjs > files > fails');
    expect(fs.existsSync(path.join(dir, 'written-by-test.txt'))).toBe(false);
  });
});

describe('tsvisor test: /tmp', () => {
  it("private by default, the host's through the overlay with --tmp host (writes in memory), and a private /tmp refused where it would hide the project", () => {
    const tool = fs.mkdtempSync('/tmp/tsvisor-testrun-tool-');
    try {
      fs.writeFileSync(path.join(tool, 'tool'), '#!/bin/sh\necho tool ran\n', { mode: 0o755 });
      const script = `${tool}/tool; echo kept > ${tool}/written; cat ${tool}/written`;
      const priv = runTest(BASE, [], ['/bin/sh', '-c', script]);
      expect(priv.status).not.toBe(0);
      expect(priv.report.sandbox.tmp).toBe('tmpfs');
      const host = runTest(BASE, ['--tmp', 'host'], ['/bin/sh', '-c', script]);
      expect([host.status, host.stdout, host.report.sandbox.tmp]).toEqual([0, 'tool ran\nkept\n', 'overlay']);
      expect(fs.readdirSync(tool)).toEqual(['tool']);
      const refused = runTest(tool, ['--tmp', 'private'], ['true']);
      expect([refused.status, refused.stderr.split('\n')[0]]).toEqual([2, `tsvisor: --tmp private: ${tool} lies in /tmp, which a private /tmp would hide`]);
    } finally {
      fs.rmSync(tool, { recursive: true, force: true });
    }
  });
});

describe('the API', () => {
  it("import { runSandboxed } from 'tsvisor': typed, status and report, suite after suite in one process, refusals as TestRunError", () => {
    const dir = path.join(BASE, 'api-user');
    fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
    fs.symlinkSync(REPO, path.join(dir, 'node_modules/tsvisor'));
    fs.writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}\n');
    const code = `import { runSandboxed, TestRunError, type RunResult } from 'tsvisor';
const out: unknown[] = [];
const a: RunResult = await runSandboxed({ command: ['sh', '-c', 'echo from-guest; exit 7'], syscalls: false });
out.push([a.status, a.report.schema, a.report.suite.status]);
const b = await runSandboxed({ command: ['sleep', '30'], timeoutMs: 500 });
out.push([b.status, b.report.suite.timedOut]);
for (const bad of [{ command: ['true'], failOn: ['bogus'] }, { command: ['true'], show: ['/usr'] }]) {
  try {
    await runSandboxed(bad);
  } catch (e) {
    out.push([e instanceof TestRunError, (e as Error).message.split('\\n')[0]]);
  }
}
console.log(JSON.stringify(out));
`;
    fs.writeFileSync(path.join(dir, 'use.ts'), code);
    // The package's declarations, as \`npm run build\` makes them; the user's code type-checks against them.
    const types = spawnSync('npx', ['tsc', '-p', 'tsconfig.api.json'], { cwd: REPO, encoding: 'utf8' });
    expect(types.status, types.stdout).toBe(0);
    const tsc = path.join(REPO, 'node_modules/.bin/tsc');
    const check = spawnSync(tsc, ['--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--strict', '--skipLibCheck', '--types', 'node', '--typeRoots', path.join(REPO, 'node_modules/@types'), '--outDir', dir, 'use.ts'], { cwd: dir, encoding: 'utf8' });
    expect(check.status, check.stdout).toBe(0);
    const r = spawnSync('node', ['use.js'], { cwd: dir, env: ENV, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('from-guest');
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual([
      [7, 1, 7],
      [124, true],
      [true, '--fail-on bogus: unknown kind "bogus" (kinds: writes-outside-allowed, network, secrets, denials, leaked-processes, or all)'],
      [true, '--show /usr: not hidden by default (the list: tsvisor test --help, docs/testrun.md)'],
    ]);
  });
});

describe('tsvisor test: the overlay\'s changes and their export', () => {
  it('reports the changes kept in memory with sizes and diffs, and --export-writes gives a patch that reproduces the native run', () => {
    const script = `printf 'one\\ntwo\\nthree\\n' > kept.txt
sed -i s/two/TWO/ edited.txt
mkdir -p gen && echo made > gen/new.txt
rm gone.txt
echo lcov > coverage/lcov.info
`;
    const make = (name: string) => {
      const d = project(name, script);
      fs.writeFileSync(path.join(d, 'edited.txt'), 'one\ntwo\nthree\n');
      fs.writeFileSync(path.join(d, 'gone.txt'), 'bye\n');
      spawnSync('git', ['init', '-q'], { cwd: d });
      return d;
    };
    const nativeDir = make('export-native');
    expect(runNative(['/bin/sh', 'suite.sh'], { cwd: nativeDir, env: ENV }).status).toBe(0);
    const dir = make('export-sandboxed');
    const before = treeSnapshot(dir);
    const patch = path.join(BASE, 'export.patch');
    const r = runTest(dir, ['--allow-write', 'coverage', '--export-writes', patch], ['/bin/sh', 'suite.sh']);
    expect(r.status, r.stderr).toBe(0);
    expect(changed(before, treeSnapshot(dir))).toEqual(['coverage/lcov.info']);
    const changes = Object.fromEntries(r.report.writes.changes!.map((c) => [path.relative(dir, c.path), c]));
    expect(Object.keys(changes).sort()).toEqual(['edited.txt', 'gen', 'gen/new.txt', 'gone.txt', 'kept.txt']);
    expect(changes['kept.txt']).toMatchObject({ kind: 'created', size: 14, hostSize: null });
    expect(changes['gone.txt']).toMatchObject({ kind: 'deleted', size: null, hostSize: 4 });
    expect(changes['edited.txt']!.kind).toBe('modified');
    expect(changes['edited.txt']!.diff).toContain('-two\n+TWO');
    expect(r.report.summary).toMatchObject({ filesWritten: 4, filesDeleted: 1 });
    expect(r.report.writes.exported).toMatchObject({ file: patch, format: 'patch', changes: 5, outside: 0, left: [] });
    expect(r.stderr).toContain(`tsvisor test: 5 changes exported to ${patch} (patch)`);
    // The patch applied to the untouched project gives what the native run left (but the written-through coverage/).
    const applied = spawnSync('git', ['apply', patch], { cwd: dir, encoding: 'utf8' });
    expect(applied.status, applied.stderr).toBe(0);
    fs.writeFileSync(path.join(dir, 'coverage/lcov.info'), 'lcov\n');
    const strip = (lines: string[]) => lines.filter((l) => !l.startsWith('.git'));
    expect(strip(treeSnapshot(dir))).toEqual(strip(treeSnapshot(nativeDir)));
  });

  it('refuses an export name that is neither a patch nor a tar before anything runs', () => {
    const r = runTest(BASE, ['--export-writes', path.join(BASE, 'x.zip')], ['/bin/true']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('expected a name ending in .patch, .diff or .tar');
  });
});

describe('tsvisor test: --network none', () => {
  it('has no loopback either: a local client cannot reach its own server (ENETUNREACH), and the attempt is reported', () => {
    const script = `import socket
s = socket.socket()
try: s.bind(("127.0.0.1", 0)); s.listen(1); socket.create_connection(s.getsockname(), timeout=1); print("reached")
except OSError as e: print("refused", e.errno)`;
    const r = runTest(BASE, ['--network', 'none'], ['python3', '-c', script]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('refused 101\n');
    expect(r.report.sandbox.network).toBe('none');
    expect(r.report.network.length).toBeGreaterThan(0);
    expect(r.report.network.find((n) => n.call === 'connect')).toMatchObject({ address: '127.0.0.1', scope: 'loopback', outcome: 'ENETUNREACH', process: 'python3' });
  });
});
