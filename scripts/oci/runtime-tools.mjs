// Runs the opencontainers/runtime-tools validation suite (validation/*) against
// OCI runtimes on this machine, in the same run, and prints a per-test table
// and totals. Not run by CI (CI cannot reach GitHub); see docs/design.md, "OCI
// runtime validation".
//
// Get a copy first: `git clone https://github.com/opencontainers/runtime-tools`
// (or any mirror of it). The copy is not touched: the chosen commit is
// exported into the cache directory and built there, offline, with its
// vendored modules and the installed Go (Debian's golang-go, 1.19: the default
// commit is the last one whose go.mod says go 1.19).
//
//   node scripts/oci/runtime-tools.mjs --source RUNTIME_TOOLS_GIT_DIR
//        [--commit SHA] [--cache /var/cache/tsvisor-runtime-tools]
//        [--runtimes runc,runsc,tsvisor] [--only REGEX] [--timeout SECONDS]
//        [--json FILE] [--verbose]
//   node scripts/oci/runtime-tools.mjs --from FILE   (the table of a saved --json run, classified again)
//
// A runtime is a name on PATH or NAME=PATH [GLOBAL-FLAGS...] (space-separated,
// e.g. "runsc=runsc --network=host": the tests' configs have no network
// namespace, which runsc refuses by default); `tsvisor` is this checkout's
// bin/tsvisor. Each runtime keeps its containers in a state directory of its
// own under the cache (a wrapper passes --root), so containers a test leaves
// behind are removed without touching anyone else's. Run as root.
//
// A test fails when it exits non-zero, reports a `not ok`, or, making no
// assertion (the lifecycle tests), writes an error diagnostic. Otherwise one whose every check was skipped, or whose inner
// run skipped the check the test is for (PURPOSE), is `skip`, never a pass;
// the rest pass.

import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const DEFAULT_COMMIT = '260e151b8552afa2678ef6d41820ea0f31cd8be1';
const { values: opts } = parseArgs({
  options: {
    source: { type: 'string' },
    commit: { type: 'string' },
    cache: { type: 'string', default: '/var/cache/tsvisor-runtime-tools' },
    runtimes: { type: 'string', default: 'runc,runsc,tsvisor' },
    only: { type: 'string' },
    timeout: { type: 'string', default: '120' },
    json: { type: 'string' },
    verbose: { type: 'boolean', default: false },
    from: { type: 'string' },
  },
});
const usage = (msg) => {
  console.error(`${msg}\nusage: runtime-tools.mjs --source RUNTIME_TOOLS_GIT_DIR [--commit SHA] [--cache DIR] [--runtimes runc,runsc,tsvisor|NAME=PATH [FLAGS],...] [--only REGEX] [--timeout SECONDS] [--json FILE] [--verbose]`);
  process.exit(2);
};
if (!opts.source && !opts.from) usage('--source is required');
if (process.getuid() !== 0) usage('run as root (the runtimes create namespaces and cgroups)');
const timeoutMs = Number(opts.timeout) * 1000;
if (!(timeoutMs > 0)) usage(`--timeout: not a positive number: ${opts.timeout}`);

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  return r;
}

function mustRun(cmd, args, options) {
  const r = run(cmd, args, options);
  if (r.status !== 0) {
    console.error(`${cmd} ${args.join(' ')} failed (status ${r.status}):\n${r.stderr}`);
    process.exit(1);
  }
  return r.stdout;
}

/** Exports COMMIT of the copy and builds runtimetest and every validation test, once per commit. */
function build(source, commit, cache) {
  const gitDir = existsSync(join(source, '.git')) ? join(source, '.git') : source;
  const sha = mustRun('git', ['--git-dir', gitDir, 'rev-parse', '--verify', `${commit}^{commit}`]).trim();
  const dir = join(cache, sha);
  const bin = join(dir, 'bin');
  if (existsSync(join(bin, '.complete'))) return { sha, dir, bin };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'src'), { recursive: true });
  const archive = run('git', ['--git-dir', gitDir, 'archive', sha], { encoding: 'buffer' });
  if (archive.status !== 0) usage(`git archive ${sha} failed: ${archive.stderr}`);
  mustRun('tar', ['-x', '-C', join(dir, 'src')], { input: archive.stdout });
  const env = { ...process.env, GOFLAGS: '-mod=vendor', GOPROXY: 'off', GOCACHE: join(cache, 'gocache'), CGO_ENABLED: '0' };
  const src = join(dir, 'src');
  console.error(`building runtime-tools ${sha.slice(0, 12)} in ${dir}`);
  // runtimetest runs inside the container's own root filesystem: static.
  mustRun('go', ['build', '-tags', 'netgo osusergo', '-o', join(bin, 'runtimetest'), './cmd/runtimetest'], { cwd: src, env });
  mustRun('go', ['build', '-o', join(bin, 'validation') + '/', './validation/...'], { cwd: src, env });
  writeFileSync(join(bin, '.complete'), `${sha}\n`);
  return { sha, dir, bin };
}

/** name → a wrapper that runs the runtime with a state directory of its own. */
function wrapRuntimes(spec, cache) {
  return spec.split(',').map((item) => {
    const [name, given] = item.includes('=') ? [item.slice(0, item.indexOf('=')), item.slice(item.indexOf('=') + 1)] : [item, null];
    const [command, ...flags] = given ? given.split(' ').filter(Boolean) : [];
    const path = command ?? (name === 'tsvisor' ? resolve(here, '../../bin/tsvisor') : name);
    const found = run('sh', ['-c', 'command -v "$1"', 'sh', path]).stdout.trim();
    if (!found) usage(`runtime ${name}: ${path} not found`);
    const state = join(cache, 'state', name);
    mkdirSync(state, { recursive: true });
    const wrapper = join(cache, 'wrappers', name);
    mkdirSync(dirname(wrapper), { recursive: true });
    const quoted = flags.map((f) => `'${f.replace(/'/g, `'\\''`)}'`).join(' ');
    writeFileSync(wrapper, `#!/bin/sh\nexec '${found}' --root '${state}' ${quoted} "$@"\n`);
    chmodSync(wrapper, 0o755);
    return { name, path: found, wrapper };
  });
}

function containers(rt) {
  const r = run(rt.wrapper, ['list', '--format', 'json']);
  if (r.status !== 0) return [];
  return (JSON.parse(r.stdout.trim() || 'null') ?? []).map((c) => c.id);
}

/** Removes what a test left behind in the runtime's state directory. */
function cleanUp(rt) {
  for (const id of containers(rt)) {
    run(rt.wrapper, ['kill', id, 'KILL'], { timeout: 10_000 });
    run(rt.wrapper, ['delete', '--force', id], { timeout: 30_000 });
  }
}

/**
 * Removes a test's directory. A container without a mount namespace of its
 * own (linux_ns_itype) has runc mount its /proc, /dev, ... on the bundle in
 * the host's namespace: those are detached first.
 */
function removeWorkDir(work) {
  const mounted = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4]?.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8))))
    .filter((mp) => mp?.startsWith(`${work}/`));
  for (const mp of mounted.sort().reverse()) run('umount', ['-l', mp]);
  rmSync(work, { recursive: true, force: true });
}

/**
 * Tests whose inner runtimetest may skip the very check they exist for (its
 * output nested in the outer TAP): without a line matching this, a clean
 * run is `skip`, not a pass.
 */
const PURPOSE = {
  // mount(2) refused (EPERM) inside: "unable to perform mount", nothing checked.
  linux_rootfs_propagation: /\bok \d+ - (shared root propagation exposes|\w+ root propagation does not expose|root propagation is unbindable)/,
  // The label is compared on bind mounts only, and the test's config has none.
  linux_mount_label: /\bok \d+ - has expected mountlabel/,
};

/** The TAP counts of a test's output and its status. */
function classify(result, test) {
  const counts = { ok: 0, notOk: 0, skip: 0, todo: 0 };
  for (const line of result.stdout.split('\n')) {
    const m = /^(not ok|ok)\b.*?(#\s*(SKIP|TODO)\b)?/i.exec(line.trim());
    if (!m) continue;
    const directive = m[3]?.toUpperCase();
    if (directive === 'SKIP') counts.skip++;
    else if (directive === 'TODO') counts.todo++;
    else if (m[1] === 'ok') counts.ok++;
    else counts.notOk++;
  }
  // A diagnostic of the test's own (not one nested in a runtimetest output,
  // which is a single escaped string) naming an error.
  const diagnosed = /^ {4}"error": "[^"]/m.test(result.stdout);
  let status;
  if (result.timedOut) status = 'timeout';
  else if (result.status !== 0 || counts.notOk > 0) status = 'fail';
  else if (counts.ok > 0) status = PURPOSE[test] && !PURPOSE[test].test(result.stdout) ? 'skip' : 'pass';
  else if (counts.skip > 0) status = 'skip';
  // The lifecycle tests (hooks, *_fail) make no assertion: they report by
  // their exit status and error diagnostics alone, exit 0 without one is
  // their pass.
  else status = diagnosed ? 'fail' : 'pass';
  return { status, code: result.status, ...counts };
}

function runTest(bin, test, rt) {
  // The tests read rootfs-<arch>.tar.gz and runtimetest from their working
  // directory and make their bundles under TMPDIR.
  const work = mkdtempSync(join(opts.cache, 'run-'));
  const cwd = join(work, 'cwd');
  const tmp = join(work, 'tmp');
  mkdirSync(cwd);
  mkdirSync(tmp);
  // Links, not symbolic ones: the tests copy runtimetest into the bundle as
  // it is, and a symbolic link there would point outside the container.
  linkSync(join(bin, '..', 'src', 'rootfs-amd64.tar.gz'), join(cwd, 'rootfs-amd64.tar.gz'));
  linkSync(join(bin, 'runtimetest'), join(cwd, 'runtimetest'));
  const start = Date.now();
  const r = spawnSync(join(bin, 'validation', test), [], {
    cwd,
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: 64 << 20,
    env: { ...process.env, RUNTIME: rt.wrapper, TMPDIR: tmp },
  });
  const seconds = (Date.now() - start) / 1000;
  cleanUp(rt);
  removeWorkDir(work);
  const result = { stdout: r.stdout ?? '', stderr: r.stderr ?? '', status: r.status, timedOut: r.error?.code === 'ETIMEDOUT' };
  return { test, ...classify(result, test), seconds, stdout: result.stdout, stderr: result.stderr };
}

/** Runs every test under every runtime; `--from FILE` instead classifies a saved run (--json) again. */
function measure() {
  if (opts.from) {
    const saved = JSON.parse(readFileSync(opts.from, 'utf8'));
    for (const byRuntime of Object.values(saved.results)) {
      for (const r of Object.values(byRuntime)) Object.assign(r, classify({ ...r, status: r.code, timedOut: r.status === 'timeout' }, r.test));
    }
    return { sha: saved.commit, runtimes: saved.runtimes, tests: Object.keys(saved.results), results: saved.results };
  }
  if (process.arch !== 'x64') usage('the suite ships an amd64 root filesystem: run on x86-64');
  mkdirSync(opts.cache, { recursive: true });
  const { sha, bin } = build(resolve(opts.source), opts.commit ?? DEFAULT_COMMIT, opts.cache);
  const runtimes = wrapRuntimes(opts.runtimes, opts.cache);
  const only = opts.only ? new RegExp(opts.only) : null;
  const tests = readdirSync(join(bin, 'validation')).filter((t) => !only || only.test(t)).sort();
  const results = {};
  for (const test of tests) {
    results[test] = {};
    for (const rt of runtimes) {
      const res = runTest(bin, test, rt);
      results[test][rt.name] = res;
      const line = `${test.padEnd(40)} ${rt.name.padEnd(10)} ${res.status.padEnd(8)} ok ${res.ok} not-ok ${res.notOk} skip ${res.skip} ${res.seconds.toFixed(1)}s`;
      console.error(line);
      if (opts.verbose && res.status !== 'pass') console.error(`${res.stdout}${res.stderr}`.replace(/^/gm, '    '));
    }
  }
  return { sha, runtimes: runtimes.map(({ name, path }) => ({ name, path })), tests, results };
}

const { sha, runtimes, tests, results } = measure();

const names = runtimes.map((r) => r.name);
console.log(`runtime-tools ${sha} validation, ${new Date().toISOString().slice(0, 10)}`);
console.log(['test'.padEnd(40), ...names.map((n) => n.padEnd(9))].join(' '));
for (const test of tests) console.log([test.padEnd(40), ...names.map((n) => results[test][n].status.padEnd(9))].join(' '));
const totals = names.map((n) => {
  const c = {};
  for (const test of tests) c[results[test][n].status] = (c[results[test][n].status] ?? 0) + 1;
  return `${n}: ${c.pass ?? 0}/${tests.length} pass` + Object.entries(c).filter(([s]) => s !== 'pass').map(([s, k]) => `, ${k} ${s}`).join('');
});
console.log(totals.join('\n'));
if (opts.json) writeFileSync(opts.json, `${JSON.stringify({ commit: sha, date: new Date().toISOString(), runtimes, results }, null, 1)}\n`);
