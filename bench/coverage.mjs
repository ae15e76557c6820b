// tsvisor coverage's overhead: per-operation cost of bench/oploop.c's loops
// natively, under `strace -f -c`, `tsvisor do` and `tsvisor coverage`, from
// the same run (median of --runs, default 3). Run as root (coverage's eBPF).
//
//   node bench/coverage.mjs [--runs N] [--budget MS] [--baseline TSVISOR]
//
// --baseline: another build's bin/tsvisor (e.g. main's worktree), whose
// coverage mode gets a column of its own, measured in the same run.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const tsvisor = path.join(here, '..', 'bin', 'tsvisor');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const runs = arg('runs', 3);
const baselineAt = process.argv.indexOf('--baseline');
const baseline = baselineAt > 0 ? process.argv[baselineAt + 1] : undefined;
const budget = String(arg('budget', 300));

const dir = fs.mkdtempSync(path.join('/var/tmp', 'tsvisor-bench-coverage-'));
fs.chmodSync(dir, 0o755);
const oploop = path.join(dir, 'oploop');
execFileSync('gcc', ['-O2', '-static', '-o', oploop, path.join(here, 'oploop.c')]);

const runners = {
  native: (cmd) => cmd,
  'strace -f -c': (cmd) => ['strace', '-f', '-c', '-o', '/dev/null', ...cmd],
  'tsvisor do': (cmd) => [tsvisor, 'do', '--', ...cmd],
  'tsvisor coverage': (cmd) => [tsvisor, 'coverage', '--quiet', '--', ...cmd],
  ...(baseline ? { 'baseline coverage': (cmd) => [baseline, 'coverage', '--quiet', '--', ...cmd] } : {}),
};
const modes = ['getpid', 'umask', 'openclose', 'forkexec'];

function usPerOp(argv) {
  const r = spawnSync(argv[0], argv.slice(1), { cwd: '/', encoding: 'latin1', timeout: 120000 });
  const m = /us_per_op=([\d.]+)/.exec(r.stdout);
  if (!m) throw new Error(`${argv.join(' ')}: ${r.stderr || r.stdout}`);
  return Number(m[1]);
}
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log(`# ${os.release()}, ${os.cpus().length} CPUs, median of ${runs} interleaved runs, µs per operation (ratio to native)`);
console.log(`| op | ${Object.keys(runners).join(' | ')} |`);
console.log(`|---|${Object.keys(runners).map(() => '---:').join('|')}|`);
try {
  for (const mode of modes) {
    // Rounds of every runner in turn, so a change in the machine's load hits all of them alike.
    const samples = Object.keys(runners).map(() => []);
    for (let i = 0; i < runs; i++) Object.values(runners).forEach((wrap, j) => samples[j].push(usPerOp(wrap([oploop, mode, '/etc/hostname', budget]))));
    const values = samples.map(median);
    const cells = values.map((v) => `${v.toFixed(2)} (${(v / values[0]).toFixed(1)}×)`);
    console.log(`| ${mode} | ${cells.join(' | ')} |`);
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
