#!/usr/bin/env node
// Three third-party test suites (fetched by scripts/testrun/fetch-suites.sh)
// run natively and in a sandbox, with their pass/fail counts, exit status
// and file effects compared (issue 11).  Plain Node ESM: the e2e test
// (test/e2e/real-suites.test.ts) and bench/suites.mjs import it, and it is
// a command:
//
//   node scripts/testrun/suites.mjs [--sandbox test|do] [SUITE...]
//        run each suite natively and under tsvisor, print both results and
//        every difference; exit 1 if any differs or the host tree changed
//   node scripts/testrun/suites.mjs --wrap SUITE
//        (used inside both runs) run SUITE in the current directory and
//        print one JSON line: exit status, output, and the files the run
//        created, modified and deleted under that directory
//
// Each run starts from a fresh copy of the suite's pristine tree at the same
// path, CACHE/work/SUITE, so both runs see identical trees.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SELF = fileURLToPath(import.meta.url);
export const REPO = path.resolve(path.dirname(SELF), '../..');
export const TSVISOR = path.join(REPO, 'bin/tsvisor');

export function cacheDir() {
  return process.env.TSVISOR_SUITES_DIR || '/var/cache/tsvisor-suites';
}

/** Counts from a runner's summary: `re`'s group `k` names a count, group `v` is its value. */
const countsOf = (re, text, k, v) => {
  const out = {};
  for (const m of text.matchAll(re)) out[m[k].toLowerCase()] = Number(m[v]);
  return out;
};

/** The suites: the directory they run in, their own command, and how their counts are read. */
export const SUITES = [
  {
    id: 'gzip',
    title: "GNU gzip 1.12's `make check` (Debian source package; automake tests)",
    argv: ['make', 'check'],
    // "# PASS:  26" lines of the automake summary
    counts: (out) => countsOf(/^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):\s+(\d+)$/gm, out, 1, 2),
  },
  {
    id: 'networkx',
    title: "NetworkX 2.8.8's own tests (Debian's python3-networkx) with Debian's pytest",
    // -p no:randomly: the same order everywhere, should pytest-randomly be installed
    argv: ['/usr/bin/python3', '-m', 'pytest', '-q', '-p', 'no:randomly', 'networkx'],
    // "4397 passed, 233 skipped, 4 warnings in 119.53s"
    counts: (out) => {
      const line = out.trimEnd().split('\n').reverse().find((l) => /\d+ (passed|failed|error)/.test(l)) ?? '';
      return countsOf(/(\d+) (passed|failed|skipped|xfailed|xpassed|errors?|deselected)\b/g, line, 2, 1);
    },
  },
  {
    id: 'qs',
    title: "qs 6.13.0's own tests (npm package) with its runner, tape",
    argv: ['node_modules/.bin/tape', 'test/**/*.js'],
    // "# tests 739" / "# pass  739" / "# fail  0"
    counts: (out) => countsOf(/^# (tests|pass|fail|skip|todo)\s+(\d+)$/gm, out, 1, 2),
  },
];

export function suite(id) {
  const s = SUITES.find((x) => x.id === id);
  if (!s) throw new Error(`unknown suite '${id}' (known: ${SUITES.map((x) => x.id).join(', ')})`);
  return s;
}

export const pristineDir = (id) => path.join(cacheDir(), 'pristine', id);
export const workDir = (id) => path.join(cacheDir(), 'work', id);
export const isFetched = (id) => fs.existsSync(path.join(pristineDir(id), '.ready'));

/** Replaces CACHE/work/ID by a fresh copy of the pristine tree (times and modes kept). */
export function resetWork(id) {
  const w = workDir(id);
  fs.rmSync(w, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(w), { recursive: true });
  const r = spawnSync('cp', ['-a', pristineDir(id), w], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cp -a ${pristineDir(id)} ${w}: ${r.stderr.trim()}`);
  return w;
}

/**
 * Every entry under `root`: relative path -> "type mode size digest" (with
 * `withTimes`, also the modification time, for the host-unchanged check).
 */
export function manifest(root, withTimes = false) {
  const out = new Map();
  const walk = (dir) => {
    for (const name of fs.readdirSync(dir)) {
      const p = path.join(dir, name);
      const st = fs.lstatSync(p);
      const mode = (st.mode & 0o7777).toString(8);
      const time = withTimes ? ` ${st.mtimeMs}` : '';
      const rel = path.relative(root, p);
      if (st.isDirectory()) {
        out.set(rel, `d ${mode}${time}`);
        walk(p);
      } else if (st.isSymbolicLink()) {
        out.set(rel, `l ${fs.readlinkSync(p)}${time}`);
      } else if (st.isFile()) {
        const digest = crypto.createHash('sha1').update(fs.readFileSync(p)).digest('hex');
        out.set(rel, `f ${mode} ${st.size} ${digest}${time}`);
      } else {
        out.set(rel, `o ${mode}${time}`);
      }
    }
  };
  walk(root);
  return out;
}

/**
 * What changed between two manifests, as sorted path lists, and `state`:
 * each created or modified path's entry after the run (type, mode, size, digest).
 */
export function effects(before, after) {
  const created = [];
  const modified = [];
  const deleted = [];
  const state = {};
  for (const [p, v] of after) {
    if (!before.has(p)) created.push(p);
    else if (before.get(p) !== v) modified.push(p);
    else continue;
    state[p] = v;
  }
  for (const p of before.keys()) if (!after.has(p)) deleted.push(p);
  return { created: created.sort(), modified: modified.sort(), deleted: deleted.sort(), state };
}

/** The environment both runs get: fixed, so only the sandbox differs. */
export function suiteEnv() {
  return {
    PATH: `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${path.dirname(process.execPath)}`,
    HOME: process.env.HOME || '/root',
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    TERM: 'dumb',
  };
}

const MARK = '@@tsvisor-suite-result@@';

/**
 * Runs argv in cwd to its end, in its own process group (killed whole
 * after timeoutMs, if given): stdout, stderr, both interleaved, exit status, signal.
 */
function runToEnd(argv, cwd, env, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const out = [];
    const err = [];
    const both = [];
    const collect = (to) => (d) => {
      to.push(d);
      both.push(d);
    };
    child.stdout.on('data', collect(out));
    child.stderr.on('data', collect(err));
    const timer = timeoutMs ? setTimeout(() => process.kill(-child.pid, 'SIGKILL'), timeoutMs) : null;
    const text = (bufs) => Buffer.concat(bufs).toString('utf8');
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ stdout: text(out), stderr: text(err), output: text(both), status, signal });
    });
  });
}

// --wrap: runs inside the measured environment (natively or sandboxed).
async function wrap(id) {
  const cwd = process.cwd();
  const before = manifest(cwd);
  const r = await runToEnd(suite(id).argv, cwd, process.env);
  const result = { status: r.status, signal: r.signal, output: r.output, effects: effects(before, manifest(cwd)) };
  process.stdout.write(`${MARK}${JSON.stringify(result)}\n`);
}

/**
 * This script as a copy in the cache directory, for the wrapper to run: the
 * checkout may lie below /tmp, where tsvisor test gives the sandbox a private
 * tmpfs. (It imports Node's own modules only.)
 */
function wrapperCopy() {
  const copy = path.join(cacheDir(), 'suites.mjs');
  fs.copyFileSync(SELF, copy);
  return copy;
}

/** The argv that runs `node suites.mjs --wrap ID` natively or in a tsvisor sandbox. */
export function wrapArgv(id, runner) {
  const inner = [process.execPath, wrapperCopy(), '--wrap', id];
  if (runner === 'native') return inner;
  // Both start in the current directory (the suite's tree) with the host root.
  if (runner === 'do' || runner === 'test') return [TSVISOR, runner, '--', ...inner];
  throw new Error(`unknown runner '${runner}' (native, do, test)`);
}

/**
 * Runs suite `id` once in a fresh work tree, natively or in a sandbox.
 * Returns exit status, counts, file effects and, for a sandboxed run,
 * whether the host's copy of the tree stayed unchanged.
 */
export async function runSuite(id, runner, { timeoutMs = 15 * 60 * 1000 } = {}) {
  const s = suite(id);
  const cwd = resetWork(id);
  const hostBefore = runner === 'native' ? null : manifest(cwd, true);
  const argv = wrapArgv(id, runner);
  // tsvisor test also writes its report: its list of the overlay's changes is checked against the native run's effects.
  const reportDir = runner === 'test' ? fs.mkdtempSync(path.join(path.dirname(cwd), `report-${id}-`)) : null;
  if (reportDir) argv.splice(2, 0, '--report', reportDir);
  const t0 = process.hrtime.bigint();
  const r = await runToEnd(argv, cwd, suiteEnv(), timeoutMs);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const line = r.stdout.split('\n').find((l) => l.startsWith(MARK));
  if (!line) {
    throw new Error(`${id} (${runner}): no result (exit ${r.status}, signal ${r.signal}): ${r.stderr.trim().split('\n').slice(-5).join(' | ')}`);
  }
  const res = JSON.parse(line.slice(MARK.length));
  let hostChanged = null;
  if (hostBefore) {
    const e = effects(hostBefore, manifest(cwd, true));
    hostChanged = [...e.created, ...e.modified, ...e.deleted];
  }
  const reported = reportDir ? reportedEffects(reportDir, cwd) : null;
  return { id, runner, seconds, status: res.status, signal: res.signal, counts: s.counts(res.output), effects: res.effects, reported, output: res.output, hostChanged, sandboxStderr: r.stderr };
}

/**
 * The report's changes below `cwd` (tsvisor test --report), as effects: a
 * change of contents, mode, owner, set times or type is `modified`.
 */
function reportedEffects(reportDir, cwd) {
  const report = JSON.parse(fs.readFileSync(path.join(reportDir, 'report.json'), 'utf8'));
  fs.rmSync(reportDir, { recursive: true, force: true });
  if (!report.writes.changes) throw new Error(`tsvisor test collected no changes: ${report.writes.note}`);
  const out = { created: [], modified: [], deleted: [] };
  for (const c of report.writes.changes) {
    if (!c.path.startsWith(`${cwd}/`)) continue;
    out[c.kind === 'created' || c.kind === 'deleted' ? c.kind : 'modified'].push(path.relative(cwd, c.path));
  }
  for (const k of Object.keys(out)) out[k].sort();
  return out;
}

/** Every difference between a native and a sandboxed run of one suite, as sentences. */
export function differences(native, sandboxed) {
  const d = [];
  const j = (x) => JSON.stringify(x);
  if (native.status !== sandboxed.status || native.signal !== sandboxed.signal) {
    d.push(`exit status: native ${native.status ?? native.signal}, sandboxed ${sandboxed.status ?? sandboxed.signal}`);
  }
  if (j(native.counts) !== j(sandboxed.counts)) d.push(`counts: native ${j(native.counts)}, sandboxed ${j(sandboxed.counts)}`);
  for (const k of ['created', 'modified', 'deleted']) {
    const a = new Set(native.effects[k]);
    const b = new Set(sandboxed.effects[k]);
    const onlyN = [...a].filter((p) => !b.has(p));
    const onlyS = [...b].filter((p) => !a.has(p));
    if (onlyN.length) d.push(`${k} only natively: ${onlyN.slice(0, 20).join(', ')}${onlyN.length > 20 ? ` (+${onlyN.length - 20})` : ''}`);
    if (onlyS.length) d.push(`${k} only sandboxed: ${onlyS.slice(0, 20).join(', ')}${onlyS.length > 20 ? ` (+${onlyS.length - 20})` : ''}`);
  }
  if (sandboxed.reported) {
    for (const k of ['created', 'modified', 'deleted']) {
      if (j(sandboxed.reported[k]) !== j(native.effects[k])) {
        const a = new Set(native.effects[k]);
        const b = new Set(sandboxed.reported[k]);
        const only = (x, y) => [...x].filter((p) => !y.has(p)).slice(0, 20).join(', ');
        d.push(`report's ${k} files differ from the native run's: only natively ${only(a, b) || '-'}; only in the report ${only(b, a) || '-'}`);
      }
    }
  }
  if (sandboxed.hostChanged?.length) d.push(`host tree changed by the sandboxed run: ${sandboxed.hostChanged.slice(0, 20).join(', ')}`);
  return d;
}

/**
 * The files both runs wrote but with other contents or sizes.  Not a
 * difference in itself: test logs hold temporary names, pids and times.
 */
export function writtenDifferently(native, sandboxed) {
  const st = (r, p) => r.effects.state[p];
  return Object.keys(native.effects.state).filter((p) => st(sandboxed, p) !== undefined && st(sandboxed, p) !== st(native, p)).sort();
}

const fmtCounts = (c) => Object.entries(c).map(([k, v]) => `${k} ${v}`).join(', ') || '(no counts found)';

async function main(argv) {
  if (argv[0] === '--wrap') return wrap(argv[1]);
  let runner = 'test';
  const ids = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--sandbox') runner = argv[++i];
    else if (argv[i] === '-h' || argv[i] === '--help') {
      console.log('usage: node scripts/testrun/suites.mjs [--sandbox test|do] [SUITE...]   (suites: gzip networkx qs)');
      return 0;
    } else ids.push(argv[i]);
  }
  let bad = 0;
  for (const id of ids.length ? ids : SUITES.map((s) => s.id)) {
    if (!isFetched(id)) {
      console.error(`${id}: not fetched into ${cacheDir()}: run scripts/testrun/fetch-suites.sh`);
      bad++;
      continue;
    }
    const n = await runSuite(id, 'native');
    const s = await runSuite(id, runner);
    const d = differences(n, s);
    console.log(`${id}: ${suite(id).title}`);
    console.log(`  native      exit ${n.status ?? n.signal}, ${fmtCounts(n.counts)}; ${n.effects.created.length} created, ${n.effects.modified.length} modified, ${n.effects.deleted.length} deleted; ${n.seconds.toFixed(1)} s`);
    console.log(`  tsvisor ${runner.padEnd(3)} exit ${s.status ?? s.signal}, ${fmtCounts(s.counts)}; ${s.effects.created.length} created, ${s.effects.modified.length} modified, ${s.effects.deleted.length} deleted; ${s.seconds.toFixed(1)} s; host tree ${s.hostChanged.length ? 'CHANGED' : 'unchanged'}`);
    for (const x of d) console.log(`  DIFFERS: ${x}`);
    const w = writtenDifferently(n, s);
    if (w.length) console.log(`  note: ${w.length} file(s) written by both with other contents (compare them by hand): ${w.slice(0, 10).join(', ')}${w.length > 10 ? ', ...' : ''}`);
    if (d.length) bad++;
  }
  return bad ? 1 : 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === SELF) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code ?? 0),
    (e) => {
      console.error(`suites.mjs: ${e.message}`);
      process.exit(2);
    },
  );
}
