#!/usr/bin/env node
// tsvisor benchmark harness: the same workloads natively, under tsvisor and
// under the peers (runsc --platform=ptrace, proot, bwrap) that are installed,
// with ratios to native taken from the same run.  Plain Node ESM, standard
// library only.  See bench/README.md.
//
//   node bench/run.mjs [--runs N | --quick] [--only native,tsvisor,...]
//                      [--workloads py-pass,tar-x,oploop,...] [--record]

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchOptions, die } from './args.mjs';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_DIR = path.dirname(BENCH_DIR);
const PID = process.pid;

// ---------------------------------------------------------------- options --

const USAGE = `usage: node bench/run.mjs [options]

  --runs N            timed runs per (workload, runner) cell (default 10)
  --quick             3 runs, shorter op loops
  --only LIST         runners, comma-separated: ${'native,tsvisor,runsc,proot,bwrap'}
                      (native is always added: ratios need it)
  --workloads LIST    workloads, comma-separated (default all):
                      py-pass,py-stat,tar-x,sh-loop,gcc,oploop
                      (oploop = op-getpid,op-umask,op-openclose,op-stat,op-pread,op-forkexec,op-denied)
  --schedule S        roundrobin (default): each round runs every runner once,
                      rotating the order; blocked: all runs of one runner, then
                      the next (hyperfine --warmup 1 --runs N per cell)
  --no-hyperfine      time with process.hrtime even if hyperfine is installed
  --op-budget MS      wall time each op-loop measurement runs for (default 300)
  --timeout S         kill a command that runs longer than this (default 300)
  --tsvisor PATH      tsvisor executable (default bin/tsvisor of this checkout)
  --tsvisor-args STR  extra flags for 'tsvisor do', space-separated
  --record            append a dated section to bench/RESULTS.md
  --results FILE      file --record appends to (default bench/RESULTS.md)
  --json FILE         write every sample and failure as JSON
  --keep              keep the work directory under /var/tmp
  -v, --verbose       print each command as it is validated
  -h, --help`;

const opts = benchOptions(USAGE, {
  runs: { type: 'string' },
  quick: { type: 'boolean', default: false },
  only: { type: 'string' },
  workloads: { type: 'string' },
  schedule: { type: 'string', default: 'roundrobin' },
  'no-hyperfine': { type: 'boolean', default: false },
  'op-budget': { type: 'string' },
  timeout: { type: 'string', default: '300' },
  tsvisor: { type: 'string' },
  'tsvisor-args': { type: 'string', default: '' },
  record: { type: 'boolean', default: false },
  results: { type: 'string', default: path.join(BENCH_DIR, 'RESULTS.md') },
  json: { type: 'string' },
  keep: { type: 'boolean', default: false },
  verbose: { type: 'boolean', short: 'v', default: false },
});

const RUNS = opts.runs !== undefined ? Number(opts.runs) : opts.quick ? 3 : 10;
if (!Number.isInteger(RUNS) || RUNS < 1) die(`--runs must be a positive integer, got ${opts.runs}`);
const OP_BUDGET_MS = opts['op-budget'] !== undefined ? Number(opts['op-budget']) : opts.quick ? 150 : 300;
if (!Number.isInteger(OP_BUDGET_MS) || OP_BUDGET_MS < 1) die('--op-budget must be a positive integer (ms)');
const TIMEOUT_MS = Number(opts.timeout) * 1000;
if (!(TIMEOUT_MS > 0)) die('--timeout must be a positive number of seconds');
if (!['roundrobin', 'blocked'].includes(opts.schedule)) die(`--schedule must be roundrobin or blocked`);

// ------------------------------------------------------------ environment --

// Every runner gets the same small, predictable environment (no pyenv shims,
// no locale surprises).  Node's own directory is appended so that a
// `#!/usr/bin/env node` tsvisor launcher finds node.
const BASE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const nodeDir = path.dirname(process.execPath);
const CHILD_ENV = {
  PATH: BASE_PATH.split(':').includes(nodeDir) ? BASE_PATH : `${BASE_PATH}:${nodeDir}`,
  HOME: process.env.HOME || '/root',
  LANG: 'C.UTF-8',
  LC_ALL: 'C.UTF-8',
};

function which(cmd) {
  if (cmd.includes('/')) return isExecutable(cmd) ? cmd : null;
  for (const dir of CHILD_ENV.PATH.split(':')) {
    const p = path.join(dir, cmd);
    if (isExecutable(p)) return p;
  }
  return null;
}

function isExecutable(p) {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function quietOutput(argv) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', env: CHILD_ENV, timeout: 30000 });
  if (r.error) return null;
  return `${r.stdout || ''}${r.stderr || ''}`.trim();
}

function firstLines(s, n = 4) {
  return String(s || '')
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.length > 0)
    .slice(0, n);
}

// A command line for hyperfine -N (split there with POSIX shell-word rules).
function shellQuote(argv) {
  return argv.map((a) => (/^[A-Za-z0-9_\/.,:=+@%-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

// Process groups of running children, killed if we are interrupted.
const LIVE = new Set();

// Run argv (own process group, so a timeout kills the whole tree).  Returns
// { code, signal, stdout, stderr, ms, timedOut, error }.
function run(argv, { capture = true, timeoutMs = TIMEOUT_MS } = {}) {
  return new Promise((resolve) => {
    const out = [];
    const err = [];
    let outLen = 0;
    let errLen = 0;
    const LIMIT = 1 << 20;
    let timedOut = false;
    const t0 = process.hrtime.bigint();
    let child;
    try {
      child = spawn(argv[0], argv.slice(1), {
        cwd: '/',
        env: CHILD_ENV,
        detached: true,
        stdio: ['ignore', capture ? 'pipe' : 'ignore', 'pipe'],
      });
    } catch (e) {
      resolve({ code: null, signal: null, stdout: '', stderr: '', ms: 0, timedOut, error: e.message });
      return;
    }
    LIVE.add(child.pid);
    if (capture) {
      child.stdout.on('data', (d) => {
        if (outLen < LIMIT) out.push(d);
        outLen += d.length;
      });
    }
    child.stderr.on('data', (d) => {
      if (errLen < LIMIT) err.push(d);
      errLen += d.length;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }, timeoutMs);
    let exit;
    child.on('error', (e) => {
      clearTimeout(timer);
      LIVE.delete(child.pid);
      resolve({ code: null, signal: null, stdout: '', stderr: '', ms: 0, timedOut, error: e.message });
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
    });
    child.on('close', () => {
      clearTimeout(timer);
      LIVE.delete(child.pid);
      if (!exit) return;
      resolve({
        ...exit,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        error: null,
      });
    });
  });
}

function describeFailure(r) {
  if (r.error) return [`spawn failed: ${r.error}`];
  const head = r.timedOut
    ? `timed out after ${TIMEOUT_MS / 1000} s`
    : r.signal
      ? `killed by signal ${r.signal}`
      : `exit status ${r.code}`;
  return [head, ...firstLines(r.stderr)];
}

// ------------------------------------------------------------- work files --

// Everything the workloads read must be visible inside every sandbox: all use
// the host root, and bwrap gets a fresh /tmp, so it lives under /var/tmp.
const WORK = `/var/tmp/tsvisor-bench-${PID}`;
const TMP_PREFIX = `bx${PID}.`; // host /tmp entries written by native and proot runs
const GCC_OUT = `/tmp/${TMP_PREFIX}hello`;

function cleanHostTmp() {
  let names = [];
  try {
    names = fs.readdirSync('/tmp');
  } catch {}
  for (const n of names) {
    if (n.startsWith(TMP_PREFIX)) fs.rmSync(path.join('/tmp', n), { recursive: true, force: true });
  }
}

let cleanedUp = false;
function cleanup() {
  if (cleanedUp) return;
  cleanedUp = true;
  cleanHostTmp();
  if (!opts.keep) fs.rmSync(WORK, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    for (const pid of LIVE) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {}
    }
    cleanup();
    process.exit(128 + os.constants.signals[sig]);
  });
}

const TAR_DIRS = 20;
const TAR_FILES_PER_DIR = 100;
const TAR_FILES = TAR_DIRS * TAR_FILES_PER_DIR;
const TAR_PROBE = 'd13/f077';

function tarFileContent(d, f) {
  // Deterministic text, 64..2047 bytes.
  const name = `d${String(d).padStart(2, '0')}/f${String(f).padStart(3, '0')}`;
  const size = 64 + ((d * 7919 + f * 104729) % 1984);
  let body = `file ${name}\n`;
  while (body.length < size) body += `${name} ${body.length}\n`;
  return body.slice(0, size - 1) + '\n';
}

function prepareWork() {
  fs.rmSync(WORK, { recursive: true, force: true });
  fs.mkdirSync(WORK, { recursive: true, mode: 0o755 });
  fs.chmodSync(WORK, 0o755);

  // 1. tarball of 2000 small files
  const src = path.join(WORK, 'tar-src');
  for (let d = 0; d < TAR_DIRS; d++) {
    const dir = path.join(src, `d${String(d).padStart(2, '0')}`);
    fs.mkdirSync(dir, { recursive: true });
    for (let f = 0; f < TAR_FILES_PER_DIR; f++) {
      fs.writeFileSync(path.join(dir, `f${String(f).padStart(3, '0')}`), tarFileContent(d, f));
    }
  }
  const tarball = path.join(WORK, 'files.tar');
  const t = spawnSync('tar', ['-cf', tarball, '-C', src, '.'], { env: CHILD_ENV, encoding: 'utf8' });
  if (t.status !== 0) throw new Error(`cannot create the tarball: ${t.stderr}`);
  fs.rmSync(src, { recursive: true, force: true });

  // 2. hello.c
  const hello = path.join(WORK, 'hello.c');
  fs.writeFileSync(hello, '#include <stdio.h>\n\nint main(void) {\n    puts("hello, world");\n    return 0;\n}\n');

  // 3. the op-loop binary (static, so every sandbox runs the same code) and
  //    a 64 KiB file for pread
  const oploop = path.join(WORK, 'oploop');
  const g = spawnSync('gcc', ['-O2', '-static', '-o', oploop, path.join(BENCH_DIR, 'oploop.c')], {
    env: CHILD_ENV,
    encoding: 'utf8',
  });
  const oploopError = g.error ? g.error.message : g.status !== 0 ? firstLines(g.stderr, 6).join('\n') : null;
  const data = path.join(WORK, 'pread.dat');
  const buf = Buffer.alloc(65536);
  for (let i = 0; i < buf.length; i++) buf[i] = (i * 131 + 7) & 0xff;
  fs.writeFileSync(data, buf);

  for (const f of fs.readdirSync(WORK)) fs.chmodSync(path.join(WORK, f), f === 'oploop' ? 0o755 : 0o644);
  return { tarball, hello, oploop, oploopError, data };
}

// ---------------------------------------------------------------- runners --

function tsvisorPath() {
  return opts.tsvisor ? path.resolve(opts.tsvisor) : path.join(REPO_DIR, 'bin', 'tsvisor');
}

function gitDescribe() {
  const r = spawnSync('git', ['-C', REPO_DIR, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  if (r.status !== 0) return 'no commit';
  const s = spawnSync('git', ['-C', REPO_DIR, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' });
  return `${r.stdout.trim()}${s.status === 0 && s.stdout.trim() ? '+dirty' : ''}`;
}

const RUNNERS = [
  {
    id: 'native',
    label: 'native',
    bin: null,
    prefix: () => [],
    version: () => `${os.type()} ${os.release()}`,
  },
  {
    id: 'tsvisor',
    label: 'tsvisor',
    bin: () => tsvisorPath(),
    prefix: (bin) => [bin, 'do', ...opts['tsvisor-args'].split(/\s+/).filter(Boolean), '--'],
    version: () => {
      let v = '?';
      try {
        v = JSON.parse(fs.readFileSync(path.join(REPO_DIR, 'package.json'), 'utf8')).version;
      } catch {}
      return `${v} (git ${gitDescribe()})`;
    },
  },
  {
    id: 'runsc',
    label: 'runsc-ptrace',
    bin: () => which('runsc'),
    needsRoot: true,
    prefix: (bin) => [bin, '--network=none', '--platform=ptrace', '--rootless=false', 'do', '--root=/', '--cwd=/', '--'],
    version: (bin) => firstLines(quietOutput([bin, '--version']), 1)[0] || '?',
  },
  {
    id: 'proot',
    label: 'proot',
    bin: () => which('proot'),
    // proot 5.1.0 rejects '--': the command follows the options directly.
    prefix: (bin) => [bin, '-r', '/', '-b', '/dev', '-b', '/proc', '-b', '/sys', '-w', '/'],
    version: (bin) => {
      const m = /(\d+\.\d+(\.\d+)?)/.exec(quietOutput([bin, '--version']) || '');
      return m ? `proot ${m[1]}` : '?';
    },
  },
  {
    id: 'bwrap',
    label: 'bwrap',
    bin: () => which('bwrap'),
    prefix: (bin) => [
      bin, '--unshare-all', '--die-with-parent', '--ro-bind', '/', '/', '--dev', '/dev',
      '--proc', '/proc', '--tmpfs', '/tmp', '--chdir', '/', '--',
    ],
    version: (bin) => firstLines(quietOutput([bin, '--version']), 1)[0] || '?',
  },
];

function selectRunners() {
  if (!opts.only) return RUNNERS.map((r) => ({ ...r }));
  const want = opts.only.split(',').map((s) => s.trim()).filter(Boolean);
  for (const w of want) if (!RUNNERS.some((r) => r.id === w)) die(`unknown runner '${w}' in --only`);
  return RUNNERS.filter((r) => r.id === 'native' || want.includes(r.id)).map((r) => ({ ...r }));
}

// Fills runner.status ('ok' | 'absent' | 'failed'), .why, .argvPrefix, .ver.
async function probeRunner(r) {
  if (r.id === 'native') {
    r.status = 'ok';
    r.argvPrefix = [];
    r.ver = r.version();
    return;
  }
  const bin = r.bin();
  if (!bin || !isExecutable(bin)) {
    r.status = 'absent';
    r.why = r.id === 'tsvisor' ? `${bin || 'bin/tsvisor'} not found or not executable` : `${r.id} is not installed`;
    r.ver = r.id === 'tsvisor' ? r.version() : '-';
    return;
  }
  r.ver = r.version(bin);
  if (r.needsRoot && process.getuid && process.getuid() !== 0) {
    r.status = 'absent';
    r.why = `${r.id} needs root here`;
    return;
  }
  r.argvPrefix = r.prefix(bin);
  const smoke = await run([...r.argvPrefix, '/bin/true'], { timeoutMs: Math.min(TIMEOUT_MS, 120000) });
  if (smoke.error || smoke.code !== 0) {
    r.status = 'failed';
    r.why = `smoke test \`true\` failed: ${describeFailure(smoke).join(' / ')}`;
    return;
  }
  r.status = 'ok';
}

// -------------------------------------------------------------- workloads --

const PY = '/usr/bin/python3';
const STAT_TARGET = '/usr/bin/python3';
const OPS = [
  { id: 'op-getpid', mode: 'getpid', title: 'getpid' },
  { id: 'op-umask', mode: 'umask', title: 'umask (a trapped call, nothing to copy)' },
  { id: 'op-openclose', mode: 'openclose', title: 'open+close', file: '/etc/hostname' },
  { id: 'op-stat', mode: 'stat', title: 'stat', file: '/etc/hostname' },
  { id: 'op-pread', mode: 'pread', title: 'pread 4 KiB', file: 'DATA' },
  { id: 'op-forkexec', mode: 'forkexec', title: 'fork+exec /bin/true' },
  { id: 'op-denied', mode: 'denied', title: 'a call the filter denies (syslog size; traps with an access observer)' },
];

function defineWorkloads(w) {
  const statSize = fs.statSync(STAT_TARGET).size;
  const tarCmd = `d=$(mktemp -d /tmp/${TMP_PREFIX}XXXXXX) && tar -xf ${w.tarball} -C $d`;
  const list = [
    {
      id: 'py-pass',
      title: '`python3 -c pass`',
      argv: [PY, '-c', 'pass'],
      expect: (out) => out === '' || `expected no output, got ${JSON.stringify(out.slice(0, 80))}`,
    },
    {
      id: 'py-stat',
      title: 'python, 10 000 × `os.stat`',
      argv: [
        PY,
        '-c',
        `import os\nn = 0\nfor _ in range(10000):\n    st = os.stat(${JSON.stringify(STAT_TARGET)})\n    n += 1\nprint(n, st.st_size)`,
      ],
      expect: (out) => out.trim() === `10000 ${statSize}` || `expected "10000 ${statSize}", got ${JSON.stringify(out.trim().slice(0, 80))}`,
    },
    {
      id: 'tar-x',
      title: `\`tar -x\` of ${TAR_FILES} small files into /tmp`,
      argv: ['sh', '-c', tarCmd],
      expect: (out) => out === '' || `expected no output, got ${JSON.stringify(out.slice(0, 80))}`,
      // Untimed check that the extraction really happened inside the sandbox.
      check: {
        argv: ['sh', '-c', `${tarCmd} && find "$d" -type f | wc -l && head -n 1 "$d/${TAR_PROBE}"`],
        expect: (out) => {
          const want = `${TAR_FILES}\nfile ${TAR_PROBE}`;
          return out.trim().replace(/^\s+/gm, '') === want || `expected ${JSON.stringify(want)}, got ${JSON.stringify(out.trim().slice(0, 80))}`;
        },
      },
    },
    {
      id: 'sh-loop',
      title: "`sh -c 'for i in $(seq 200); do /bin/true; done'`",
      argv: ['sh', '-c', 'for i in $(seq 200); do /bin/true; done'],
      expect: (out) => out === '' || `expected no output, got ${JSON.stringify(out.slice(0, 80))}`,
      check: {
        argv: ['sh', '-c', 'n=0; for i in $(seq 200); do /bin/true || exit 1; n=$((n+1)); done; echo $n'],
        expect: (out) => out.trim() === '200' || `expected 200, got ${JSON.stringify(out.trim().slice(0, 80))}`,
      },
    },
    {
      id: 'gcc',
      title: '`gcc -O0 hello.c`',
      argv: ['gcc', '-O0', w.hello, '-o', GCC_OUT],
      expect: (out) => out === '' || `expected no output, got ${JSON.stringify(out.slice(0, 80))}`,
      check: {
        argv: ['sh', '-c', `gcc -O0 ${w.hello} -o ${GCC_OUT}c && ${GCC_OUT}c`],
        expect: (out) => out.trim() === 'hello, world' || `expected "hello, world", got ${JSON.stringify(out.trim().slice(0, 80))}`,
      },
    },
  ];
  for (const op of OPS) {
    const file = op.file === 'DATA' ? w.data : op.file;
    list.push({
      id: op.id,
      title: op.title,
      op: true,
      unavailable: w.oploopError ? `gcc -O2 -static bench/oploop.c failed: ${w.oploopError}` : null,
      argv: [w.oploop, op.mode, file || '', String(OP_BUDGET_MS)],
      parse: (out) => {
        const m = /^oploop mode=(\S+) iters=(\d+) ns=(\d+) us_per_op=([\d.]+)\s*$/m.exec(out);
        if (!m || m[1] !== op.mode) return null;
        return { iters: Number(m[2]), usPerOp: Number(m[3]) / Number(m[2]) / 1000 };
      },
    });
  }
  return list;
}

function selectWorkloads(all) {
  if (!opts.workloads) return all;
  const want = new Set();
  for (const s of opts.workloads.split(',').map((x) => x.trim()).filter(Boolean)) {
    if (s === 'oploop') OPS.forEach((o) => want.add(o.id));
    else if (all.some((w) => w.id === s)) want.add(s);
    else die(`unknown workload '${s}' in --workloads (known: ${all.map((w) => w.id).join(',')},oploop)`);
  }
  return all.filter((w) => want.has(w.id));
}

// ----------------------------------------------------------------- timing --

let HYPERFINE = null;

// Times `argv` `runs` times (after `warmup` untimed runs).  Returns
// { times: [ms...] } or { fail: [lines] }.
async function timeRuns(argv, runs, warmup) {
  if (HYPERFINE) {
    const json = path.join(WORK, `hf-${process.hrtime.bigint()}.json`);
    const hf = [HYPERFINE, '-N', '-i', '--style', 'none', '--runs', String(runs), '--export-json', json];
    if (warmup > 0) hf.push('--warmup', String(warmup));
    hf.push(shellQuote(argv));
    const r = await run(hf, { capture: true, timeoutMs: TIMEOUT_MS * (runs + warmup) });
    if (r.error || r.code !== 0) return { fail: ['hyperfine failed:', ...describeFailure(r)] };
    let res;
    try {
      res = JSON.parse(fs.readFileSync(json, 'utf8')).results[0];
    } catch (e) {
      return { fail: [`cannot read hyperfine's JSON: ${e.message}`] };
    } finally {
      fs.rmSync(json, { force: true });
    }
    const bad = (res.exit_codes || []).find((c) => c !== 0);
    if (bad !== undefined) return { fail: [`exit status ${bad} in a timed run`], rerun: true };
    return { times: res.times.map((s) => s * 1000) };
  }
  for (let i = 0; i < warmup; i++) {
    const r = await run(argv, { capture: false });
    if (r.error || r.code !== 0) return { fail: ['warm-up run failed:', ...describeFailure(r)] };
  }
  const times = [];
  for (let i = 0; i < runs; i++) {
    const r = await run(argv, { capture: false });
    if (r.error || r.code !== 0) return { fail: ['timed run failed:', ...describeFailure(r)] };
    times.push(r.ms);
  }
  return { times };
}

// One validated execution: exit 0 and sane stdout, or a failure description.
async function validate(argv, expect) {
  if (opts.verbose) console.error(`  $ ${shellQuote(argv)}`);
  const r = await run(argv, { capture: true });
  if (r.error || r.code !== 0 || r.signal) return { fail: describeFailure(r) };
  const verdict = expect(r.stdout);
  if (verdict !== true) return { fail: [`bad output: ${verdict}`, ...firstLines(r.stderr)] };
  return { ok: true, stderr: r.stderr };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

function rotate(arr, k) {
  const n = arr.length;
  if (n === 0) return arr;
  k %= n;
  return [...arr.slice(k), ...arr.slice(0, k)];
}

// cells[workloadId][runnerId] = { samples: [...], fail?: [...], notes: [...] }
async function measureWorkload(wl, runners, cells) {
  const row = (cells[wl.id] = {});
  const active = [];
  for (const r of runners) {
    const cell = (row[r.id] = { samples: [], notes: [] });
    if (r.status !== 'ok') {
      cell.skipped = r.status;
      continue;
    }
    if (wl.unavailable) {
      cell.fail = [wl.unavailable];
      continue;
    }
    const argv = [...r.argvPrefix, ...wl.argv];
    if (wl.op) {
      active.push({ r, argv, cell });
      continue;
    }
    // Validate (also the warm-up run): exit 0 and the expected output; then
    // the stronger untimed check where the workload has one.
    const v = await validate(argv, wl.expect);
    if (v.fail) {
      cell.fail = v.fail;
      continue;
    }
    if (v.stderr.trim()) cell.notes.push(`stderr: ${firstLines(v.stderr, 1)[0]}`);
    if (wl.check) {
      const c = await validate([...r.argvPrefix, ...wl.check.argv], wl.check.expect);
      if (c.fail) {
        cell.fail = [`check failed: ${c.fail[0]}`, ...c.fail.slice(1)];
        continue;
      }
    }
    active.push({ r, argv, cell });
  }
  cleanHostTmp();

  const rounds = opts.schedule === 'roundrobin' ? RUNS : 1;
  const perRound = opts.schedule === 'roundrobin' ? 1 : RUNS;
  for (let round = 0; round < rounds; round++) {
    if (process.stderr.isTTY) process.stderr.write(`\r  ${wl.id}: round ${round + 1}/${rounds}   `);
    for (const a of rotate(active, round)) {
      if (a.cell.fail) continue;
      if (wl.op) {
        for (let i = 0; i < perRound; i++) {
          const r = await run(a.argv, { capture: true });
          const parsed = !r.error && r.code === 0 ? wl.parse(r.stdout) : null;
          if (!parsed) {
            a.cell.fail = r.code === 0 ? ['bad output:', ...firstLines(r.stdout, 2), ...firstLines(r.stderr)] : describeFailure(r);
            break;
          }
          a.cell.samples.push(parsed.usPerOp);
          a.cell.wall = (a.cell.wall || []).concat(r.ms);
        }
      } else {
        // blocked: hyperfine's own warm-up on top of the validation run.
        const t = await timeRuns(a.argv, perRound, opts.schedule === 'blocked' ? 1 : 0);
        if (t.fail) {
          a.cell.fail = t.fail;
          if (t.rerun) {
            const again = await run(a.argv, { capture: true });
            a.cell.fail.push(...(again.code === 0 ? ['(a rerun succeeded: the failure is intermittent)'] : describeFailure(again)));
          }
        } else a.cell.samples.push(...t.times);
      }
    }
    cleanHostTmp();
  }
  if (process.stderr.isTTY) process.stderr.write('\r' + ' '.repeat(40) + '\r');
  for (const r of runners) {
    const c = row[r.id];
    if (c.fail) c.samples = [];
    c.median = c.samples.length ? median(c.samples) : NaN;
  }
}

// ----------------------------------------------------------------- output --

function fmtMs(ms) {
  if (!Number.isFinite(ms)) return '?';
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

function fmtUs(us) {
  if (!Number.isFinite(us)) return '?';
  if (us >= 10000) return `${(us / 1000).toFixed(1)} ms`;
  if (us >= 1000) return `${(us / 1000).toFixed(2)} ms`;
  if (us >= 100) return `${us.toFixed(0)} µs`;
  if (us >= 10) return `${us.toFixed(1)} µs`;
  if (us >= 1) return `${us.toFixed(2)} µs`;
  return `${us.toFixed(3)} µs`;
}

function fmtRatio(x) {
  if (!Number.isFinite(x)) return '?';
  if (x >= 100) return `${x.toFixed(0)}x`;
  if (x >= 10) return `${x.toFixed(1)}x`;
  if (x >= 0.1) return `${x.toFixed(2)}x`;
  return `${x.toPrecision(2)}x`;
}

function cellText(cell, base, fmt, isNative) {
  if (cell.skipped) return cell.skipped === 'absent' ? 'absent' : 'FAILED (smoke)';
  if (cell.fail) {
    const [head, detail] = cell.fail;
    const text = detail ? `FAILED (${head.slice(0, 40)}): ${detail}` : `FAILED: ${head}`;
    return (text.length > 90 ? text.slice(0, 89) + '…' : text).replace(/\|/g, '\\|').replace(/`/g, "'");
  }
  const v = fmt(cell.median);
  if (isNative || !Number.isFinite(base)) return v;
  return `${v} (${fmtRatio(cell.median / base)})`;
}

function table(rows, runners, cells, fmt, firstHeader) {
  const both = runners.some((r) => r.id === 'tsvisor') && runners.some((r) => r.id === 'runsc');
  const head = [firstHeader, ...runners.map((r) => r.label)];
  if (both) head.push('tsvisor ÷ runsc');
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const wl of rows) {
    const row = cells[wl.id];
    const base = row.native && !row.native.fail ? row.native.median : NaN;
    const cols = [wl.title, ...runners.map((r) => cellText(row[r.id], base, fmt, r.id === 'native'))];
    if (both) {
      const t = row.tsvisor;
      const g = row.runsc;
      cols.push(t && g && !t.fail && !g.fail && !t.skipped && !g.skipped ? fmtRatio(t.median / g.median) : '-');
    }
    lines.push(`| ${cols.join(' | ')} |`);
  }
  return lines.join('\n');
}

function report(runners, workloads, cells, meta, { runnerList = true } = {}) {
  const out = [];
  const wall = workloads.filter((w) => !w.op);
  const ops = workloads.filter((w) => w.op);
  if (wall.length) {
    out.push(`Wall time per command, median of ${RUNS} (ratio to native from this run):`, '');
    out.push(table(wall, runners, cells, fmtMs, 'workload'), '');
  }
  if (ops.length) {
    out.push(`Per operation inside the sandbox (static C loop, median of ${RUNS} runs of ~${OP_BUDGET_MS} ms each):`, '');
    out.push(table(ops, runners, cells, fmtUs, 'operation'), '');
  }
  const rlines = runners.map((r) => `- ${r.label}: ${r.ver || '-'}${r.status === 'ok' ? '' : ` — **${r.status === 'absent' ? 'skipped' : 'FAILED'}**: ${r.why}`}`);
  if (runnerList) out.push('Runners:', '', ...rlines, '');
  const problems = [];
  for (const wl of workloads) {
    for (const r of runners) {
      const c = cells[wl.id][r.id];
      if (c.fail) problems.push(`- ${wl.id} / ${r.label}: FAILED\n${c.fail.map((l) => `      ${l}`).join('\n')}`);
      for (const n of c.notes) problems.push(`- ${wl.id} / ${r.label}: ${n}`);
    }
  }
  const tmpNote = hostTmpNote(runners, workloads, cells);
  if (tmpNote) problems.push(`- ${tmpNote}`);
  if (problems.length) out.push('Failures and notes:', '', ...problems, '');
  if (meta) out.push(meta);
  return out.join('\n');
}

// The file system that holds `dir` on the host, from /proc/self/mountinfo.
function fsTypeOf(dir) {
  let best = null;
  try {
    for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const [left, right] = line.split(' - ');
      if (!right) continue;
      const mnt = left.split(' ')[4].replace(/\\040/g, ' ');
      const inside = mnt === '/' || dir === mnt || dir.startsWith(mnt + '/');
      if (inside && (!best || mnt.length >= best.mnt.length)) best = { mnt, type: right.split(' ')[0] };
    }
  } catch {}
  return best ? best.type : '?';
}

function hostTmpNote(runners, workloads, cells) {
  const type = fsTypeOf('/tmp');
  if (type === 'tmpfs') return null;
  const rows = workloads.filter((w) => w.id === 'tar-x' || w.id === 'gcc');
  if (!rows.length) return null;
  const onHost = runners.filter((r) => ['native', 'proot'].includes(r.id)).map((r) => r.label);
  const inMem = runners.filter((r) => ['tsvisor', 'runsc', 'bwrap'].includes(r.id)).map((r) => r.label);
  let note =
    `host /tmp is ${type}, not tmpfs: ${rows.map((w) => w.id).join(' and ')} write to disk under ${onHost.join(' and ')}, ` +
    `but to memory under ${inMem.join(', ')} (overlay or tmpfs /tmp), so their ratios to native mix storage costs; ` +
    `bwrap (same memory-backed /tmp, no interposition) is the like-for-like baseline there.`;
  const ok = (c) => c && !c.fail && !c.skipped && Number.isFinite(c.median);
  const rel = [];
  for (const w of rows) {
    const b = cells[w.id] && cells[w.id].bwrap;
    if (!ok(b)) continue;
    const parts = runners
      .filter((r) => ['tsvisor', 'runsc', 'proot'].includes(r.id) && ok(cells[w.id][r.id]))
      .map((r) => `${r.label} ${fmtRatio(cells[w.id][r.id].median / b.median)}`);
    if (parts.length) rel.push(`${w.id}: ${parts.join(', ')}`);
  }
  if (rel.length) note += ` Ratios to bwrap: ${rel.join('; ')}.`;
  return note;
}

function hostInfo() {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    kernel: `${os.type()} ${os.release()} ${os.machine ? os.machine() : os.arch()}`,
    cpus: `${cpus.length} × ${cpus[0] ? cpus[0].model.trim() : '?'}`,
    loadavg: os.loadavg().map((x) => x.toFixed(2)).join(' '),
    tools: [
      `node ${process.version}`,
      `python3 ${(quietOutput([PY, '--version']) || '?').replace(/^Python /, '')}`,
      `gcc ${quietOutput(['gcc', '-dumpfullversion']) || '?'}`,
      HYPERFINE ? quietOutput([HYPERFINE, '--version']) || 'hyperfine ?' : 'process.hrtime (no hyperfine)',
    ].join(', '),
  };
}

// ------------------------------------------------------------------- main --

async function main() {
  if (process.platform !== 'linux') die('Linux only');
  HYPERFINE = opts['no-hyperfine'] ? null : which('hyperfine');

  const runners = selectRunners();
  const info0 = hostInfo();
  console.error(`bench: ${info0.kernel}, ${info0.cpus}, load ${info0.loadavg}; ${RUNS} runs, ${opts.schedule}, timer: ${HYPERFINE ? 'hyperfine' : 'process.hrtime'}`);

  const work = prepareWork();
  const workloads = selectWorkloads(defineWorkloads(work));
  if (!workloads.length) die('no workload selected');

  for (const r of runners) {
    await probeRunner(r);
    console.error(`bench: ${r.label}: ${r.status === 'ok' ? 'ok' : `${r.status === 'absent' ? 'skipped' : 'FAILED'} (${r.why})`}`);
  }

  const cells = {};
  const t0 = Date.now();
  for (const wl of workloads) {
    await measureWorkload(wl, runners, cells);
    const base = cells[wl.id].native;
    const summary = runners
      .map((r) => {
        const c = cells[wl.id][r.id];
        if (c.skipped) return null;
        if (c.fail) return `${r.label} FAILED`;
        const v = wl.op ? fmtUs(c.median) : fmtMs(c.median);
        return r.id === 'native' || !base || base.fail ? `${r.label} ${v}` : `${r.label} ${v} (${fmtRatio(c.median / base.median)})`;
      })
      .filter(Boolean)
      .join(', ');
    console.error(`bench: ${wl.id}: ${summary}`);
  }
  const info = hostInfo();
  const meta =
    `Host: ${info.kernel}; ${info.cpus}; load average ${info0.loadavg} at start, ${info.loadavg} at end; ` +
    `${RUNS} runs per cell, ${opts.schedule === 'roundrobin' ? 'round-robin across runners' : 'blocked per runner'}, ` +
    `${((Date.now() - t0) / 1000).toFixed(0)} s. Tools: ${info.tools}.`;

  const text = report(runners, workloads, cells, meta);
  console.log(text);

  if (opts.json) {
    const dump = {
      info: { ...info, loadavgStart: info0.loadavg, runs: RUNS, schedule: opts.schedule, opBudgetMs: OP_BUDGET_MS },
      runners: runners.map(({ id, label, status, why, ver, argvPrefix }) => ({ id, label, status, why, version: ver, argvPrefix })),
      workloads: workloads.map((w) => ({ id: w.id, title: w.title, argv: w.argv, unit: w.op ? 'us/op' : 'ms', cells: cells[w.id] })),
    };
    fs.writeFileSync(opts.json, JSON.stringify(dump, null, 2) + '\n');
  }

  if (opts.record) {
    const file = path.resolve(opts.results);
    let prefix = '';
    if (!fs.existsSync(file)) {
      prefix =
        '# tsvisor benchmark results\n\n' +
        'Appended by `node bench/run.mjs --record`; each section is one run, newest last. ' +
        'Compare ratios within a section, not milliseconds across sections (see bench/README.md).\n';
    }
    const section = [
      '',
      `## ${info.date.replace('T', ' ').replace('Z', ' UTC')}`,
      '',
      `- kernel: ${info.kernel}`,
      `- CPUs: ${info.cpus}; load average ${info0.loadavg} at start, ${info.loadavg} at end`,
      `- host /tmp: ${fsTypeOf('/tmp')}`,
      `- runners: ${runners.map((r) => `${r.label} ${r.ver || '-'}${r.status === 'ok' ? '' : ` (${r.status === 'absent' ? 'skipped' : 'FAILED'})`}`).join('; ')}`,
      `- method: ${RUNS} runs per cell, ${opts.schedule}, ${info.tools}`,
      '',
      report(runners, workloads, cells, '', { runnerList: false }).trimEnd(),
      '',
    ].join('\n');
    fs.appendFileSync(file, prefix + section);
    console.error(`bench: appended a section to ${path.relative(process.cwd(), file) || file}`);
  }
}

try {
  await main();
} finally {
  cleanup();
}
