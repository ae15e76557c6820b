// Dynamically linked coreutils on the host root. Reads run under the default
// overlay; file-changing scripts run natively in one scratch directory and,
// write-through (--no-overlay), in another, and the trees are compared.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { type Run, rmrf, runNative, runSandbox, sh, tempDir, treeSnapshot } from './harness.js';

let nativeDir: string;
let sandboxDir: string;

beforeAll(() => {
  nativeDir = tempDir('cu-native');
  sandboxDir = tempDir('cu-sandbox');
  for (const d of [nativeDir, sandboxDir]) {
    fs.mkdirSync(path.join(d, 'src/sub/deep'), { recursive: true });
    fs.writeFileSync(path.join(d, 'src/a.txt'), 'alpha\n'.repeat(100));
    fs.writeFileSync(path.join(d, 'src/sub/b.bin'), Buffer.alloc(70000, 7));
    fs.writeFileSync(path.join(d, 'src/sub/deep/c'), 'c\n');
    fs.symlinkSync('../a.txt', path.join(d, 'src/sub/link-a'));
  }
});
afterAll(() => {
  rmrf(nativeDir);
  rmrf(sandboxDir);
});

function expectSame(native: Run, sandbox: Run): void {
  expect(sandbox.stderr).toBe(native.stderr);
  expect(sandbox.stdout).toBe(native.stdout);
  expect(sandbox.status).toBe(native.status);
}

/** Runs a script in each scratch directory ($D is its path, output normalised to "D"). */
function inDirs(script: string): { native: Run; sandbox: Run } {
  const norm = (r: Run, d: string): Run => ({ ...r, stdout: r.stdout.split(d).join('D'), stderr: r.stderr.split(d).join('D') });
  const native = norm(runNative(sh(script), { cwd: nativeDir, env: { ...baseEnv, D: nativeDir } }), nativeDir);
  const sandbox = norm(runSandbox(sh(script), { cwd: sandboxDir, env: { ...baseEnv, D: sandboxDir }, doFlags: ['--root', '/', '--no-overlay'] }), sandboxDir);
  return { native, sandbox };
}

const baseEnv = { PATH: '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C', TZ: 'UTC' };

describe('coreutils', () => {
  it('ls -la /usr/bin', () => {
    const n = runNative(['ls', '-la', '/usr/bin']);
    const s = runSandbox(['ls', '-la', '/usr/bin']);
    expect(n.status).toBe(0);
    expectSame(n, s);
    expect(s.stdout.split('\n').length).toBeGreaterThan(500);
  });

  it('ls -lR, -i and --color on a tree', () => {
    // One directory for both runs: inode numbers and times are the same objects'.
    const script = `ls -lRi --time-style=full-iso ${nativeDir}/src; ls --color=always -F ${nativeDir}/src/sub`;
    const n = runNative(sh(script), { env: baseEnv });
    const s = runSandbox(sh(script), { env: baseEnv });
    expect(n.status).toBe(0);
    expectSame(n, s);
  });

  it('stat reports what Linux reports', () => {
    const fmt = '%n %s %b %f %u %g %h %i %X %Y %Z %F';
    const files = ['/etc/hostname', '/usr/bin/ls', '/usr/lib', '/bin'];
    const n = runNative(['stat', '-c', fmt, ...files]);
    const s = runSandbox(['stat', '-c', fmt, ...files]);
    expect(n.status).toBe(0);
    expectSame(n, s);
    // Access times change as the first run reads; the device is the overlay's.
    const script = `cd ${nativeDir} && stat src/a.txt src/sub src/sub/link-a | grep -v -e Device -e '^Access: 2'; stat -L src/sub/link-a | grep -v -e Device -e '^Access: 2'`;
    const full = runNative(sh(script), { env: baseEnv });
    expect(full.status).toBe(0);
    expectSame(full, runSandbox(sh(script), { env: baseEnv }));
  });

  it('cp -r, mv, rm -r, ln -s, chmod, touch -d: same tree as natively', () => {
    const script = [
      'cp -r src copy && cp -a src archive',
      'mv copy/sub copy/moved && mv copy renamed',
      'ln -s renamed/a.txt sym && ln renamed/a.txt hard',
      'chmod 600 renamed/a.txt && chmod -R go-rx renamed/moved && chmod u+s archive/a.txt',
      'touch -d "2020-02-03 04:05:06" renamed/moved/deep/c && touch -h -d "2019-01-01" sym',
      'rm -r archive/sub && rm sym && mkdir -p x/y/z && rmdir -p x/y/z 2>/dev/null; true',
      // Years only: times set by touch -d show, "now" differs between the runs.
      'ls -lR --time-style=+%Y . | grep -v "^total"',
      'stat -c "%n %h %a" hard renamed/a.txt',
    ].join('\n');
    const r = inDirs(script);
    expectSame(r.native, r.sandbox);
    expect(treeSnapshot(sandboxDir)).toEqual(treeSnapshot(nativeDir));
  });

  it('du and df', () => {
    const r = inDirs('du -s src; du -a src | sort -k2; du -sh --apparent-size src');
    expectSame(r.native, r.sandbox);
    // df: the sandbox's root is an overlay, which reports its upper layer
    // (what the guest can write), as Linux's overlayfs does: --overlay-size.
    const n = runNative(['df', '-P', '/']);
    const s = runSandbox(['df', '-P', '/'], { doFlags: ['--overlay-size', '64m'] });
    expect(s.status).toBe(0);
    const cols = (r: Run) => r.stdout.trim().split('\n')[1]!.split(/\s+/);
    expect(cols(s)[0]).toBe('overlay');
    expect(cols(s)[1]).toBe(String(64 * 1024)); // total 1K-blocks
    expect(cols(s)[5]).toBe('/');
    // Written through, the root is the host's disk.
    const ws = runSandbox(['df', '-P', sandboxDir], { doFlags: ['--root', '/', '--no-overlay'] });
    expect(ws.status).toBe(0);
    expect(ws.stdout.trim().split('\n')[1]!.split(/\s+/)[1]).toBe(cols(n)[1]);
  });

  it('sort, wc, head, tail, cut, md5sum over files', () => {
    const r = inDirs('sort -r src/a.txt | uniq -c; wc src/a.txt src/sub/b.bin; head -c 10 src/sub/b.bin | od -c; md5sum src/a.txt src/sub/b.bin; tail -n 2 src/a.txt | cut -c2-3');
    expectSame(r.native, r.sandbox);
  });
});
