// tsvisor coverage's overhead: per-operation cost of bench/oploop.c's loops
// natively, under `strace -f -c`, `tsvisor do` and `tsvisor coverage`, from
// the same run (median of --runs, default 3). Run as root (coverage's eBPF).
//
//   node bench/coverage.mjs [--runs N] [--budget MS]
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
};
const modes = ['getpid', 'umask', 'openclose', 'forkexec'];

function usPerOp(argv) {
  const r = spawnSync(argv[0], argv.slice(1), { cwd: '/', encoding: 'latin1', timeout: 120000 });
  const m = /us_per_op=([\d.]+)/.exec(r.stdout);
  if (!m) throw new Error(`${argv.join(' ')}: ${r.stderr || r.stdout}`);
  return Number(m[1]);
}
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log(`# ${os.release()}, ${os.cpus().length} CPUs, median of ${runs} runs, µs per operation (ratio to native)`);
console.log(`| op | ${Object.keys(runners).join(' | ')} |`);
console.log(`|---|${Object.keys(runners).map(() => '---:').join('|')}|`);
try {
  for (const mode of modes) {
    const cells = [];
    let base = 0;
    for (const [name, wrap] of Object.entries(runners)) {
      const v = median(Array.from({ length: runs }, () => usPerOp(wrap([oploop, mode, '/etc/hostname', budget]))));
      if (name === 'native') base = v;
      cells.push(`${v.toFixed(2)} (${(v / base).toFixed(1)}×)`);
    }
    console.log(`| ${mode} | ${cells.join(' | ')} |`);
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
