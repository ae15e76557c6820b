#!/usr/bin/env node
// CRI start-up: a Kubernetes-style pod through containerd's CRI plugin,
// driven as kubelet drives it, with each runtime handler in the same run:
//
//   runc          containerd's runc shim with runc;
//   runsc         containerd's runc shim with runsc as its BinaryName, through
//                 bench/runsc-cri.sh (runsc --platform=ptrace --network=host);
//   tsvisor       containerd's runc shim with tsvisor as its BinaryName;
//   tsvisor-shim  tsvisor's own shim, containerd-shim-tsvisor-v2.
//
// Debian's runsc package (20221219) ships no containerd-shim-runsc-v1, so
// runsc goes through the runc shim; bench/runsc-cri.sh says what it makes up
// for there (a pod's further containers' stdio, exit and kill errors).
//
// Each round makes a pod per handler and measures
//   start-up   RunPodSandbox + CreateContainer + StartContainer until the
//              container's first output line is in its CRI log file;
//   second     CreateContainer + StartContainer of a second container in the
//              same pod, to its first output (what a pod's further
//              containers cost once its shim and sandbox run);
//   exec       ExecSync of `true` in the first container (median of 5);
//   teardown   StopContainer (SIGKILL) and RemoveContainer of both, then
//              StopPodSandbox and RemovePodSandbox.
// Medians of --runs rounds, handlers in rotating order each round.
//
// It reuses the CRI end-to-end test's set-up (test/e2e/cri-helpers.ts: a
// private containerd, a CNI bridge, the busybox and pause images), bundled
// for Node with rolldown, and the repository's @grpc/grpc-js: run it from a
// checkout with its dev dependencies, as root, under the daemons lock.
//
//   flock /tmp/tsvisor-daemons.lock node bench/cri.mjs [--runs N] [--only runc,runsc,tsvisor,tsvisor-shim] [--runsc-debug DIR] [--record]

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'rolldown';
import { benchOptions, die, numberOption, requireRoot } from './args.mjs';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_DIR = path.dirname(BENCH_DIR);
const ALL = ['runc', 'runsc', 'tsvisor', 'tsvisor-shim'];

const opts = benchOptions(`usage: node bench/cri.mjs [--runs N] [--only ${ALL.join(',')}] [--runsc-debug DIR] [--record] [--results FILE]`, {
  runs: { type: 'string', default: '10' },
  only: { type: 'string', default: ALL.join(',') },
  record: { type: 'boolean', default: false },
  'runsc-debug': { type: 'string' },
  results: { type: 'string', default: path.join(BENCH_DIR, 'RESULTS.md') },
});
const RUNS = numberOption(opts, 'runs', 1);
requireRoot('containerd and the runtimes need it');
const handlers = opts.only.split(',');
for (const h of handlers) if (!ALL.includes(h)) die(`unknown handler ${h}`);

// The test's helpers, bundled next to node_modules (so that @grpc resolves
// and harness.ts finds the repository two directories up).
const cacheDir = path.join(REPO_DIR, 'node_modules/.tsvisor-bench');
await build({
  input: path.join(REPO_DIR, 'test/e2e/cri-helpers.ts'),
  platform: 'node',
  external: [/^node:/, 'vitest', /^@grpc\//],
  logLevel: 'warn',
  output: { dir: cacheDir, format: 'esm', entryFileNames: 'cri-helpers.mjs' },
});
const { CRI_IMAGE, startCri, stopCri } = await import(pathToFileURL(path.join(cacheDir, 'cri-helpers.mjs')).href);

const work = fs.mkdtempSync('/var/tmp/tsv-cri-bench-');

const NAMESPACES = { network: 'POD', pid: 'CONTAINER', ipc: 'POD' };
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits until `file` has a line with `text`. */
async function logged(file, text, h) {
  const deadline = Date.now() + 60000;
  while (!(fs.existsSync(file) && fs.readFileSync(file, 'utf8').includes(text))) {
    if (Date.now() > deadline) throw new Error(`${h}: no output in ${file} after 60 s`);
    await sleep(1);
  }
}

/** One pod with two containers that print a line: the times of its start-up, second container, exec and teardown. */
async function round(cri, h, n) {
  const logDir = path.join(work, 'logs', `${h}-${n}`);
  fs.mkdirSync(logDir, { recursive: true });
  const config = {
    metadata: { name: `bench-${h}-${n}`, uid: `uid-bench-${h}-${n}`, namespace: 'tsvisor-bench', attempt: 0 },
    hostname: 'bench',
    log_directory: logDir,
    linux: { security_context: { namespace_options: NAMESPACES } },
  };
  const container = (name, command) => ({
    metadata: { name, attempt: 0 },
    image: { image: CRI_IMAGE },
    command,
    log_path: `${name}.log`,
    linux: { security_context: { namespace_options: NAMESPACES } },
  });
  const t0 = performance.now();
  const { pod_sandbox_id: pod } = await cri.rt.RunPodSandbox({ config, runtime_handler: h });
  const first = await cri.rt.CreateContainer({ pod_sandbox_id: pod, config: container('first', ['sh', '-c', 'echo first-output; exec sleep 1000']), sandbox_config: config });
  await cri.rt.StartContainer({ container_id: first.container_id });
  await logged(path.join(logDir, 'first.log'), 'first-output', h);
  const startup = performance.now() - t0;
  const t1 = performance.now();
  const second = await cri.rt.CreateContainer({ pod_sandbox_id: pod, config: container('second', ['echo', 'second-output']), sandbox_config: config });
  await cri.rt.StartContainer({ container_id: second.container_id });
  await logged(path.join(logDir, 'second.log'), 'second-output', h);
  const secondMs = performance.now() - t1;
  // Untimed: the runtime must report the second container's exit, with echo's status.
  for (const deadline = Date.now() + 60000; ; await sleep(10)) {
    const { status } = await cri.rt.ContainerStatus({ container_id: second.container_id });
    if (status.state === 'CONTAINER_EXITED') {
      if (status.exit_code !== 0) throw new Error(`${h}: the second container exited ${status.exit_code}, not 0`);
      break;
    }
    if (Date.now() > deadline) throw new Error(`${h}: the second container's exit not reported after 60 s (state ${status.state})`);
  }
  const execs = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    const r = await cri.rt.ExecSync({ container_id: first.container_id, cmd: ['true'], timeout: 60 });
    if (r.exit_code !== 0) throw new Error(`${h}: exec true exited ${r.exit_code}`);
    execs.push(performance.now() - t);
  }
  const t2 = performance.now();
  for (const { container_id } of [first, second]) {
    await cri.rt.StopContainer({ container_id, timeout: 0 });
    await cri.rt.RemoveContainer({ container_id });
  }
  await cri.rt.StopPodSandbox({ pod_sandbox_id: pod });
  await cri.rt.RemovePodSandbox({ pod_sandbox_id: pod });
  return { startup, second: secondMs, exec: median(execs), teardown: performance.now() - t2 };
}

/**
 * runsc 20221219 here: only the ptrace platform exists and works (kvm hangs on
 * this VM). Its own network stack (--network=sandbox) refuses every pod: it
 * takes a namespace with /proc/sys/net/core/rmem_default for the host's, and
 * every network namespace has that file since Linux made the setting per
 * namespace (commit 19249c0724f2; gVisor's test changed in release-20240807).
 * --network=host runs the sandbox in the pod's network namespace, set up by
 * the CNI plugin as for the other handlers, and passes the pod's socket calls
 * to it.
 */
const RUNSC_FLAGS = ['--platform=ptrace', '--network=host'];
/**
 * runsc through containerd's runc shim: BinaryName takes no arguments, so a
 * wrapper in the private directory adds runsc's flags and runs
 * bench/runsc-cri.sh, which makes up for what the runc shim expects of runc.
 */
function runscRuntime(tmp) {
  const wrapper = path.join(tmp, 'runsc-cri');
  const debug = opts['runsc-debug'] ? ['--debug', `--debug-log=${path.resolve(opts['runsc-debug'])}/`] : [];
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec ${path.join(BENCH_DIR, 'runsc-cri.sh')} ${[...RUNSC_FLAGS, ...debug].join(' ')} "$@"\n`, { mode: 0o755 });
  const q = JSON.stringify;
  return [
    '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc]',
    '  runtime_type = "io.containerd.runc.v2"',
    '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc.options]',
    `  BinaryName = ${q(wrapper)}`,
    `  Root = ${q(path.join(tmp, 'runtime-root/runsc'))}`,
  ];
}

const cri = await startCri({ runtimes: runscRuntime });
const MEASURES = ['startup', 'second', 'exec', 'teardown'];
const results = Object.fromEntries(handlers.map((h) => [h, { ...Object.fromEntries(MEASURES.map((m) => [m, []])), error: undefined }]));
try {
  // One untimed round each: the first pod of a handler pays for page-cache misses.
  for (const h of handlers) {
    try {
      await round(cri, h, 'warm');
    } catch (e) {
      results[h].error = e.message;
      console.error(`${h}: ${e.message}`);
    }
  }
  for (let i = 0; i < RUNS; i++) {
    const order = handlers.map((_, k) => handlers[(i + k) % handlers.length]);
    for (const h of order) {
      if (results[h].error) continue;
      try {
        const r = await round(cri, h, i);
        for (const m of MEASURES) results[h][m].push(r[m]);
      } catch (e) {
        results[h].error = e.message;
        console.error(`${h}: ${e.message}`);
      }
    }
  }
} finally {
  await stopCri(cri);
  fs.rmSync(work, { recursive: true, force: true });
}

const fmt = (ms) => `${Math.round(ms)} ms`;
const runc = results.runc && !results.runc.error ? results.runc : undefined;
const rows = handlers.map((h) => {
  const r = results[h];
  if (r.error) return `| ${h} | FAILED: ${r.error.replace(/\|/g, '/').slice(0, 200)} | | | |`;
  const cells = MEASURES.map((m) => {
    const v = median(r[m]);
    return `${fmt(v)}${runc ? ` (${(v / median(runc[m])).toFixed(2)}x)` : ''}`;
  });
  return `| ${h} | ${cells.join(' | ')} |`;
});
const git = spawnSync('git', ['-C', REPO_DIR, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
/** The last word of `BIN --version`'s first line. */
const version = (bin) => spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0].split(' ').pop() || 'not installed';
const containerdVersion = spawnSync('containerd', ['--version'], { encoding: 'utf8' }).stdout.trim().split(' ').slice(2).join(' ');
const table = [
  '| handler | start-up (pod + container to its first log line) | second container in the pod | exec (ExecSync `true`) | teardown (2 containers and the pod) |',
  '|---|---:|---:|---:|---:|',
  ...rows,
].join('\n');
console.log(table);
if (opts.record) {
  const section = [
    `## ${new Date().toISOString().replace('T', ' ').slice(0, 19)} UTC: CRI start-up (containerd's CRI plugin)`,
    '',
    `- kernel: ${os.release()}; ${os.cpus().length} CPUs; load average at the end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`,
    `- containerd ${containerdVersion}; runc ${version('runc')}; runsc ${version('runsc')} (${RUNSC_FLAGS.join(' ')}, through bench/runsc-cri.sh); tsvisor git ${git}`,
    `- method: \`node bench/cri.mjs --runs ${RUNS}\`: medians of ${RUNS} pods per handler (one untimed first), handlers in rotating order; a pod on the CNI bridge; busybox containers (\`sh -c 'echo; exec sleep'\`, then \`echo\`)`,
    '',
    table,
    '',
  ].join('\n');
  fs.appendFileSync(opts.results, `\n${section}`);
}
