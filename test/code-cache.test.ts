// src/code-cache.ts: which cache files are used, and that a cache V8
// rejects (or none) leaves the file compiled and run as without one; then the
// caches scripts/bundle.mjs made for dist/bundle, which this Node must accept.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { CODE_CACHE_SUFFIX, compileCommonJs, readCodeCache, writeCodeCache } from '../src/code-cache.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const BUNDLE = path.join(ROOT, 'dist/bundle');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-code-cache-test-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const SOURCE = 'module.exports = function answer(x) { return [1, 2, 3].map((n) => n * x).join(","); };\n';

/** A source file with a cache written as the build writes one; returns its path. */
function cached(name: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, SOURCE);
  writeCodeCache(file, compileCommonJs(SOURCE, file));
  return file;
}

/** Runs a compiled module wrapper as Node's loader does; returns its exports. */
function run(script: ReturnType<typeof compileCommonJs>, file: string): unknown {
  const module = { exports: {} };
  (script.runInThisContext() as (...a: unknown[]) => void).call(module.exports, module.exports, () => undefined, module, file, path.dirname(file));
  return module.exports;
}

describe('readCodeCache', () => {
  // Whether V8 accepts it is for a fresh process to say (below, "the build"): this one has the source compiled already.
  test("a cache written as the build writes it is read: the source's owner's, 0644, not older than the source", () => {
    const file = cached('fit.cjs');
    expect((fs.statSync(file + CODE_CACHE_SUFFIX).mode & 0o777).toString(8)).toBe('644');
    expect(readCodeCache(file)).toEqual(fs.readFileSync(file + CODE_CACHE_SUFFIX));
  });

  test('none: no cache file', () => {
    const file = path.join(dir, 'bare.cjs');
    fs.writeFileSync(file, SOURCE);
    expect(readCodeCache(file)).toBeUndefined();
  });

  test('not used: writable by group or others', () => {
    for (const mode of [0o664, 0o646]) {
      const file = cached(`writable-${mode.toString(8)}.cjs`);
      fs.chmodSync(file + CODE_CACHE_SUFFIX, mode);
      expect(readCodeCache(file)).toBeUndefined();
    }
  });

  test('not used: older than its source (the source changed after the build)', () => {
    const file = cached('stale.cjs');
    const past = new Date(Date.now() - 3600_000);
    fs.utimesSync(file + CODE_CACHE_SUFFIX, past, past);
    expect(readCodeCache(file)).toBeUndefined();
  });

  test('not used: a symbolic link, or a directory', () => {
    const file = cached('linked.cjs');
    const other = cached('other.cjs');
    fs.rmSync(file + CODE_CACHE_SUFFIX);
    fs.symlinkSync(other + CODE_CACHE_SUFFIX, file + CODE_CACHE_SUFFIX);
    expect(readCodeCache(file)).toBeUndefined();
    const dirFile = path.join(dir, 'dir.cjs');
    fs.writeFileSync(dirFile, SOURCE);
    fs.mkdirSync(dirFile + CODE_CACHE_SUFFIX);
    expect(readCodeCache(dirFile)).toBeUndefined();
  });

  test.runIf(process.getuid?.() === 0)("not used: owned by someone other than the source's owner", () => {
    const file = cached('owner.cjs');
    fs.chownSync(file + CODE_CACHE_SUFFIX, 4321, 4321);
    expect(readCodeCache(file)).toBeUndefined();
  });
});

describe('compileCommonJs', () => {
  test('a cache V8 rejects (garbage, or made for another source of another length) compiles the source as without one', () => {
    const file = path.join(dir, 'rejected.cjs');
    const other = 'module.exports = 1;\n';
    for (const [i, data] of [Buffer.from('not a V8 code cache at all'), compileCommonJs(other, file).createCachedData()].entries()) {
      // A source this process has not compiled yet: V8 looks in its own in-memory cache before it reads cachedData.
      const script = compileCommonJs(`${SOURCE}// ${i}\n`, file, data);
      expect(script.cachedDataRejected).toBe(true);
      expect((run(script, file) as (x: number) => string)(3)).toBe('3,6,9');
    }
  });
});

describe('the build', () => {
  const files = [path.join(BUNDLE, 'tsvisor.cjs'), ...fs.readdirSync(path.join(BUNDLE, 'chunks')).filter((f) => f.endsWith('.cjs')).map((f) => path.join(BUNDLE, 'chunks', f))];

  test('made a cache for every file the CLI loads, each accepted by the node that runs tsvisor', () => {
    // A plain node, as bin/tsvisor runs (the test runner's own flags would change V8's flag hash).
    const check = `
      import fs from 'node:fs';
      const { compileCommonJs, readCodeCache } = await import(${JSON.stringify(path.join(ROOT, 'dist/src/code-cache.js'))});
      const files = ${JSON.stringify(files)};
      const refused = files.filter((f) => { const c = readCodeCache(f); return !c || compileCommonJs(fs.readFileSync(f, 'utf8'), f, c).cachedDataRejected; });
      console.log(JSON.stringify({ files: files.length, refused }));`;
    const r = spawnSync('node', ['--input-type=module', '-e', check], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ files: files.length, refused: [] });
  });

  test('tsvisor runs the same without its caches and with caches V8 rejects', () => {
    // A copy of the installation, its caches then removed or replaced.
    const copy = path.join(dir, 'install');
    fs.mkdirSync(path.join(copy, 'dist'), { recursive: true });
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(copy, 'package.json'));
    fs.cpSync(BUNDLE, path.join(copy, 'dist/bundle'), { recursive: true });
    for (const d of ['build', 'syscall-tables', 'node_modules']) fs.symlinkSync(path.join(ROOT, d), path.join(copy, d));
    const tsvisor = (root: string) => spawnSync('node', [path.join(root, 'dist/bundle/tsvisor.cjs'), 'syscalls', '--format', 'json'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    const expected = tsvisor(ROOT);
    expect(expected.status).toBe(0);
    const caches = (root: string) => [path.join(root, 'tsvisor.cjs'), ...fs.readdirSync(path.join(root, 'chunks')).filter((f) => f.endsWith('.cjs')).map((f) => path.join(root, 'chunks', f))].map((f) => f + CODE_CACHE_SUFFIX);
    for (const c of caches(path.join(copy, 'dist/bundle'))) fs.writeFileSync(c, 'not a V8 code cache at all', { mode: 0o644 });
    const rejected = tsvisor(copy);
    for (const c of caches(path.join(copy, 'dist/bundle'))) fs.rmSync(c);
    const none = tsvisor(copy);
    for (const r of [rejected, none]) expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 0, stdout: expected.stdout, stderr: expected.stderr });
  });
});
