#!/usr/bin/env node
// Container start-up through every front end, in one run: bench/containers.mjs
// (OCI `run` and `docker run --rm true`, docker stop/restart; runc, runsc,
// tsvisor), then bench/cri.mjs (CRI pods; runc, runsc, tsvisor through the runc
// shim, tsvisor's own shim), with the same --runs, one after the other, so
// that both tables come from the same machine state. Run it as root, under
// the daemons lock (both start daemons):
//
//   flock /tmp/tsvisor-daemons.lock node bench/startup.mjs [--runs N] [--record]

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchOptions, numberOption } from './args.mjs';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const opts = benchOptions('usage: node bench/startup.mjs [--runs N] [--record] [--results FILE]', {
  runs: { type: 'string', default: '10' },
  record: { type: 'boolean', default: false },
  results: { type: 'string', default: path.join(BENCH_DIR, 'RESULTS.md') },
});
numberOption(opts, 'runs', 1);
const common = ['--runs', opts.runs, '--results', opts.results, ...(opts.record ? ['--record'] : [])];
let failed = false;
for (const script of ['containers.mjs', 'cri.mjs']) {
  console.error(`== bench/${script}`);
  const r = spawnSync(process.execPath, [path.join(BENCH_DIR, script), ...common], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`bench/${script} exited ${r.status ?? r.signal}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
