// --overlay keeps every write in memory: the host tree is unchanged after the
// run. Without it, writes land in the root directory, exactly as natively.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { busyboxRoot, rmrf, runChroot, runSandbox, sh, tempDir, treeSnapshot } from './harness.js';

const SCRIPT = [
  'echo new > /etc/new.conf',
  'echo more >> /etc/hostname',
  'rm /etc/conf.d/file3.conf && rm -r /var/log',
  'mv /etc/conf.d/file4.conf /root/moved && mkdir -p /root/d/e && ln -s /root/moved /root/d/e/l && ln /etc/passwd /root/pw',
  'chmod 600 /etc/group && touch -d 2001-01-01 /etc/conf.d/file5.conf',
  'mkdir /etc/conf.d/file3.conf && echo dir-over-deleted-file > /etc/conf.d/file3.conf/x',
  // (no /dev/null: the native baseline is a bare chroot)
  'rmdir /tmp 2>&1 | wc -l; ls /etc/conf.d | wc -l; cat /etc/hostname; ls -l /etc/group | cut -c1-10; cat /root/d/e/l; ls /var 2>&1',
].join('\n');

let root: string;
beforeEach(() => {
  root = busyboxRoot();
});
afterEach(() => rmrf(root));

describe('overlay', () => {
  it('--overlay: the sandbox sees its writes, the host tree stays unchanged', () => {
    const before = treeSnapshot(root);
    const r = runSandbox(sh(SCRIPT), { doFlags: ['--root', root, '--overlay'] });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('0\n19\nsandbox\nmore\n-rw-------\nvalue=28\n');
    expect(treeSnapshot(root)).toEqual(before);
    // A second run starts from the untouched host tree again.
    const again = runSandbox(sh('cat /etc/hostname; ls /etc/new.conf 2>&1 | grep -c "No such"'), { doFlags: ['--root', root, '--overlay'] });
    expect(again.stdout).toBe('sandbox\n1\n');
  });

  it('without --overlay, writes land in the root directory as they do natively', () => {
    const nativeRoot = busyboxRoot();
    try {
      const n = runChroot(nativeRoot, sh(SCRIPT));
      const s = runSandbox(sh(SCRIPT), { doFlags: ['--root', root] });
      expect(s.stdout).toBe(n.stdout);
      expect(s.stderr).toBe(n.stderr);
      expect(s.status).toBe(n.status);
      expect(treeSnapshot(root)).toEqual(treeSnapshot(nativeRoot));
      expect(fs.readFileSync(path.join(root, 'etc/new.conf'), 'latin1')).toBe('new\n');
    } finally {
      rmrf(nativeRoot);
    }
  });

  it('the default sandbox (host root) leaves the host unchanged', () => {
    const dir = tempDir('host-overlay');
    fs.writeFileSync(path.join(dir, 'keep'), 'original\n');
    const before = treeSnapshot(dir);
    try {
      const r = runSandbox(sh(`cd ${dir} && echo changed > keep && echo x > added && mkdir sub && rm keep && ls`));
      expect(r.stdout).toBe('added\nsub\n');
      expect(treeSnapshot(dir)).toEqual(before);
      expect(fs.existsSync('/etc/tsvisor-should-not-exist')).toBe(false);
      const r2 = runSandbox(sh('echo x > /etc/tsvisor-should-not-exist && cat /etc/tsvisor-should-not-exist'));
      expect(r2.stdout).toBe('x\n');
      expect(fs.existsSync('/etc/tsvisor-should-not-exist')).toBe(false);
    } finally {
      rmrf(dir);
    }
  });

  it('copies up large files on write and keeps the lower file intact', () => {
    const big = path.join(root, 'big');
    fs.writeFileSync(big, Buffer.alloc(8 << 20, 1));
    const r = runSandbox(sh('printf X | dd of=/big bs=1 seek=100 conv=notrunc 2>/dev/null; head -c 101 /big | tail -c 1; wc -c < /big'), { doFlags: ['--root', root, '--overlay'] });
    expect(r.stdout).toBe('X8388608\n');
    expect(fs.readFileSync(big)[100]).toBe(1);
  });
});
