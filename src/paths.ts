// Where tsvisor's own files are. This code runs from src/ (under the test
// runner), from tsc's dist/src/, or bundled into dist/bundle/ (what
// bin/tsvisor runs), so the repository root is found by walking up to
// tsvisor's package.json rather than by counting directories.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    try {
      if ((JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'tsvisor') return dir;
    } catch {
      /* no package.json here, or not ours */
    }
    if (path.dirname(dir) === dir) throw new Error(`tsvisor: no tsvisor package.json above ${from}`);
  }
}

export const PROJECT_ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));
/** scripts/bundle.mjs's output: what bin/tsvisor runs. */
export const BUNDLE_DIR = path.join(PROJECT_ROOT, 'dist/bundle');
/** The command-line entry point the sandbox process (`tsvisor boot`) and detached `exec` copies run. */
export const CLI_ENTRY = path.join(BUNDLE_DIR, 'tsvisor.cjs');
export const GOFER_ENTRY = path.join(BUNDLE_DIR, 'gofer.cjs');
export const NATIVE_ADDON = path.join(PROJECT_ROOT, 'build/Release/tsvisor_native.node');
export const LAUNCHER_PATH = path.join(PROJECT_ROOT, 'build/Release/tsvisor-launcher');
/** The keeper and anchor of a created container: the pid its clients are told (native/anchor.c). */
export const ANCHOR_PATH = path.join(PROJECT_ROOT, 'build/Release/tsvisor-anchor');
export const TABLES_DIR = path.join(PROJECT_ROOT, 'syscall-tables');
