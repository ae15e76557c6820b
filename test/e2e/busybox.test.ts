// busybox-static on a minimal root: `chroot ROOT cmd` natively against
// `tsvisor do --root ROOT -- cmd`, comparing output, status and file effects.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { type Run, busyboxRoot, rmrf, runChroot, runSandbox, treeSnapshot } from './harness.js';

let nativeRoot: string;
let sandboxRoot: string;

beforeAll(() => {
  nativeRoot = busyboxRoot();
  sandboxRoot = busyboxRoot();
});
afterAll(() => {
  rmrf(nativeRoot);
  rmrf(sandboxRoot);
});

/** Runs `argv` in both roots (write-through, so file effects can be compared). */
function both(argv: string[]): { native: Run; sandbox: Run } {
  const native = runChroot(nativeRoot, argv);
  const sandbox = runSandbox(argv, { doFlags: ['--root', sandboxRoot, '--no-overlay'] });
  return { native, sandbox };
}

function expectSame(r: { native: Run; sandbox: Run }): void {
  expect(r.sandbox.stderr).toBe(r.native.stderr);
  expect(r.sandbox.stdout).toBe(r.native.stdout);
  expect(r.sandbox.status).toBe(r.native.status);
}

const bb = (script: string) => ['/bin/sh', '-c', script];

describe('busybox', () => {
  it('runs sh scripts with pipes, redirections and exit statuses', () => {
    const script = [
      'echo one two three | tr " " "\\n" | sort -r > /tmp/out',
      'cat < /tmp/out',
      'wc -l < /tmp/out',
      'echo err >&2',
      '( echo sub; exit 4 ); echo "sub status $?"',
      'x=$(cat /etc/hostname); echo "host=$x"',
      'for i in 1 2 3; do echo "i=$i" >> /tmp/loop; done; cat /tmp/loop',
      'false || echo recovered',
      'exit 3',
    ].join('\n');
    const r = both(bb(script));
    expectSame(r);
    expect(r.native.status).toBe(3);
    expect(r.native.stdout).toContain('three');
  });

  it('lists / like the real root, mount points aside', () => {
    const r = both(['/bin/ls', '-la', '/']);
    expect(r.sandbox.status).toBe(0);
    // /proc, /dev and /sys are file systems of the sandbox's own (mounted
    // over the root's empty directories): their lines differ by design.
    const strip = (s: string) =>
      s
        .split('\n')
        .filter((l) => !/ (proc|dev|sys)$/.test(l) && !l.startsWith('total'))
        .join('\n');
    expect(strip(r.sandbox.stdout)).toBe(strip(r.native.stdout));
  });

  it('finds files under /etc', () => {
    expectSame(both(['/bin/find', '/etc']));
    expectSame(both(['/bin/find', '/etc', '-name', '*.conf', '-type', 'f']));
    expectSame(both(bb('find /etc -type l -exec ls -l {} \\; | cut -c1-10,50-')));
  });

  it('creates and extracts tar archives in /tmp', () => {
    const script = [
      'mkdir -p /tmp/src/a/b /tmp/src/c',
      'echo hello > /tmp/src/a/b/f1; echo world > /tmp/src/c/f2; ln -s ../c/f2 /tmp/src/a/l2',
      'chmod 640 /tmp/src/a/b/f1',
      // One time for every entry: the archive holds them, and the two runs write the files at different times.
      "find /tmp/src -exec touch -h -d '2020-01-02 03:04:05' {} +",
      // The listing's times are dropped: the two runs may write the files in different minutes.
      "cd /tmp && tar -cf /tmp/t.tar src && tar -tvf /tmp/t.tar | sed -E 's/ [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]+ / /' | sort",
      'mkdir /tmp/dst && tar -C /tmp/dst -xf /tmp/t.tar && find /tmp/dst | sort',
      'cat /tmp/dst/src/a/l2; ls -l /tmp/dst/src/a/b/f1 | cut -c1-10',
    ].join('\n');
    const r = both(bb(script));
    expectSame(r);
    expect(treeSnapshot(path.join(sandboxRoot, 'tmp'))).toEqual(treeSnapshot(path.join(nativeRoot, 'tmp')));
  });

  it('sorts and counts', () => {
    expectSame(both(bb('cat /etc/conf.d/*.conf | sort -t= -k2 -n | tail -3; cat /etc/conf.d/* | wc -c -l -w')));
  });

  it('leaves the same files behind in a write-through root', () => {
    const script = 'mkdir -p /var/log/app && echo line >> /var/log/app/log && mv /var/log/app/log /var/log/app/log.1 && rm -rf /tmp/*';
    expectSame(both(bb(script)));
    expect(treeSnapshot(sandboxRoot)).toEqual(treeSnapshot(nativeRoot));
    expect(fs.readFileSync(path.join(sandboxRoot, 'var/log/app/log.1'), 'latin1')).toBe('line\n');
  });
});
