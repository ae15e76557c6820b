#!/usr/bin/env node
// Container start-up: tsvisor against runc and runsc as OCI runtimes, in the
// same run.  Two measurements (see bench/README.md):
//
//   first-instruction  `RUNTIME run --bundle B ID` of a busybox bundle whose
//                      process is a static program that writes one byte first
//                      thing: time from the command's start to that byte
//                      (create + start + exec), and to the end of `run`
//                      (including the container's deletion);
//   docker-run         `docker run --rm local/busybox true` wall time, through
//                      a private dockerd with the three runtimes registered;
//   docker-stop        `docker stop` of a container that exits on SIGTERM,
//                      `docker stop -t 1` of one that ignores it (pid 1
//                      without a handler: SIGKILL after 1 s) and `docker
//                      restart -t 1` of the first, through the same dockerd.
//   --trace            the docker measurements through a wrapper per runtime
//                      that logs each call containerd's shim makes (bash, one
//                      exec more per call for every runtime): per call, when
//                      it starts after the docker command and how long it takes.
//
//   node bench/containers.mjs [--runs N] [--only runc,runsc,tsvisor] [--no-docker] [--trace] [--record]

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchOptions, die, numberOption, requireRoot } from './args.mjs';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_DIR = path.dirname(BENCH_DIR);
const TSVISOR = path.join(REPO_DIR, 'bin/tsvisor');
const TSVISOR_RUNSC = path.join(REPO_DIR, 'runsc-compat/runsc');
/** runsc 20221219 here: only the ptrace platform works and its default networking fails (../shared/reference/peers.md). */
const RUNSC_ARGS = ['--platform=ptrace', '--network=none'];

const opts = benchOptions('usage: node bench/containers.mjs [--runs N] [--only runc,runsc,tsvisor] [--no-docker] [--trace] [--record] [--results FILE]', {
  runs: { type: 'string', default: '10' },
  only: { type: 'string', default: 'runc,runsc,tsvisor' },
  'no-docker': { type: 'boolean', default: false },
  trace: { type: 'boolean', default: false },
  record: { type: 'boolean', default: false },
  results: { type: 'string', default: path.join(BENCH_DIR, 'RESULTS.md') },
});
const RUNS = numberOption(opts, 'runs', 1);
requireRoot('the runtimes and dockerd need it');

const ENV = { PATH: `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${path.dirname(process.execPath)}`, HOME: '/root', LANG: 'C' };
const WORK = fs.mkdtempSync('/var/tmp/tsv-cb-');
// The work directory goes however the script ends (docker's own clean-up unmounts first, below).
process.on('exit', () => fs.rmSync(WORK, { recursive: true, force: true }));

function sh(argv, input) {
  const r = spawnSync(argv[0], argv.slice(1), { env: ENV, encoding: 'utf8', input, maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function which(name) {
  for (const d of ENV.PATH.split(':')) if (fs.existsSync(path.join(d, name))) return path.join(d, name);
  return null;
}

const RUNTIMES = {
  runc: { argv: (root) => ['runc', '--root', root], available: () => which('runc') },
  runsc: { argv: (root) => ['runsc', '--root', root, ...RUNSC_ARGS], available: () => which('runsc') },
  tsvisor: { argv: (root) => [TSVISOR, '--root', root], available: () => fs.existsSync(TSVISOR) },
};
const selected = opts.only.split(',').filter((n) => {
  if (!RUNTIMES[n]) die(`unknown runtime ${n}`);
  if (!RUNTIMES[n].available()) {
    console.error(`${n}: not installed, skipped`);
    return false;
  }
  return true;
});

// ---- the bundle -------------------------------------------------------------

function busyboxRoot(dir) {
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'root']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  fs.chmodSync(path.join(dir, 'tmp'), 0o1777);
  fs.copyFileSync('/bin/busybox', path.join(dir, 'bin/busybox'));
  fs.chmodSync(path.join(dir, 'bin/busybox'), 0o755);
  for (const a of sh(['/bin/busybox', '--list']).split('\n').filter(Boolean)) {
    if (a !== 'busybox') fs.symlinkSync('busybox', path.join(dir, 'bin', a));
  }
  fs.writeFileSync(path.join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  fs.writeFileSync(path.join(dir, 'etc/group'), 'root:x:0:\n');
}

const rootfs = path.join(WORK, 'rootfs');
busyboxRoot(rootfs);
fs.writeFileSync(path.join(WORK, 'first.c'), '#include <unistd.h>\nint main(void) { write(1, "!", 1); return 0; }\n');
sh(['gcc', '-O2', '-static', '-o', path.join(rootfs, 'first'), path.join(WORK, 'first.c')]);
const bundle = path.join(WORK, 'bundle');
fs.mkdirSync(bundle);
sh([TSVISOR, 'spec', '--bundle', bundle]);
const config = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
config.root = { path: rootfs, readonly: true };
config.process.terminal = false;
config.process.args = ['/first'];
fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(config));

// ---- timing -------------------------------------------------------------------

/** Runs argv; resolves with ms to the first stdout byte and ms to exit. */
function timed(argv) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
    const child = spawn(argv[0], argv.slice(1), { env: ENV, cwd: WORK, stdio: ['ignore', 'pipe', 'pipe'] });
    let first;
    let err = '';
    child.stdout.once('data', () => (first = ms()));
    child.stdout.resume();
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const total = ms();
      if (code !== 0) reject(new Error(`${argv.join(' ')}: exit ${code}: ${err.trim()}`));
      else resolve({ first: first ?? NaN, total });
    });
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const samples = Object.fromEntries(selected.map((n) => [n, { first: [], run: [], docker: [], stop: [], stopKill: [], restart: [] }]));
/** --trace: the runtime calls made during each timed docker command, per runtime and measurement. */
const traced = Object.fromEntries(selected.map((n) => [n, { stop: [], stopKill: [], restart: [] }]));
const TRACE_LOG = path.join(WORK, 'calls.log');
let seq = 0;

for (let round = 0; round < RUNS; round++) {
  // Rotate the order each round so no runtime always runs first.
  for (let i = 0; i < selected.length; i++) {
    const name = selected[(i + round) % selected.length];
    const root = path.join(WORK, `state-${name}`);
    const t = await timed([...RUNTIMES[name].argv(root), 'run', '--bundle', bundle, `bench${seq++}`]);
    samples[name].first.push(t.first);
    samples[name].run.push(t.total);
  }
}

// ---- docker -------------------------------------------------------------------

/** The calls a --trace wrapper logged: start and end (epoch s), status, runtime, arguments. */
function traceLog() {
  if (!fs.existsSync(TRACE_LOG)) return [];
  return fs.readFileSync(TRACE_LOG, 'utf8').split('\n').filter(Boolean).map((l) => {
    const [start, end, status, runtime, ...args] = l.split(' ');
    return { start: Number(start), end: Number(end), status: Number(status), runtime, args };
  });
}

/** timed(argv).total; with --trace, also keeps the runtime calls made meanwhile. */
async function tracedTimed(name, key, argv) {
  const t0 = Date.now() / 1000;
  const { total } = await timed(argv);
  if (opts.trace) {
    // What a call is, without its id and its paths: kill 15, delete --force, create.
    const what = (args) => args.filter((a, i) => !/^--(root|log|log-format|bundle|pid-file|console-socket)$/.test(args[i - 1] ?? '') && !/^--(root|log|log-format|bundle|pid-file)$/.test(a) && !/^[0-9a-f]{64}$/.test(a) && !RUNSC_ARGS.includes(a)).join(' ');
    traced[name][key].push(traceLog().filter((c) => c.runtime === name && c.start >= t0 && c.start <= t0 + total / 1000).map((c) => ({ what: what(c.args), at: (c.start - t0) * 1000, ms: (c.end - c.start) * 1000, status: c.status })));
  }
  return total;
}

async function dockerBench() {
  const dockerd = which('dockerd');
  if (!dockerd) return 'dockerd is not installed (Debian package docker.io)';
  const dir = path.join(WORK, 'docker');
  fs.mkdirSync(dir);
  const sock = path.join(dir, 'docker.sock');
  const runtimes = {};
  if (selected.includes('tsvisor')) runtimes.tsvisor = { path: TSVISOR_RUNSC };
  if (selected.includes('runsc')) runtimes.runsc = { path: which('runsc'), runtimeArgs: RUNSC_ARGS };
  // --trace: each runtime, runc too, registered as trace-NAME, a wrapper that logs its calls.
  const runtimeName = (name) => (opts.trace ? `trace-${name}` : name);
  if (opts.trace) {
    for (const name of selected) {
      const real = runtimes[name]?.path ?? which(name);
      const wrapper = path.join(dir, `trace-${name}`);
      fs.writeFileSync(
        wrapper,
        `#!/bin/bash\nstart=$EPOCHREALTIME\n${JSON.stringify(real)} "$@"\nrc=$?\necho "$start $EPOCHREALTIME $rc ${name} $*" >> ${JSON.stringify(TRACE_LOG)}\nexit $rc\n`,
        { mode: 0o755 },
      );
      runtimes[`trace-${name}`] = { ...runtimes[name], path: wrapper };
    }
  }
  fs.writeFileSync(path.join(dir, 'daemon.json'), JSON.stringify({ runtimes }));
  const log = fs.openSync(path.join(dir, 'dockerd.log'), 'w');
  const d = spawn(
    dockerd,
    ['--config-file', path.join(dir, 'daemon.json'), '--data-root', path.join(dir, 'data'), '--exec-root', path.join(dir, 'exec'),
      '--pidfile', path.join(dir, 'docker.pid'), '-H', `unix://${sock}`, '--bridge', 'none', '--iptables=false', '--ip-forward=false',
      '--ip-masq=false', '--storage-driver', 'overlay2'],
    { env: ENV, stdio: ['ignore', log, log], detached: true },
  );
  const client = ['docker', '-H', `unix://${sock}`];
  try {
    const deadline = Date.now() + 60000;
    while (spawnSync(client[0], [...client.slice(1), 'info'], { env: ENV }).status !== 0) {
      if (Date.now() > deadline || d.exitCode !== null) return `dockerd did not start: ${fs.readFileSync(path.join(dir, 'dockerd.log'), 'utf8').slice(-500)}`;
      await new Promise((r) => setTimeout(r, 200));
    }
    const tar = spawnSync('tar', ['-C', rootfs, '--numeric-owner', '-c', '.'], { env: ENV, maxBuffer: 256 << 20 }).stdout;
    sh([...client, 'import', '-', 'local/busybox'], tar);
    for (const name of selected) await timed([...client, 'run', '--rm', `--runtime=${runtimeName(name)}`, 'local/busybox', 'true']); // warm-up
    for (let round = 0; round < RUNS; round++) {
      for (let i = 0; i < selected.length; i++) {
        const name = selected[(i + round) % selected.length];
        samples[name].docker.push((await timed([...client, 'run', '--rm', `--runtime=${runtimeName(name)}`, 'local/busybox', 'true'])).total);
      }
    }
    // A shell that exits on SIGTERM at once (wait returns when the trap runs), and a sleep as pid 1, which ignores it.
    const trapping = ['sh', '-c', "trap 'exit 0' TERM; sleep 1000 & wait"];
    for (let round = 0; round < RUNS; round++) {
      for (let i = 0; i < selected.length; i++) {
        const name = selected[(i + round) % selected.length];
        const term = sh([...client, 'run', '-d', `--runtime=${runtimeName(name)}`, 'local/busybox', ...trapping]).trim();
        const kill = sh([...client, 'run', '-d', `--runtime=${runtimeName(name)}`, 'local/busybox', 'sleep', '1000']).trim();
        // Until both have started (docker run -d returns once they have), and the shell has set its trap.
        await new Promise((r) => setTimeout(r, 500));
        samples[name].stop.push(await tracedTimed(name, 'stop', [...client, 'stop', term]));
        samples[name].stopKill.push(await tracedTimed(name, 'stopKill', [...client, 'stop', '-t', '1', kill]));
        sh([...client, 'start', term]);
        await new Promise((r) => setTimeout(r, 500));
        samples[name].restart.push(await tracedTimed(name, 'restart', [...client, 'restart', '-t', '1', term]));
        sh([...client, 'rm', '-f', term, kill]);
      }
    }
    return null;
  } finally {
    spawnSync(client[0], [...client.slice(1), 'rm', '-f', ...sh([...client, 'ps', '-aq']).split('\n').filter(Boolean)], { env: ENV });
    d.kill('SIGTERM');
    await new Promise((r) => d.once('exit', r));
    for (const m of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m?.startsWith(dir)).reverse()) {
      spawnSync('umount', ['-l', m]);
    }
  }
}

const dockerProblem = opts['no-docker'] ? 'not measured (--no-docker)' : await dockerBench();

// ---- report -------------------------------------------------------------------

const fmt = (ms) => (Number.isNaN(ms) ? '–' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 2 : 0)} ms`);
const rows = [
  ['create → first instruction (`run`, to the first byte)', 'first'],
  ['`run` to exit, container deleted', 'run'],
  ...(dockerProblem
    ? []
    : [
        ['`docker run --rm local/busybox true`', 'docker'],
        ['`docker stop` (exits on SIGTERM)', 'stop'],
        ['`docker stop -t 1` (ignores SIGTERM: SIGKILL after 1 s)', 'stopKill'],
        ['`docker restart -t 1` (exits on SIGTERM)', 'restart'],
      ]),
];
const header = `| measurement | ${selected.join(' | ')} | ${selected.includes('tsvisor') ? selected.filter((n) => n !== 'tsvisor').map((n) => `tsvisor ÷ ${n}`).join(' | ') : ''} |`;
const lines = [header, `|---|${selected.map(() => '---:').join('|')}|${selected.filter((n) => n !== 'tsvisor').map(() => '---:').join('|')}|`];
for (const [label, key] of rows) {
  const med = Object.fromEntries(selected.map((n) => [n, median(samples[n][key])]));
  const ratios = selected.includes('tsvisor') ? selected.filter((n) => n !== 'tsvisor').map((n) => `${(med.tsvisor / med[n]).toFixed(2)}x`) : [];
  lines.push(`| ${label} | ${selected.map((n) => fmt(med[n])).join(' | ')} | ${ratios.join(' | ')} |`);
}
const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
const versions = {
  runc: () => sh(['runc', '--version']).split('\n')[0],
  runsc: () => sh(['runsc', '--version']).split('\n')[0],
  tsvisor: () => `tsvisor (git ${spawnSync('git', ['-C', REPO_DIR, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim()})`,
};
/** --trace: per runtime and measurement, each call (by its place in the sequence) with median start and duration. */
function traceLines() {
  const out = ['', '| runtime | measurement | call: starts after the docker command (median) +takes (median), ms |', '|---|---|---|'];
  for (const name of selected) {
    for (const [key, label] of [['stop', '`docker stop`'], ['stopKill', '`docker stop -t 1`'], ['restart', '`docker restart -t 1`']]) {
      const runs = traced[name][key];
      const calls = (runs[0] ?? []).map((c, i) => {
        const same = runs.map((r) => r[i]).filter((x) => x && x.what === c.what);
        const failed = same.filter((x) => x.status !== 0).length;
        return `${c.what} ${fmt(median(same.map((x) => x.at)))} +${fmt(median(same.map((x) => x.ms)))}${failed ? ` (${failed} failed)` : ''}`;
      });
      out.push(`| ${name} | ${label} | ${calls.join('; ')} |`);
    }
  }
  return out;
}
const report = [
  `## ${new Date().toISOString().replace('T', ' ').slice(0, 19)} UTC: container start-up`,
  '',
  `- kernel: ${os.release()}; ${os.cpus().length} CPUs; load average ${load} at the end`,
  `- runtimes: ${selected.map((n) => versions[n]()).join('; ')}; runsc with ${RUNSC_ARGS.join(' ')}`,
  `- method: \`node bench/containers.mjs --runs ${RUNS}\`, median of ${RUNS} per cell, runtimes in rotating order each round; a busybox bundle whose process is a static program that writes one byte first`,
  ...(dockerProblem ? [`- docker: ${dockerProblem}`] : ['- docker: a private dockerd (20.10) started by the script, the three runtimes registered, one warm-up run each']),
  ...(opts.trace && !dockerProblem ? ['- --trace: each runtime through a bash wrapper that logs its calls (one exec more per call, for every runtime)'] : []),
  '',
  ...lines,
  ...(opts.trace && !dockerProblem ? traceLines() : []),
  '',
].join('\n');
console.log(report);
if (opts.record) fs.appendFileSync(opts.results, `\n${report}`);
