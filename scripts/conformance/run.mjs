// Runs gVisor's syscall tests and LTP's syscall tests natively, under
// tsvisor and under runsc on this machine, caching each result, so an
// interrupted run continues where it stopped. See docs/conformance.md.
//
//   node scripts/conformance/run.mjs --gvisor-build DIR --ltp-build DIR --results DIR
//        [--suites gvisor,ltp] [--modes native,native-caps,tsvisor,runsc] [--jobs 2]
//        [--only REGEX] [--redo] [--retry STATUS,...] [--case-timeout SECONDS]
//        [--tsvisor PATH] [--runsc PATH]
//
// Run as root. Results: DIR/<suite>/<mode>/<test>.json; `report.mjs` reads them.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { listCases, runCases } from './gtest.mjs';
import { MODES, launch } from './launch.mjs';
import { loadLtp, ltpStatus, ltpTimeout } from './ltp.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({
  options: {
    'gvisor-build': { type: 'string' },
    'ltp-build': { type: 'string' },
    results: { type: 'string' },
    suites: { type: 'string', default: 'gvisor,ltp' },
    modes: { type: 'string', default: MODES.join(',') },
    jobs: { type: 'string', default: '2' },
    only: { type: 'string' },
    redo: { type: 'boolean', default: false },
    retry: { type: 'string' },
    'case-timeout': { type: 'string', default: '120' },
    tsvisor: { type: 'string', default: resolve(here, '../../bin/tsvisor') },
    runsc: { type: 'string', default: 'runsc' },
  },
});
const usage = (msg) => {
  console.error(`${msg}\nusage: run.mjs --gvisor-build DIR --ltp-build DIR --results DIR [--suites gvisor,ltp] [--modes native,native-caps,tsvisor,runsc] [--jobs N] [--only REGEX] [--redo]`);
  process.exit(2);
};
if (!opts.results) usage('--results is required');
const suites = opts.suites.split(',');
const modes = opts.modes.split(',');
for (const m of modes) if (!MODES.includes(m)) usage(`unknown mode ${m}`);
for (const s of suites) {
  if (!['gvisor', 'ltp'].includes(s)) usage(`unknown suite ${s}`);
  if (!opts[`${s}-build`]) usage(`--${s}-build is required for suite ${s}`);
}
if (process.getuid() !== 0) usage('run as root (the native run needs namespaces and cgroups)');
const only = opts.only ? new RegExp(opts.only) : null;
// --retry timeout,crash: run again the cached results with these statuses
// (say with a longer --case-timeout), keeping the others.
const retry = new Set(opts.retry ? opts.retry.split(',') : []);
const RESULTS = resolve(opts.results);
const SCRATCH = join(RESULTS, '..', 'scratch');
const caseTimeoutMs = Number(opts['case-timeout']) * 1000;
const tools = { tsvisor: resolve(opts.tsvisor), runsc: opts.runsc };
if (modes.includes('native-caps')) tools.caps = tsvisorCapabilities();

/** The capability bounding set of a tsvisor guest, as setpriv's names. */
function tsvisorCapabilities() {
  const status = execFileSync(tools.tsvisor, ['do', '--', 'cat', '/proc/self/status'], { encoding: 'utf8' });
  const mask = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status)[1];
  const names = execFileSync('capsh', [`--decode=${mask}`], { encoding: 'utf8' }).trim().split('=')[1];
  return names ? names.split(',').map((n) => n.replace(/^cap_/, '')) : [];
}

const BASE_ENV = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  LANG: 'C',
};

function writeJson(file, value) {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, JSON.stringify(value, null, 1) + '\n');
  renameSync(`${file}.tmp`, file);
}
const readJson = (file) => (existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null);
const sh = (cmd, args) => {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (e) {
    return `unavailable (${String(e.message).split('\n')[0]})`;
  }
};

// What this run was made with, kept with the results.
const runInfo = readJson(join(RESULTS, 'run.json')) ?? { sessions: [] };
runInfo.kernel = sh('uname', ['-r']);
runInfo.runsc = sh(tools.runsc, ['--version']).split('\n')[0];
// The build measured: its checkout's commit, or the COMMIT file of a copy
// (a copy keeps a long run on one build while the checkout moves on).
const tsvisorRoot = resolve(dirname(tools.tsvisor), '..');
const tsvisorCommit = existsSync(join(tsvisorRoot, 'COMMIT'))
  ? readFileSync(join(tsvisorRoot, 'COMMIT'), 'utf8').trim()
  : sh('git', ['-C', tsvisorRoot, 'rev-parse', 'HEAD']);
if (tools.caps) runInfo.tsvisorCapabilities = tools.caps;
runInfo.sessions.push({ started: new Date().toISOString(), suites, modes, only: opts.only ?? null, tsvisor: tools.tsvisor, tsvisorCommit });
writeJson(join(RESULTS, 'run.json'), runInfo);

let serial = 0;
/** Runs argv in `mode` in a fresh scratch directory (its cwd and TMPDIR). */
async function inMode(mode, { argv, env, deadline, onLine }) {
  const cwd = join(SCRATCH, `${mode}-${process.pid}-${serial++}`);
  mkdirSync(cwd, { recursive: true });
  try {
    return await launch({ mode, argv, cwd, env: { ...BASE_ENV, ...env, TMPDIR: cwd, TEST_TMPDIR: cwd }, tools, deadline, onLine });
  } finally {
    try {
      rmSync(cwd, { recursive: true, force: true });
    } catch (e) {
      console.error(`could not remove ${cwd}: ${e.message}`);
    }
  }
}

const jobs = [];

if (suites.includes('gvisor')) {
  const build = resolve(opts['gvisor-build']);
  const manifest = readJson(join(build, 'manifest.json'));
  if (!manifest) usage(`${build}/manifest.json not found: run build-gvisor.mjs first`);
  runInfo.gvisor = { commit: manifest.commit };
  // Every case natively; the same environment in all three modes, as gVisor's
  // runner gives its native runs (TEST_ON_GVISOR unset: Linux's behaviour is
  // what every mode is held to).
  const env = { GVISOR_PLATFORM_SUPPORT: '32BIT:TRUE,ALIGNMENT_CHECK:TRUE,INT3:TRUE,MULTIPROCESS:TRUE,VSYSCALL:TRUE' };
  for (const t of manifest.tests) {
    if (!t.built || t.hostFixtures.length > 0) continue;
    if (only && !only.test(t.name)) continue;
    for (const mode of modes) {
      const file = join(RESULTS, 'gvisor', mode, `${t.name}.json`);
      jobs.push({
        name: `gvisor ${t.name} ${mode}`,
        async run() {
          const casesFile = join(RESULTS, 'gvisor', 'cases', `${t.name}.json`);
          let all = readJson(casesFile);
          if (!all) {
            all = listCases(t.binary);
            writeJson(casesFile, all);
          }
          const prev = opts.redo ? null : readJson(file);
          if (prev) {
            const again = Object.keys(prev.cases).filter((c) => retry.has(prev.cases[c].status));
            for (const c of again) delete prev.cases[c];
            if (prev.complete && again.length === 0) return;
          }
          const rec = prev ?? { test: t.name, mode, started: new Date().toISOString(), cases: {} };
          await runCases({
            binary: t.binary,
            all,
            results: rec.cases,
            oneProcess: t.oneSandbox,
            caseTimeoutMs,
            run: (o) => inMode(mode, { ...o, env }),
            save: async () => writeJson(file, rec),
          });
          rec.complete = true;
          rec.finished = new Date().toISOString();
          writeJson(file, rec);
          const counts = {};
          for (const c of Object.values(rec.cases)) counts[c.status] = (counts[c.status] ?? 0) + 1;
          return JSON.stringify(counts);
        },
      });
    }
  }
}

// Native runs of tests that take a loop device go one at a time.
let deviceQueue = Promise.resolve();
function exclusively(fn) {
  const p = deviceQueue.then(fn);
  deviceQueue = p.catch(() => {});
  return p;
}

if (suites.includes('ltp')) {
  const build = resolve(opts['ltp-build']);
  const ltp = loadLtp(build);
  runInfo.ltp = { commit: readFileSync(join(build, 'commit'), 'utf8').trim() };
  const env = {
    LTPROOT: ltp.root,
    PATH: `${ltp.bin}:${BASE_ENV.PATH}`,
    LTP_COLORIZE_OUTPUT: '0',
    // Sandboxes are slower; the same allowance in every mode.
    LTP_TIMEOUT_MUL: '3',
  };
  // Tests that take a block device last: natively they make a filesystem
  // (every filesystem, for some) and take minutes each, so a partial run
  // covers the most tests.
  const order = [...ltp.tests.filter((t) => !t.device), ...ltp.tests.filter((t) => t.device)];
  for (const t of order) {
    if (!t.built) continue;
    if (only && !only.test(t.id)) continue;
    for (const mode of modes) {
      const file = join(RESULTS, 'ltp', mode, `${t.id}.json`);
      jobs.push({
        name: `ltp ${t.id} ${mode}`,
        async run() {
          if (!opts.redo && existsSync(file) && !retry.has(readJson(file).status)) return;
          if (mode.startsWith('native') && t.notNative) {
            writeJson(file, { test: t.id, mode, status: 'notrun', out: [`not run natively: ${t.notNative}`] });
            return 'notrun';
          }
          const go = async () => {
            const r = await inMode(mode, {
              argv: [join(ltp.bin, t.program), ...t.args],
              env,
              deadline: { at: Date.now() + ltpTimeout(t) * 1000 },
            });
            const status = ltpStatus(r);
            writeJson(file, {
              test: t.id,
              mode,
              status,
              code: r.code,
              signal: r.signal,
              timedOut: r.timedOut,
              ms: r.ms,
              out: [...r.head, ...(r.tail.length ? ['…', ...r.tail] : [])].slice(0, 120),
            });
            return status;
          };
          return mode.startsWith('native') && t.device ? exclusively(go) : go();
        },
      });
    }
  }
}
writeJson(join(RESULTS, 'run.json'), runInfo);

let next = 0;
let done = 0;
const started = Date.now();
async function worker() {
  while (next < jobs.length) {
    const job = jobs[next++];
    const t0 = Date.now();
    let outcome;
    try {
      outcome = await job.run();
    } catch (e) {
      outcome = `runner error: ${e.stack ?? e}`;
    }
    done++;
    if (outcome !== undefined) {
      const el = ((Date.now() - started) / 60000).toFixed(1);
      console.log(`[${done}/${jobs.length} ${el} min] ${job.name}: ${outcome} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
  }
}
console.log(`${jobs.length} jobs, ${opts.jobs} at a time`);
await Promise.all(Array.from({ length: Number(opts.jobs) }, worker));
runInfo.sessions.at(-1).finished = new Date().toISOString();
writeJson(join(RESULTS, 'run.json'), runInfo);
console.log('done');
