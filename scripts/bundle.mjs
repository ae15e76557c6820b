#!/usr/bin/env node
// Bundles tsc's output (dist/src) into dist/bundle: the command-line entry
// point (tsvisor.cjs, with a chunk per command, loaded when the command runs),
// the Gofer (gofer.cjs) and the containerd shim (shim.cjs, run by
// bin/containerd-shim-tsvisor-v2). Every tsvisor command, the sandbox process and the
// Gofer are short-lived Node processes on a container's start-up path; loading
// a few files instead of some seventy module files saves about half of the
// module-loading time, and CommonJS spares Node's ES module loader (~15 ms a
// process; docs/design.md, "Start-up"). The native addon and pino stay
// outside: they are required at run time.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist/bundle');
fs.rmSync(out, { recursive: true, force: true });
await build({
  input: {
    tsvisor: path.join(root, 'dist/src/cli/entry.js'),
    gofer: path.join(root, 'dist/src/gofer/main.js'),
    shim: path.join(root, 'dist/src/shim/main.js'),
  },
  platform: 'node',
  external: ['pino'],
  logLevel: 'warn',
  output: { dir: out, format: 'cjs', entryFileNames: '[name].cjs', chunkFileNames: 'chunks/[name]-[hash].cjs' },
});
