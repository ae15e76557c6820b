// Three real third-party test suites (scripts/testrun/fetch-suites.sh:
// gzip's `make check`, NetworkX's pytest suite, qs's tape suite) natively,
// under tsvisor, under runsc-ptrace and under bwrap, from the same run:
// wall time of the suite's own command, median of --runs, runners in
// rotating order every round, ratios to native.  Every run starts from a
// fresh copy of the suite's pristine tree (made outside the timing) and must
// exit as natively with the same pass/fail counts, or its cell is FAILED.
// With --load N, N CPU spinners run on the host all along.  Run as root.
//
// With --base DIR, another checkout's build (DIR/bin/tsvisor) is one more
// runner in the same rotation: an A/B of two builds from one run.
//
//   node bench/suites.mjs [--runs N] [--load N] [--suites gzip,networkx,qs]
//                         [--tsvisor-cmd do|test] [--base DIR] [--runners LIST] [--record]
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchOptions, die, numberOption } from './args.mjs';
import { SUITES, TSVISOR, isFetched, pristineDir, resetWork, suite, suiteEnv, workDir } from '../scripts/testrun/suites.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const USAGE = 'usage: node bench/suites.mjs [--runs N] [--load N] [--suites gzip,networkx,qs] [--tsvisor-cmd do|test] [--base DIR] [--runners native,tsvisor,base,runsc-ptrace,bwrap] [--record]';
const opts = benchOptions(USAGE, {
  runs: { type: 'string', default: '3' },
  load: { type: 'string', default: '0' },
  suites: { type: 'string', default: SUITES.map((s) => s.id).join(',') },
  'tsvisor-cmd': { type: 'string', default: 'do' },
  base: { type: 'string' },
  runners: { type: 'string' },
  record: { type: 'boolean', default: false },
});
const runs = numberOption(opts, 'runs', 1);
const load = numberOption(opts, 'load', 0);
const tsvisorCmd = opts['tsvisor-cmd'];
if (!['do', 'test'].includes(tsvisorCmd)) die(`--tsvisor-cmd must be do or test, got ${tsvisorCmd}`);
const base = opts.base === undefined ? undefined : path.resolve(opts.base);
const baseTsvisor = base && path.join(base, 'bin/tsvisor');
if (baseTsvisor && !fs.existsSync(baseTsvisor)) die(`--base ${opts.base}: no bin/tsvisor there`);
const git = (dir) => spawnSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
const record = opts.record;
const ids = opts.suites.split(',');
for (const id of ids) {
  if (!SUITES.some((s) => s.id === id)) die(`unknown suite '${id}' (known: ${SUITES.map((s) => s.id).join(', ')})`);
  if (!isFetched(id)) die(`${id} is not fetched: run scripts/testrun/fetch-suites.sh`);
}


/** Each runner: the argv prefix for a suite run in `work`, and how that run's tree is prepared (`key`: its --runners name). */
const allRunners = {
  native: { key: 'native', argv: () => [], prepare: (id) => resetWork(id) },
  [`tsvisor ${tsvisorCmd}`]: { key: 'tsvisor', argv: () => [TSVISOR, tsvisorCmd, '--'], prepare: (id) => resetWork(id) },
  ...(baseTsvisor ? { [`tsvisor ${tsvisorCmd} (base ${git(base)})`]: { key: 'base', argv: () => [baseTsvisor, tsvisorCmd, '--'], prepare: (id) => resetWork(id) } } : {}),
  'runsc-ptrace': {
    key: 'runsc-ptrace',
    argv: (work) => ['runsc', '--network=none', '--platform=ptrace', '--rootless=false', 'do', '--root=/', `--cwd=${work}`, '--'],
    prepare: (id) => resetWork(id),
  },
  bwrap: {
    key: 'bwrap',
    argv: (work, id) => ['bwrap', '--unshare-all', '--die-with-parent', '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--bind', path.join(shm, id), work, '--chdir', work, '--'],
    prepare: (id) => {
      fs.rmSync(path.join(shm, id), { recursive: true, force: true });
      const r = spawnSync('cp', ['-a', pristineDir(id), path.join(shm, id)]);
      if (r.status !== 0) throw new Error(`cp -a to ${shm}: ${r.stderr}`);
      return resetWork(id);
    },
  },
};
const keys = Object.values(allRunners).map((r) => r.key);
const picked = opts.runners === undefined ? keys : opts.runners.split(',');
for (const k of picked) if (!keys.includes(k)) die(`unknown runner '${k}' (here: ${keys.join(', ')}; base needs --base)`);
if (!picked.includes('native')) die('--runners must include native: the ratios are to it');
const runners = Object.fromEntries(Object.entries(allRunners).filter(([, r]) => picked.includes(r.key)));
const names = Object.keys(runners);
// bwrap's writable suite tree: a copy on a tmpfs, bound over the suite's path.
const shm = fs.mkdtempSync('/dev/shm/tsvisor-bench-suites-');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One timed run of suite `id` under `runner`: seconds, or why it failed. */
function sample(id, runner, expected) {
  const s = suite(id);
  const work = runners[runner].prepare(id);
  const argv = [...runners[runner].argv(work, id), ...s.argv];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { cwd: work, env: suiteEnv(), stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 30 * 60 * 1000, maxBuffer: 256 << 20 });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const counts = JSON.stringify(s.counts(`${r.stdout}\n${r.stderr}`));
  if (r.error) return { why: r.error.message };
  if (expected && (r.status !== expected.status || counts !== expected.counts)) {
    return { why: `exit ${r.status}, counts ${counts} (native: exit ${expected.status}, ${expected.counts}): ${r.stderr.trim().split('\n').slice(-1)[0] ?? ''}` };
  }
  return { secs, status: r.status, counts };
}

const spinners = Array.from({ length: load }, () => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
const out = [];
try {
  const version = (cmd) => spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8' }).stdout?.split('\n')[0]?.trim() || 'absent';
  out.push(`## ${new Date().toISOString().replace('T', ' ').replace(/\..*/, '')} UTC: real test suites${load ? `, loaded (${load} CPU spinners)` : ''}`, '');
  out.push(`- kernel: ${os.release()}; ${os.cpus().length} CPUs; load average at the start ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  out.push(`- runners: tsvisor (git ${git(here)}) \`tsvisor ${tsvisorCmd}\`${base ? `; base: ${base} (git ${git(base)})` : ''}; ${version(['runsc', '--version'])}; ${version(['bwrap', '--version'])}`);
  out.push(`- method: \`node bench/suites.mjs --runs ${runs}${load ? ` --load ${load}` : ''}${base ? ` --base ${base}` : ''}${opts.runners ? ` --runners ${opts.runners}` : ''}\`: median of ${runs} wall times of the suite's own command, runners in rotating order each round, a fresh copy of the tree before every run (untimed); every run must give native's exit status and counts`, '');
  const failed = new Map();
  const secs = new Map();
  const expected = new Map();
  for (const id of ids) {
    const n = sample(id, 'native');
    if (n.why) throw new Error(`${id} natively: ${n.why}`);
    expected.set(id, n);
  }
  for (let round = 0; round < runs; round++) {
    const order = names.slice(round % names.length).concat(names.slice(0, round % names.length));
    for (const id of ids) {
      for (const runner of order) {
        const key = `${id}/${runner}`;
        if (failed.has(key)) continue;
        const r = sample(id, runner, expected.get(id));
        if (r.why) failed.set(key, r.why);
        else secs.set(key, [...(secs.get(key) ?? []), r.secs]);
        process.stderr.write(`round ${round + 1}/${runs} ${key}: ${r.why ? 'FAILED' : `${r.secs.toFixed(1)} s`}\n`);
      }
    }
  }
  out.push(`| suite | ${names.join(' | ')} |`, `|---|${names.map(() => '---:').join('|')}|`);
  for (const id of ids) {
    const nat = median(secs.get(`${id}/native`) ?? [NaN]);
    const cells = names.map((r) => {
      const key = `${id}/${r}`;
      if (failed.has(key)) return 'FAILED';
      const v = median(secs.get(key));
      return r === 'native' ? `${v.toFixed(1)} s` : `${v.toFixed(1)} s (${(v / nat).toFixed(2)}x)`;
    });
    out.push(`| ${suite(id).title}: ${expected.get(id).counts} | ${cells.join(' | ')} |`);
  }
  out.push('', `Load average at the end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}.`, '');
  if (failed.size) out.push('Failures:', '', ...[...failed].map(([k, why]) => `- ${k}: ${why}`), '');
} finally {
  for (const s of spinners) s.kill('SIGKILL');
  fs.rmSync(shm, { recursive: true, force: true });
  for (const id of ids) fs.rmSync(workDir(id), { recursive: true, force: true });
}
const text = `${out.join('\n')}\n`;
process.stdout.write(text);
if (record) fs.appendFileSync(path.join(here, 'RESULTS.md'), `\n${text}`);
