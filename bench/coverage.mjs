// tsvisor coverage's overhead against native, `strace -f -c`, `perf trace -s`
// and plain `tsvisor do`, from the same run: macro workloads (wall time) and
// bench/oploop.c's loops (µs per operation), the runners in rotating order in
// every round, median of --runs. With --load N, N CPU spinners run on the
// host all along (a loaded machine). The "bystander" table is the cost the
// coverage run's global tracepoints put on the rest of the host: a native
// getpid loop while a `tsvisor coverage -- sleep` runs beside it. With
// --strace, also `strace -f` (every call written, to /dev/null) against
// `tsvisor coverage --strace` (every call logged, to /dev/null), with the
// call records the latter lost. Run as root (coverage's eBPF, perf).
//
//   node bench/coverage.mjs [--runs N] [--budget MS] [--load N] [--strace] [--record]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchOptions, numberOption } from './args.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const tsvisor = path.join(here, '..', 'bin', 'tsvisor');
const opts = benchOptions('usage: node bench/coverage.mjs [--runs N] [--budget MS] [--load N] [--strace] [--record]', {
  runs: { type: 'string', default: '5' },
  budget: { type: 'string', default: '300' },
  load: { type: 'string', default: '0' },
  strace: { type: 'boolean', default: false },
  record: { type: 'boolean', default: false },
});
const runs = numberOption(opts, 'runs', 1);
const budget = String(numberOption(opts, 'budget', 1));
const load = numberOption(opts, 'load', 0);
const record = opts.record;
const withStrace = opts.strace;

const dir = fs.mkdtempSync(path.join('/var/tmp', 'tsvisor-bench-coverage-'));
fs.chmodSync(dir, 0o755);
const oploop = path.join(dir, 'oploop');
execFileSync('gcc', ['-O2', '-static', '-o', oploop, path.join(here, 'oploop.c')]);
const hello = path.join(dir, 'hello.c');
fs.writeFileSync(hello, '#include <stdio.h>\nint main(void) { puts("hello, world"); return 0; }\n');
// A tree for tar to read: 1000 files of 1 KiB in 10 directories.
const tree = path.join(dir, 'tree');
for (let d = 0; d < 10; d++) {
  fs.mkdirSync(path.join(tree, `d${d}`), { recursive: true });
  for (let f = 0; f < 100; f++) fs.writeFileSync(path.join(tree, `d${d}`, `f${f}`), Buffer.alloc(1024, 97 + (f % 26)));
}
const tarSize = Number(execFileSync('sh', ['-c', `tar -cf - -C ${tree} . | wc -c`], { encoding: 'utf8' }).trim());

const perfOk = spawnSync('perf', ['trace', '-s', '-o', '/dev/null', '--', '/bin/true']).status === 0;
const runners = {
  native: (cmd) => cmd,
  'strace -f -c': (cmd) => ['strace', '-f', '-c', '-o', '/dev/null', '--', ...cmd],
  ...(perfOk ? { 'perf trace -s': (cmd) => ['perf', 'trace', '-s', '-o', '/dev/null', '--', ...cmd] } : {}),
  'tsvisor do': (cmd) => [tsvisor, 'do', '--', ...cmd],
  'tsvisor coverage': (cmd) => [tsvisor, 'coverage', '--quiet', '--', ...cmd],
  ...(withStrace
    ? {
        'strace -f': (cmd) => ['strace', '-f', '-o', '/dev/null', '--', ...cmd],
        'coverage --strace': (cmd) => [tsvisor, '--log', '/dev/null', 'coverage', '--quiet', '--strace', '--', ...cmd],
      }
    : {}),
};
/** coverage --strace: the most call records a run of each cell lost (its buffer was full) */
const lostRecords = new Map();
function noteLost(key, stderr) {
  const m = /--strace: (\d+) call records were lost/.exec(stderr);
  if (m) lostRecords.set(key, Math.max(lostRecords.get(key) ?? 0, Number(m[1])));
}
const names = Object.keys(runners);

// Macro workloads: argv and the stdout each run must print (a failed run is reported, never timed).
const macros = [
  { id: 'sh-loop', title: "`sh -c 'for i in $(seq 100); do /bin/true; done; echo done'` (dash, coreutils)", argv: ['sh', '-c', 'for i in $(seq 100); do /bin/true; done; echo done'], out: 'done\n' },
  { id: 'busybox-loop', title: "`busybox sh -c 'for i in $(seq 100); do /bin/busybox true; done; echo done'`", argv: ['busybox', 'sh', '-c', 'for i in $(seq 100); do /bin/busybox true; done; echo done'], out: 'done\n' },
  { id: 'py-start', title: '`python3 -c pass` (start-up)', argv: ['python3', '-c', 'pass'], out: '' },
  { id: 'gcc', title: '`gcc -O0 -c hello.c -o /dev/null`', argv: ['gcc', '-O0', '-c', hello, '-o', '/dev/null'], out: '' },
  { id: 'tar', title: '`tar -c` of 1000 files of 1 KiB, piped to `wc -c`', argv: ['sh', '-c', `tar -cf - -C ${tree} . | wc -c`], out: `${tarSize}\n` },
];
const ops = ['getpid', 'umask', 'openclose', 'forkexec'];

function runOnce(argv) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { cwd: '/', encoding: 'latin1', timeout: 300000, maxBuffer: 1 << 26 });
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Every cell once, checked (also the warm-up); then `runs` rounds in rotating runner order. */
function measure(cells, sample) {
  const failed = new Map();
  for (const c of cells) {
    const why = sample(c, true);
    if (typeof why === 'string') failed.set(c.key, why);
  }
  const samples = new Map(cells.map((c) => [c.key, []]));
  for (let round = 0; round < runs; round++) {
    const order = names.slice(round % names.length).concat(names.slice(0, round % names.length));
    for (const runner of order) {
      for (const c of cells.filter((x) => x.runner === runner && !failed.has(x.key))) {
        const v = sample(c, false);
        if (typeof v === 'string') failed.set(c.key, v);
        else samples.get(c.key).push(v);
      }
    }
    process.stderr.write(`round ${round + 1}/${runs}\n`);
  }
  return { failed, value: (key) => median(samples.get(key)) };
}

function macroSample(c, check) {
  const r = runOnce(runners[c.runner](c.argv));
  noteLost(c.key, r.stderr);
  if (r.status !== 0) return `exit ${r.status}: ${r.stderr.trim().split('\n').slice(-1)[0]}`;
  if (check && r.stdout !== c.out) return `unexpected output ${JSON.stringify(r.stdout.slice(0, 60))}`;
  return r.ms;
}

function opSample(c) {
  const r = runOnce(runners[c.runner]([oploop, c.op, '/etc/hostname', budget]));
  noteLost(c.key, r.stderr);
  const m = /us_per_op=([\d.]+)/.exec(r.stdout);
  if (r.status !== 0 || !m) return `exit ${r.status}: ${r.stderr.trim().split('\n').slice(-1)[0]}`;
  return Number(m[1]);
}

const fmtMs = (v) => (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(v >= 100 ? 0 : 1)} ms`);
const fmtUs = (v) => (v >= 1000 ? `${(v / 1000).toFixed(2)} ms` : `${v.toFixed(2)} µs`);

function table(head, rows, keyOf, sample, fmt) {
  const m = measure(rows.flatMap((r) => names.map((runner) => ({ key: keyOf(r, runner), runner, ...r }))), sample);
  const lines = [`| ${head} | ${names.join(' | ')} | coverage ÷ do | coverage ÷ strace |`, `|---|${names.map(() => '---:').join('|')}|---:|---:|`];
  const notes = [];
  for (const r of rows) {
    const v = Object.fromEntries(names.map((n) => [n, m.failed.has(keyOf(r, n)) ? undefined : m.value(keyOf(r, n))]));
    const cells = names.map((n) => {
      if (v[n] === undefined) {
        notes.push(`${r.id ?? r.op} under ${n}: FAILED, ${m.failed.get(keyOf(r, n))}`);
        return 'FAILED';
      }
      return n === 'native' ? fmt(v[n]) : `${fmt(v[n])} (${(v[n] / v.native).toFixed(2)}x)`;
    });
    const ratio = (a, b) => (v[a] && v[b] ? `${(v[a] / v[b]).toFixed(2)}x` : '-');
    lines.push(`| ${r.title ?? r.op} | ${cells.join(' | ')} | ${ratio('tsvisor coverage', 'tsvisor do')} | ${ratio('tsvisor coverage', 'strace -f -c')} |`);
  }
  return { lines, notes };
}

/** A native getpid loop alone, and beside a coverage run (its tracepoints are global). */
async function bystander() {
  const alone = [];
  const beside = [];
  for (let i = 0; i < runs; i++) {
    alone.push(opSample({ runner: 'native', op: 'getpid' }));
    // A sleep of its own length, to recognise it among the host's processes.
    const secs = String(40000 + (process.pid % 1000) * 10 + i);
    const cov = spawn(tsvisor, ['coverage', '--quiet', '--', 'sleep', secs], { stdio: 'ignore' });
    const gone = new Promise((r) => cov.on('exit', r));
    // Ready once the guest's sleep runs (the programs are attached before the guest starts).
    const deadline = Date.now() + 60000;
    while (!fs.readdirSync('/proc').some((p) => /^\d+$/.test(p) && readCmd(p) === `sleep ${secs} `)) {
      if (Date.now() > deadline) throw new Error('the coverage run did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    beside.push(opSample({ runner: 'native', op: 'getpid' }));
    cov.kill('SIGTERM');
    await gone;
  }
  return { alone: median(alone), beside: median(beside) };
}

function readCmd(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

const spinners = Array.from({ length: load }, () => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
const out = [];
try {
  const version = (cmd) => spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8' }).stdout?.split('\n')[0]?.trim() || 'absent';
  const git = spawnSync('git', ['-C', here, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
  out.push(`## ${new Date().toISOString().replace('T', ' ').replace(/\..*/, '')} UTC: coverage overhead${load ? `, loaded (${load} CPU spinners)` : ''}`, '');
  out.push(`- kernel: ${os.release()}; ${os.cpus().length} CPUs; load average at the start ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  out.push(`- tracers: ${version(['strace', '-V'])}; perf: ${perfOk ? version(['perf', '--version']) : 'perf trace cannot run here'}; tsvisor (git ${git})`);
  out.push(`- method: \`node bench/coverage.mjs --runs ${runs}${load ? ` --load ${load}` : ''}\`: median of ${runs}, runners in rotating order each round, every cell checked once first (exit 0, expected output); ratios to native from the same run`, '');
  const macro = table('workload (wall time)', macros, (r, n) => `${r.id}/${n}`, macroSample, fmtMs);
  const op = table('op (µs per operation)', ops.map((o) => ({ op: o })), (r, n) => `${r.op}/${n}`, opSample, fmtUs);
  out.push(...macro.lines, '', ...op.lines, '');
  const b = await bystander();
  out.push(`Bystander: a native \`oploop getpid\` outside any sandbox, ${fmtUs(b.alone)} alone, ${fmtUs(b.beside)} while a \`tsvisor coverage\` run is active (${(b.beside / b.alone).toFixed(2)}x): the raw_syscalls tracepoints run the coverage program on every call of every process of the host.`, '');
  if (withStrace) {
    const lost = [...lostRecords].map(([key, n]) => `${key.split('/')[0]} ${n}`);
    out.push(`Call records coverage --strace lost (most in one run; the counts stay complete): ${lost.length ? lost.join(', ') : 'none'}.`, '');
  }
  const notes = [...macro.notes, ...op.notes];
  if (notes.length) out.push('Failures:', '', ...notes.map((n) => `- ${n}`), '');
} finally {
  for (const s of spinners) s.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
}
const text = `${out.join('\n')}\n`;
process.stdout.write(text);
if (record) fs.appendFileSync(path.join(here, 'RESULTS.md'), `\n${text}`);
