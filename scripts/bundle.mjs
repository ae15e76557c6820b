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
//
// Then the V8 code caches src/code-cache.ts loads (FILE.cache next to each
// file the CLI loads): as root, trained by one container that
// starts and ends (`run` of /bin/true on the host root, read-only); every
// file that container did not load, or all of them when it cannot run, gets
// a cache of its top level only.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
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

const { CODE_CACHE_SUFFIX, compileCommonJs, writeCodeCache } = await import(path.join(root, 'dist/src/code-cache.js'));

/** Runs a container with the training preload; says why not when it cannot. */
function train() {
  if (process.getuid() !== 0) return 'not root';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-code-cache-'));
  try {
    const cli = (...args) =>
      spawnSync(process.execPath, ['-r', path.join(root, 'scripts/code-cache-training.cjs'), path.join(out, 'tsvisor.cjs'), ...args], {
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
        encoding: 'utf8',
        timeout: 60000,
      });
    const spec = spawnSync(process.execPath, [path.join(out, 'tsvisor.cjs'), 'spec', '--bundle', dir], { encoding: 'utf8' });
    if (spec.status !== 0) return `tsvisor spec: ${spec.stderr.trim()}`;
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    config.root = { path: '/', readonly: true };
    config.process.terminal = false;
    config.process.args = ['/bin/true'];
    // A seccomp profile as container clients give one (Docker's: deny by default, a list of names allowed).
    const names = Object.keys(JSON.parse(fs.readFileSync(path.join(root, 'syscall-tables/numbers.json'), 'utf8')));
    config.linux.seccomp = { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ names, action: 'SCMP_ACT_ALLOW' }] };
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
    const r = cli('--root', path.join(dir, 'state'), 'run', '--bundle', dir, `code-cache-${process.pid}`);
    return r.status === 0 ? null : `tsvisor run: ${r.error?.message ?? `exit ${r.status ?? r.signal}: ${r.stderr.trim()}`}`;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const untrained = train();
if (untrained) console.warn(`scripts/bundle.mjs: code caches of the top level only (${untrained})`);
// Neither the Gofer nor the shim (one long-lived process per pod) loads through src/code-cache.ts.
const loaded = [path.join(out, 'tsvisor.cjs'), ...fs.readdirSync(path.join(out, 'chunks')).filter((f) => f.endsWith('.cjs')).map((f) => path.join(out, 'chunks', f))];
for (const file of loaded) {
  if (!fs.existsSync(file + CODE_CACHE_SUFFIX)) writeCodeCache(file, compileCommonJs(fs.readFileSync(file, 'utf8'), file));
}
