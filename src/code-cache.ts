// V8 code caches for tsvisor's bundled CommonJS files. Every container step
// is a fresh Node process, and compiling the bundle took ~20 ms of the
// sandbox process's ~85 ms of CPU before `create` answered (docs/design.md,
// "Start-up of an OCI container"). Node 20 has no compile cache of its own
// for CommonJS, so the files under dist/bundle are compiled here, through
// vm.Script with the cache scripts/bundle.mjs made next to each file
// (FILE.cache). A cache is used only when it is a regular file owned by the
// source's owner, writable by no one else, and not older than the source;
// V8 itself rejects one made by another V8 or with other flags, or for a
// source of another length. Anything amiss compiles the source as if there
// were no cache. The CLI's entry point loads this first; the Gofer does not
// (its few small files cost as much to load from a cache as to compile).
//
// The build trains the caches: it runs one container with a preload
// (scripts/code-cache-training.cjs) that sets TRAINING on the global object;
// each file compiled then gets, at the process's exit, a cache that holds
// every function the container's start-up compiled, not only the top level.
import fs from 'node:fs';
import Module from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { BUNDLE_DIR } from './paths.js';

export const CODE_CACHE_SUFFIX = '.cache';

/** The global flag the build's training preload sets (scripts/code-cache-training.cjs spells the same key). */
const TRAINING = Symbol.for('tsvisor.codeCacheTraining');

/** Node's CommonJS loader, as much of it as this file replaces (not in @types/node). */
interface LoaderModule {
  exports: unknown;
  _compile(content: string, filename: string, format?: string): unknown;
}

/** The cache made for `filename`, or undefined when there is none fit to use. */
export function readCodeCache(filename: string): Buffer | undefined {
  let fd;
  try {
    fd = fs.openSync(filename + CODE_CACHE_SUFFIX, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const cache = fs.fstatSync(fd, { bigint: true });
    const source = fs.statSync(filename, { bigint: true });
    if (!cache.isFile() || cache.uid !== source.uid || (cache.mode & 0o022n) !== 0n || cache.mtimeNs < source.mtimeNs) return undefined;
    return fs.readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** A CommonJS file's source compiled as its module wrapper, the way the loader below and the build's caches both compile it. */
export function compileCommonJs(content: string, filename: string, cachedData?: Buffer): vm.Script {
  return new vm.Script(Module.wrap(content), {
    filename,
    cachedData,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
}

/** Writes a script's cache for `filename`: root's file when root builds, readable by all, writable by its owner only. */
export function writeCodeCache(filename: string, script: vm.Script): void {
  const file = filename + CODE_CACHE_SUFFIX;
  const tmp = `${file}.${process.pid}`;
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    fs.fchmodSync(fd, 0o644);
    fs.writeSync(fd, script.createCachedData());
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/** Has Node's loader compile the files under `dir` with their caches (and, when training, write theirs at exit). */
function install(dir: string): void {
  const proto = (Module as unknown as { prototype: LoaderModule }).prototype;
  const original = proto._compile;
  const training = (globalThis as Record<symbol, unknown>)[TRAINING] === true;
  const trained: [string, vm.Script][] = [];
  if (training) {
    process.on('exit', () => {
      for (const [filename, script] of trained) writeCodeCache(filename, script);
    });
  }
  proto._compile = function (this: LoaderModule, content: string, filename: string, format?: string) {
    if (format === 'module' || !filename.startsWith(dir)) return original.call(this, content, filename, format);
    const script = compileCommonJs(content, filename, training ? undefined : readCodeCache(filename));
    if (training) trained.push([filename, script]);
    const wrapper = script.runInThisContext() as (...args: unknown[]) => unknown;
    return wrapper.call(this.exports, this.exports, Module.createRequire(filename), this, filename, path.dirname(filename));
  };
}

// Only where tsvisor runs from its bundle (not from tsc's output, nor under the test runner).
if (fileURLToPath(import.meta.url).startsWith(BUNDLE_DIR + path.sep)) install(BUNDLE_DIR + path.sep);
