// MKDIR, MKNOD, SYMLINK, LINK, UNLINK, RENAME, SETATTR, READLINK, xattrs and
// STATFS, checked against what the host (node:fs) reports and what Linux does.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { ERRNO } from '../../src/abi/errno.js';
import {
  AT_FDCWD,
  O_CLOEXEC,
  O_NOFOLLOW,
  O_PATH,
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFSOCK,
} from '../../src/abi/linux.js';
import type { GoferClient } from '../../src/gofer/client.js';
import { SetattrMask, UTIME_NOW, UTIME_OMIT } from '../../src/gofer/protocol.js';
import { native, STATX } from '../../src/platform/native.js';
import { cleanup, mkTmp, sameAsHost, startGofer } from './helpers.js';

const { EBUSY, EEXIST, EINVAL, EISDIR, ENODATA, ENOENT, ENOTDIR, ENOTEMPTY, EOPNOTSUPP, EPERM, ERANGE } = ERRNO;

let host: string;
let g: GoferClient;
let n = 0;
let dir: string; // a fresh sub-directory (export-relative) for each test

beforeAll(() => {
  host = mkTmp();
  g = startGofer([{ id: 3, mode: 'rw', hostPath: host }]).client;
});
afterAll(cleanup);
beforeEach(() => {
  dir = `t${n++}`;
  fs.mkdirSync(path.join(host, dir));
});

const hp = (rel: string) => path.join(host, rel);
function ok<T>(r: T | number): T {
  if (typeof r === 'number') throw new Error(`gofer error ${r}`);
  return r;
}

describe('MKDIR', () => {
  it('creates a directory with the mode and owner given', () => {
    const r = ok(g.mkdir(3, `${dir}/d`, 0o750, 1000, 1001));
    const st = fs.lstatSync(hp(`${dir}/d`));
    expect(st.isDirectory()).toBe(true);
    expect(st.mode & 0o7777).toBe(0o750);
    expect([st.uid, st.gid]).toEqual([1000, 1001]);
    sameAsHost(r.stat, hp(`${dir}/d`));
  });

  it('gives Linux errors', () => {
    ok(g.mkdir(3, `${dir}/d`, 0o755, 0, 0));
    expect(g.mkdir(3, `${dir}/d`, 0o755, 0, 0)).toBe(-EEXIST);
    expect(g.mkdir(3, `${dir}/missing/d`, 0o755, 0, 0)).toBe(-ENOENT);
    expect(g.mkdir(3, '', 0o755, 0, 0)).toBe(-EEXIST);
    fs.writeFileSync(hp(`${dir}/f`), '');
    expect(g.mkdir(3, `${dir}/f/d`, 0o755, 0, 0)).toBe(-ENOTDIR);
  });
});

describe('MKNOD', () => {
  it('creates FIFOs, regular files and sockets', () => {
    const f = ok(g.mknod(3, `${dir}/fifo`, S_IFIFO | 0o640, 5, 6));
    const st = fs.lstatSync(hp(`${dir}/fifo`));
    expect(st.isFIFO()).toBe(true);
    expect(st.mode & 0o7777).toBe(0o640);
    expect([st.uid, st.gid]).toEqual([5, 6]);
    sameAsHost(f.stat, hp(`${dir}/fifo`));

    ok(g.mknod(3, `${dir}/reg`, 0o600, 0, 0)); // type 0 means regular, as in Linux
    expect(fs.lstatSync(hp(`${dir}/reg`)).isFile()).toBe(true);
    ok(g.mknod(3, `${dir}/sock`, S_IFSOCK | 0o600, 0, 0));
    expect(fs.lstatSync(hp(`${dir}/sock`)).isSocket()).toBe(true);
    expect(g.mknod(3, `${dir}/fifo`, S_IFIFO | 0o600, 0, 0)).toBe(-EEXIST);
  });

  it('refuses devices and directories with EPERM', () => {
    expect(g.mknod(3, `${dir}/chr`, S_IFCHR | 0o600, 0, 0)).toBe(-EPERM);
    expect(g.mknod(3, `${dir}/blk`, S_IFBLK | 0o600, 0, 0)).toBe(-EPERM);
    expect(g.mknod(3, `${dir}/dir`, S_IFDIR | 0o600, 0, 0)).toBe(-EPERM);
    expect(fs.readdirSync(hp(dir))).toEqual([]);
  });
});

describe('SYMLINK and READLINK', () => {
  it('creates a symlink owned by uid:gid (not its target)', () => {
    fs.writeFileSync(hp(`${dir}/target`), '');
    const r = ok(g.symlink(3, `${dir}/s`, 'target', 1000, 1000));
    expect(fs.readlinkSync(hp(`${dir}/s`))).toBe('target');
    const st = fs.lstatSync(hp(`${dir}/s`));
    expect([st.uid, st.gid]).toEqual([1000, 1000]);
    expect(fs.statSync(hp(`${dir}/target`)).uid).toBe(0);
    sameAsHost(r.stat, hp(`${dir}/s`));
    expect(g.readlink(3, `${dir}/s`)).toBe('target');
  });

  it('stores any target verbatim, never resolving it', () => {
    ok(g.symlink(3, `${dir}/abs`, '/etc/shadow', 0, 0));
    ok(g.symlink(3, `${dir}/up`, '../../../../..', 0, 0));
    const bytes = 'caf\xe9/\x01\xff';
    ok(g.symlink(3, `${dir}/bin`, bytes, 0, 0));
    expect(g.readlink(3, `${dir}/abs`)).toBe('/etc/shadow');
    expect(g.readlink(3, `${dir}/up`)).toBe('../../../../..');
    expect(g.readlink(3, `${dir}/bin`)).toBe(bytes);
    expect(fs.readlinkSync(hp(`${dir}/bin`), { encoding: 'latin1' })).toBe(bytes);
  });

  it('gives Linux errors', () => {
    fs.writeFileSync(hp(`${dir}/f`), '');
    expect(g.symlink(3, `${dir}/f`, 'x', 0, 0)).toBe(-EEXIST);
    expect(g.symlink(3, `${dir}/e`, '', 0, 0)).toBe(-ENOENT);
    expect(g.symlink(3, `${dir}/z`, 'a\0b', 0, 0)).toBe(-EINVAL);
    expect(g.readlink(3, `${dir}/f`)).toBe(-EINVAL);
    expect(g.readlink(3, `${dir}/none`)).toBe(-ENOENT);
  });
});

describe('LINK', () => {
  it('makes a hard link', () => {
    fs.writeFileSync(hp(`${dir}/f`), 'x');
    const r = ok(g.link(3, `${dir}/f`, `${dir}/f2`));
    expect(fs.statSync(hp(`${dir}/f2`)).ino).toBe(fs.statSync(hp(`${dir}/f`)).ino);
    expect(fs.statSync(hp(`${dir}/f`)).nlink).toBe(2);
    sameAsHost(r.stat, hp(`${dir}/f2`));
  });

  it('links a symlink itself, not its target', () => {
    fs.symlinkSync('/etc/passwd', hp(`${dir}/s`));
    ok(g.link(3, `${dir}/s`, `${dir}/s2`));
    expect(fs.lstatSync(hp(`${dir}/s2`)).isSymbolicLink()).toBe(true);
  });

  it('gives Linux errors', () => {
    fs.writeFileSync(hp(`${dir}/f`), 'x');
    fs.mkdirSync(hp(`${dir}/d`));
    expect(g.link(3, `${dir}/f`, `${dir}/f`)).toBe(-EEXIST);
    expect(g.link(3, `${dir}/d`, `${dir}/d2`)).toBe(-EPERM);
    expect(g.link(3, `${dir}/none`, `${dir}/x`)).toBe(-ENOENT);
  });
});

describe('UNLINK', () => {
  it('removes files and directories like unlink(2) and rmdir(2)', () => {
    fs.writeFileSync(hp(`${dir}/f`), 'x');
    fs.mkdirSync(hp(`${dir}/d`));
    fs.mkdirSync(hp(`${dir}/full`));
    fs.writeFileSync(hp(`${dir}/full/x`), '');
    fs.symlinkSync('d', hp(`${dir}/s`));
    expect(g.unlink(3, `${dir}/d`, false)).toBe(-EISDIR);
    expect(g.unlink(3, `${dir}/f`, true)).toBe(-ENOTDIR);
    expect(g.unlink(3, `${dir}/full`, true)).toBe(-ENOTEMPTY);
    expect(g.unlink(3, `${dir}/none`, false)).toBe(-ENOENT);
    expect(g.unlink(3, '', true)).toBe(-EBUSY);
    expect(g.unlink(3, `${dir}/s`, false)).toBe(0); // the symlink, not the directory
    expect(fs.existsSync(hp(`${dir}/d`))).toBe(true);
    expect(g.unlink(3, `${dir}/f`, false)).toBe(0);
    expect(g.unlink(3, `${dir}/d`, true)).toBe(0);
    expect(fs.readdirSync(hp(dir))).toEqual(['full']);
  });
});

describe('RENAME', () => {
  it('renames, with renameat2 flags passed through', () => {
    fs.writeFileSync(hp(`${dir}/a`), 'A');
    fs.writeFileSync(hp(`${dir}/b`), 'B');
    fs.mkdirSync(hp(`${dir}/sub`));
    expect(g.rename(3, `${dir}/a`, `${dir}/sub/a`, 0)).toBe(0);
    expect(fs.readFileSync(hp(`${dir}/sub/a`), 'utf8')).toBe('A');
    expect(g.rename(3, `${dir}/sub/a`, `${dir}/b`, RENAME_NOREPLACE)).toBe(-EEXIST);
    expect(g.rename(3, `${dir}/sub/a`, `${dir}/b`, RENAME_EXCHANGE)).toBe(0);
    expect(fs.readFileSync(hp(`${dir}/b`), 'utf8')).toBe('A');
    expect(fs.readFileSync(hp(`${dir}/sub/a`), 'utf8')).toBe('B');
    expect(g.rename(3, `${dir}/b`, `${dir}/sub/a`, 0)).toBe(0);
    expect(fs.readdirSync(hp(dir)).sort()).toEqual(['sub']);
    expect(g.rename(3, `${dir}/none`, `${dir}/x`, 0)).toBe(-ENOENT);
    expect(g.rename(3, `${dir}/sub`, `${dir}/sub/inside`, 0)).toBe(-EINVAL);
    expect(g.rename(3, '', `${dir}/root`, 0)).toBe(-EBUSY);
    expect(g.rename(3, `${dir}/sub`, `${dir}/x`, 0x100)).toBe(-EINVAL);
  });
});

describe('SETATTR', () => {
  it('changes mode, owner, size and times', () => {
    fs.writeFileSync(hp(`${dir}/f`), 'hello world');
    const p = `${dir}/f`;
    let r = ok(g.setattr(3, p, SetattrMask.MODE, 0o4711, 0, 0, 0, 0, 0, 0, 0));
    expect(fs.statSync(hp(p)).mode & 0o7777).toBe(0o4711);
    r = ok(g.setattr(3, p, SetattrMask.UID | SetattrMask.GID, 0, 321, 654, 0, 0, 0, 0, 0));
    expect([fs.statSync(hp(p)).uid, fs.statSync(hp(p)).gid]).toEqual([321, 654]);
    r = ok(g.setattr(3, p, SetattrMask.GID, 0, 0, 77, 0, 0, 0, 0, 0));
    expect([fs.statSync(hp(p)).uid, fs.statSync(hp(p)).gid]).toEqual([321, 77]);
    r = ok(g.setattr(3, p, SetattrMask.SIZE, 0, 0, 0, 5, 0, 0, 0, 0));
    expect(fs.readFileSync(hp(p), 'utf8')).toBe('hello');
    r = ok(g.setattr(3, p, SetattrMask.SIZE, 0, 0, 0, 1 << 20, 0, 0, 0, 0));
    expect(fs.statSync(hp(p)).size).toBe(1 << 20);
    r = ok(g.setattr(3, p, SetattrMask.ATIME | SetattrMask.MTIME, 0, 0, 0, 0, 1_000_000_000, 123, 1_500_000_000, 456_789));
    const st = fs.statSync(hp(p), { bigint: true });
    expect(st.atimeNs).toBe(1_000_000_000_000_000_123n);
    expect(st.mtimeNs).toBe(1_500_000_000_000_456_789n);
    expect([r.stat[STATX.mtimeSec], r.stat[STATX.mtimeNsec]]).toEqual([1_500_000_000, 456_789]);
    sameAsHost(r.stat, hp(p));
  });

  it('supports UTIME_NOW and UTIME_OMIT, and pre-1970 times', () => {
    fs.writeFileSync(hp(`${dir}/f`), '');
    const p = `${dir}/f`;
    ok(g.setattr(3, p, SetattrMask.ATIME | SetattrMask.MTIME, 0, 0, 0, 0, -86400, 0, 42, 0));
    expect(fs.statSync(hp(p)).atimeMs).toBe(-86400_000);
    ok(g.setattr(3, p, SetattrMask.MTIME, 0, 0, 0, 0, 0, UTIME_OMIT, 0, UTIME_NOW));
    const st = fs.statSync(hp(p));
    expect(st.atimeMs).toBe(-86400_000); // untouched
    expect(Math.abs(st.mtimeMs - Date.now())).toBeLessThan(10_000);
    ok(g.setattr(3, p, SetattrMask.ATIME, 0, 0, 0, 0, 7, UTIME_OMIT, 0, 0));
    expect(fs.statSync(hp(p)).atimeMs).toBe(-86400_000);
  });

  it('never follows a final symlink', () => {
    fs.writeFileSync(hp(`${dir}/target`), 'keep');
    fs.chmodSync(hp(`${dir}/target`), 0o644);
    fs.symlinkSync('target', hp(`${dir}/s`));
    const p = `${dir}/s`;
    expect(g.setattr(3, p, SetattrMask.MODE, 0o777, 0, 0, 0, 0, 0, 0, 0)).toBe(-EOPNOTSUPP);
    expect(g.setattr(3, p, SetattrMask.SIZE, 0, 0, 0, 0, 0, 0, 0, 0)).toBe(-EINVAL);
    ok(g.setattr(3, p, SetattrMask.UID | SetattrMask.GID, 0, 4242, 4343, 0, 0, 0, 0, 0));
    ok(g.setattr(3, p, SetattrMask.MTIME, 0, 0, 0, 0, 0, 0, 1234, 0));
    const l = fs.lstatSync(hp(p));
    expect([l.uid, l.gid, l.mtimeMs]).toEqual([4242, 4343, 1234_000]);
    const t = fs.statSync(hp(`${dir}/target`));
    expect([t.uid, t.mode & 0o777, fs.readFileSync(hp(`${dir}/target`), 'utf8')]).toEqual([0, 0o644, 'keep']);
    expect(t.mtimeMs).not.toBe(1234_000);
  });

  it('truncates only regular files, like truncate(2)', () => {
    fs.mkdirSync(hp(`${dir}/d`));
    ok(g.mknod(3, `${dir}/fifo`, S_IFIFO | 0o600, 0, 0));
    expect(g.setattr(3, `${dir}/d`, SetattrMask.SIZE, 0, 0, 0, 0, 0, 0, 0, 0)).toBe(-EISDIR);
    expect(g.setattr(3, `${dir}/fifo`, SetattrMask.SIZE, 0, 0, 0, 0, 0, 0, 0, 0)).toBe(-EINVAL);
    expect(g.setattr(3, `${dir}/none`, SetattrMask.MODE, 0o600, 0, 0, 0, 0, 0, 0, 0)).toBe(-ENOENT);
    expect(g.setattr(3, `${dir}/d`, 64, 0, 0, 0, 0, 0, 0, 0, 0)).toBe(-EINVAL);
    // mask 0 is a stat
    sameAsHost(ok(g.setattr(3, `${dir}/d`, 0, 0, 0, 0, 0, 0, 0, 0, 0)).stat, hp(`${dir}/d`));
  });
});

describe('xattrs', () => {
  /** The host's view, read directly with the addon. */
  function hostGet(p: string, name: string): string | number {
    const fd = native.openat2(AT_FDCWD, p, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0, 0);
    const b = new Uint8Array(1024);
    const n = native.getxattrFd(fd, name, b);
    native.close(fd);
    return n < 0 ? n : Buffer.from(b.subarray(0, n)).toString('latin1');
  }

  it('sets, gets, lists and removes', () => {
    const p = `${dir}/f`;
    fs.writeFileSync(hp(p), '');
    expect(g.setxattr(3, p, 'user.color', Buffer.from('blue'), 0)).toBe(0);
    expect(hostGet(hp(p), 'user.color')).toBe('blue');
    expect(g.getxattr(3, p, 'user.color', 0)).toBe(4); // size query
    expect(g.getxattr(3, p, 'user.color', 2)).toBe(-ERANGE);
    expect((g.getxattr(3, p, 'user.color', 100) as Buffer).toString()).toBe('blue');
    expect(g.setxattr(3, p, 'user.color', Buffer.from('red'), 1 /* XATTR_CREATE */)).toBe(-EEXIST);
    expect(g.setxattr(3, p, 'user.none', Buffer.from('x'), 2 /* XATTR_REPLACE */)).toBe(-ENODATA);
    expect(g.setxattr(3, p, 'user.empty', Buffer.alloc(0), 0)).toBe(0);
    expect(g.getxattr(3, p, 'user.empty', 10)).toEqual(Buffer.alloc(0));
    const list = g.listxattr(3, p, 1000) as Buffer;
    expect(list.toString('latin1').split('\0').filter(Boolean).sort()).toEqual(['user.color', 'user.empty']);
    expect(g.listxattr(3, p, 0)).toBe(list.length);
    expect(g.listxattr(3, p, 3)).toBe(-ERANGE);
    expect(g.removexattr(3, p, 'user.color')).toBe(0);
    expect(hostGet(hp(p), 'user.color')).toBe(-ENODATA);
    expect(g.getxattr(3, p, 'user.color', 100)).toBe(-ENODATA);
    expect(g.removexattr(3, p, 'user.color')).toBe(-ENODATA);
    expect(g.getxattr(3, `${dir}/none`, 'user.color', 100)).toBe(-ENOENT);
  });

  it('acts on a symlink itself, never its target', () => {
    fs.writeFileSync(hp(`${dir}/target`), '');
    fs.symlinkSync('target', hp(`${dir}/s`));
    // Linux allows no user.* xattrs on symlinks
    expect(g.setxattr(3, `${dir}/s`, 'user.x', Buffer.from('1'), 0)).toBe(-EPERM);
    expect(hostGet(hp(`${dir}/target`), 'user.x')).toBe(-ENODATA);
    expect(g.setxattr(3, `${dir}/s`, 'trusted.x', Buffer.from('1'), 0)).toBe(0);
    expect(hostGet(hp(`${dir}/s`), 'trusted.x')).toBe('1');
    expect(hostGet(hp(`${dir}/target`), 'trusted.x')).toBe(-ENODATA);
  });

  it('carries binary values of any byte', () => {
    const p = `${dir}/f`;
    fs.writeFileSync(hp(p), '');
    const v = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    expect(g.setxattr(3, p, 'user.bin', v, 0)).toBe(0);
    expect(g.getxattr(3, p, 'user.bin', 65536)).toEqual(v);
  });
});

describe('STATFS', () => {
  it('reports what statfs(2) reports on the host', () => {
    const s = ok(g.statfs(3, ''));
    const h = fs.statfsSync(host);
    expect(s[0]).toBe(h.type);
    expect(s[1]).toBe(h.bsize);
    expect(s[2]).toBe(h.blocks);
    expect(s[5]).toBe(h.files);
    expect(s[9]).toBeGreaterThan(0); // namelen
    expect(g.statfs(3, `${dir}/none`)).toBe(-ENOENT);
  });
});
