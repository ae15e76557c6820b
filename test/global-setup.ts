// vitest global setup, shared by every suite: makes sure dist/ holds a build
// of the current sources (suites that start real processes, such as the Gofer,
// run node on dist/bundle/...). tsc and the bundler run only when a source or
// tsconfig.json is newer than the last successful build.
//
// Type errors elsewhere in the tree do not stop the run: tsc still emits, and
// the errors are shown as a warning. The build only fails if tsc itself could
// not run or produced no dist/.
//
// First, the programs the suite runs: on a machine without them the run stops
// at once with one line naming the Debian packages and the command that
// installs them (.ci/run), rather than failing file by file.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const STAMP = path.join(ROOT, 'dist', '.build-stamp');

/** Newest mtime (ms) of the .ts files under dir. */
function newest(dir: string): number {
  let t = 0;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p));
    else if (e.name.endsWith('.ts')) t = Math.max(t, fs.statSync(p).mtimeMs);
  }
  return t;
}

/** A program the suite runs, and the Debian package that brings it (.ci/run installs them all). */
const NEEDED: [string, string][] = [
  ['/bin/busybox', 'busybox-static'],
  ['/usr/bin/python3', 'python3'],
  ['/usr/bin/gcc', 'build-essential'],
  ['/usr/bin/make', 'build-essential'],
  ['/usr/bin/strace', 'strace'],
  ['/usr/bin/docker', 'docker.io'],
  ['/usr/bin/containerd', 'containerd'],
  ['/usr/bin/runc', 'runc'],
  ['/usr/bin/podman', 'podman'],
  ['/usr/bin/runsc', 'runsc'],
  ['/sbin/apparmor_parser', 'apparmor'],
  ['/usr/sbin/ip', 'iproute2'],
  ['/usr/lib/cni/bridge', 'containernetworking-plugins'],
  ['/usr/bin/chromium', 'chromium'],
];

function checkPrograms(): void {
  const missing = NEEDED.filter(([file]) => !fs.existsSync(file));
  if (!missing.length) return;
  const packages = [...new Set(missing.map(([, pkg]) => pkg))].join(' ');
  throw new Error(`the test suite needs Debian packages that are missing: ${packages} (no ${missing.map(([f]) => f).join(', ')}); as root, \`sh .ci/run\` installs them and runs the suite`);
}

export default function setup(): void {
  checkPrograms();
  const sources = Math.max(
    newest(path.join(ROOT, 'src')),
    newest(path.join(ROOT, 'syscall-tables')),
    fs.statSync(path.join(ROOT, 'tsconfig.json')).mtimeMs,
  );
  let built = 0;
  try {
    built = fs.statSync(STAMP).mtimeMs;
  } catch {
    // never built
  }
  if (built >= sources) return;

  const started = new Date();
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: ROOT, encoding: 'utf8' });
  if (r.error) throw new Error(`global-setup: cannot run tsc: ${r.error.message}`);
  if (!fs.existsSync(path.join(ROOT, 'dist', 'src'))) {
    throw new Error(`global-setup: tsc produced no dist/src:\n${r.stdout}${r.stderr}`);
  }
  const b = spawnSync(process.execPath, [path.join(ROOT, 'scripts/bundle.mjs')], { cwd: ROOT, encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`global-setup: the bundle failed:\n${b.stdout}${b.stderr}`);
  if (r.status !== 0) {
    const lines = `${r.stdout}${r.stderr}`.trim().split('\n');
    console.warn(
      `global-setup: tsc reported ${lines.length} line(s) of errors; dist/ was emitted and bundled anyway:\n` +
        lines.slice(0, 20).join('\n') +
        (lines.length > 20 ? '\n...' : ''),
    );
    return; // no stamp: try again next run
  }
  fs.writeFileSync(STAMP, '');
  fs.utimesSync(STAMP, started, started);
}
