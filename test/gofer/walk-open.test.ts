// WALK and OPEN against a real host tree, read-only exports, and escapes.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ERRNO } from '../../src/abi/errno.js';
import {
  O_APPEND,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_NONBLOCK,
  O_PATH,
  O_RDONLY,
  O_RDWR,
  O_TRUNC,
  O_WRONLY,
  S_IFMT,
} from '../../src/abi/linux.js';
import type { GoferClient } from '../../src/gofer/client.js';
import { STATX, native } from '../../src/platform/native.js';
import { cleanup, closeFd, fdFlags, fdIdentity, mkTmp, readAll, sameAsHost, startGofer } from './helpers.js';

const { EACCES, EEXIST, EINVAL, EISDIR, ELOOP, ENOENT, ENOTDIR, ENXIO, EROFS } = ERRNO;

let host: string; // the rw export (id 0), also exported ro as id 1
let g: GoferClient;
let rootGofer: GoferClient; // exports "/" read-only as id 7

beforeAll(() => {
  host = mkTmp();
  fs.mkdirSync(path.join(host, 'a/b/c'), { recursive: true });
  fs.writeFileSync(path.join(host, 'a/b/file'), 'hello gofer\n');
  fs.symlinkSync('b', path.join(host, 'a/link'));
  fs.symlinkSync('/etc', path.join(host, 'a/abs'));
  fs.symlinkSync('../../..', path.join(host, 'a/out'));
  fs.symlinkSync('nowhere', path.join(host, 'a/dangling'));
  fs.writeFileSync(path.join(host, 'lat\xe9'), 'latin1 name', { encoding: 'utf8' });
  execFileSync('mkfifo', [path.join(host, 'fifo')]);
  execFileSync('mknod', [path.join(host, 'nulldev'), 'c', '1', '3']);
  g = startGofer([
    { id: 0, mode: 'rw', hostPath: host },
    { id: 1, mode: 'ro', hostPath: host },
  ]).client;
  rootGofer = startGofer([{ id: 7, mode: 'ro', hostPath: '/' }]).client;
});
afterAll(cleanup);

function typeOf(stat: Float64Array): number {
  return stat[STATX.mode]! & S_IFMT;
}

describe('WALK', () => {
  it('walks through directories, returning lstat fields and O_PATH fds', () => {
    const w = g.walk(0, '', ['a', 'b', 'c']);
    if (typeof w === 'number') throw new Error(`walk: ${w}`);
    expect(w.stopErrno).toBe(0);
    expect(w.entries).toHaveLength(3);
    const paths = ['a', 'a/b', 'a/b/c'];
    w.entries.forEach((e, i) => {
      sameAsHost(e.stat, path.join(host, paths[i]!));
      expect(e.fd).toBeGreaterThanOrEqual(0);
      expect(fdFlags(e.fd) & O_PATH).toBe(O_PATH);
      expect(fdIdentity(e.fd).ino).toBe(fs.statSync(path.join(host, paths[i]!)).ino);
      closeFd(e.fd);
    });
  });

  it('stops at a symlink, including it without reading or following it', () => {
    const before = fs.lstatSync(path.join(host, 'a/link')).atimeMs;
    const w = g.walk(0, '', ['a', 'link', 'c']);
    if (typeof w === 'number') throw new Error(`walk: ${w}`);
    expect(w.entries).toHaveLength(2);
    expect(w.stopErrno).toBe(0);
    expect(fs.lstatSync(path.join(host, 'a/link')).atimeMs).toBe(before);
    sameAsHost(w.entries[1]!.stat, path.join(host, 'a/link'));
    // the fd is the symlink itself
    expect(fs.fstatSync(w.entries[1]!.fd).isSymbolicLink()).toBe(true);
    w.entries.forEach((e) => closeFd(e.fd));

    const out = g.walk(0, 'a', ['out', 'etc', 'passwd']);
    if (typeof out === 'number') throw new Error(`walk: ${out}`);
    expect(out.entries).toHaveLength(1);
    expect(native.readlinkat(out.entries[0]!.fd, '')).toBe('../../..');
    closeFd(out.entries[0]!.fd);
  });

  it('stops after a non-directory and at a missing name', () => {
    const w = g.walk(0, 'a', ['b', 'file', 'x']);
    if (typeof w === 'number') throw new Error(`walk: ${w}`);
    expect(w.entries).toHaveLength(2);
    expect(w.stopErrno).toBe(0);
    sameAsHost(w.entries[1]!.stat, path.join(host, 'a/b/file'));
    w.entries.forEach((e) => closeFd(e.fd));

    const m = g.walk(0, 'a', ['b', 'missing', 'x']);
    if (typeof m === 'number') throw new Error(`walk: ${m}`);
    expect(m.entries).toHaveLength(1);
    expect(m.stopErrno).toBe(ENOENT);
    closeFd(m.entries[0]!.fd);

    const z = g.walk(0, 'a/b', []);
    expect(z).toEqual({ entries: [], stopErrno: 0 });
  });

  it('serves latin1 names byte for byte', () => {
    const name = Buffer.from('lat\xe9', 'utf8').toString('latin1');
    const w = g.walk(0, '', [name]);
    if (typeof w === 'number') throw new Error(`walk: ${w}`);
    expect(w.entries).toHaveLength(1);
    closeFd(w.entries[0]!.fd);
  });

  it('rejects malformed names and paths with EINVAL, and symlinks inside dirPath with ELOOP', () => {
    for (const names of [['..'], ['.'], [''], ['a/b'], ['a\0']]) expect(g.walk(0, '', names)).toBe(-EINVAL);
    for (const dir of ['/a', 'a/', 'a//b', 'a/./b', 'a/../a', '..', '.']) expect(g.walk(0, dir, ['b'])).toBe(-EINVAL);
    expect(g.walk(0, '', new Array(65).fill('a'))).toBe(-EINVAL);
    expect(g.walk(0, 'a/link', ['c'])).toBe(-ELOOP);
    expect(g.walk(0, 'a/b/file', ['x'])).toBe(-ENOTDIR);
    expect(g.walk(42, '', ['a'])).toBe(-EINVAL); // unknown export
  });

  it('describes device nodes but never hands out an fd for them', () => {
    const w = g.walk(0, '', ['nulldev']);
    if (typeof w === 'number') throw new Error(`walk: ${w}`);
    expect(w.entries).toHaveLength(1);
    expect(w.entries[0]!.fd).toBe(-1);
    sameAsHost(w.entries[0]!.stat, path.join(host, 'nulldev'));
  });
});

describe('OPEN', () => {
  it('opens for reading, with the host content and no O_NONBLOCK left over', () => {
    const o = g.open(0, 'a/b/file', O_RDONLY, 0, 0, 0);
    if (typeof o === 'number') throw new Error(`open: ${o}`);
    expect(o.created).toBe(false);
    sameAsHost(o.stat, path.join(host, 'a/b/file'));
    expect(readAll(o.fd)).toBe('hello gofer\n');
    expect(fdFlags(o.fd) & (O_NONBLOCK | 3)).toBe(O_RDONLY);
    closeFd(o.fd);
  });

  it('keeps O_NONBLOCK when asked for it', () => {
    const o = g.open(0, 'a/b/file', O_RDONLY | O_NONBLOCK, 0, 0, 0);
    if (typeof o === 'number') throw new Error(`open: ${o}`);
    expect(fdFlags(o.fd) & O_NONBLOCK).toBe(O_NONBLOCK);
    closeFd(o.fd);
  });

  it('opens for writing and appending', () => {
    const p = path.join(host, 'w.txt');
    fs.writeFileSync(p, 'one\n');
    const o = g.open(0, 'w.txt', O_WRONLY | O_APPEND, 0, 0, 0);
    if (typeof o === 'number') throw new Error(`open: ${o}`);
    fs.writeSync(o.fd, 'two\n');
    closeFd(o.fd);
    expect(fs.readFileSync(p, 'utf8')).toBe('one\ntwo\n');
  });

  it('truncates with O_TRUNC', () => {
    const p = path.join(host, 't.txt');
    fs.writeFileSync(p, 'something long');
    const o = g.open(0, 't.txt', O_RDWR | O_TRUNC, 0, 0, 0);
    if (typeof o === 'number') throw new Error(`open: ${o}`);
    expect(o.stat[STATX.size]).toBe(0);
    expect(fs.statSync(p).size).toBe(0);
    fs.writeSync(o.fd, 'new');
    closeFd(o.fd);
    expect(fs.readFileSync(p, 'utf8')).toBe('new');
  });

  it('creates with the exact mode and owner, and reports whether it created', () => {
    const o = g.open(0, 'a/created', O_CREAT | O_WRONLY, 0o640, 1234, 2345);
    if (typeof o === 'number') throw new Error(`open: ${o}`);
    expect(o.created).toBe(true);
    sameAsHost(o.stat, path.join(host, 'a/created'));
    fs.writeSync(o.fd, 'data');
    closeFd(o.fd);
    const st = fs.statSync(path.join(host, 'a/created'));
    expect(st.mode).toBe(0o100640);
    expect([st.uid, st.gid]).toEqual([1234, 2345]);
    expect(fs.readFileSync(path.join(host, 'a/created'), 'utf8')).toBe('data');

    // the Gofer applies no umask of its own, and chown keeps set-id bits
    const u = g.open(0, 'a/mode666', O_CREAT | O_RDWR, 0o666, 0, 0);
    if (typeof u === 'number') throw new Error(`open: ${u}`);
    closeFd(u.fd);
    expect(fs.statSync(path.join(host, 'a/mode666')).mode & 0o7777).toBe(0o666);
    const s = g.open(0, 'a/suid', O_CREAT | O_RDWR, 0o4755, 1000, 1000);
    if (typeof s === 'number') throw new Error(`open: ${s}`);
    closeFd(s.fd);
    expect(fs.statSync(path.join(host, 'a/suid')).mode & 0o7777).toBe(0o4755);

    // existing: opened, not created; O_EXCL: EEXIST
    const again = g.open(0, 'a/created', O_CREAT | O_RDONLY, 0o600, 0, 0);
    if (typeof again === 'number') throw new Error(`open: ${again}`);
    expect(again.created).toBe(false);
    expect(readAll(again.fd)).toBe('data');
    closeFd(again.fd);
    expect(g.open(0, 'a/created', O_CREAT | O_EXCL | O_WRONLY, 0o600, 0, 0)).toBe(-EEXIST);
    expect(g.open(0, 'a/missing/x', O_CREAT | O_WRONLY, 0o600, 0, 0)).toBe(-ENOENT);
    expect(g.open(0, '', O_CREAT | O_RDONLY, 0o600, 0, 0)).toBe(-EISDIR);
    // O_CREAT never follows a final symlink
    expect(g.open(0, 'a/dangling', O_CREAT | O_WRONLY, 0o600, 0, 0)).toBe(-ELOOP);
    expect(fs.existsSync(path.join(host, 'a/nowhere'))).toBe(false);
  });

  it('gives Linux errors for types and flags', () => {
    expect(g.open(0, 'a/b/file', O_RDONLY | O_DIRECTORY, 0, 0, 0)).toBe(-ENOTDIR);
    expect(g.open(0, 'a/b', O_WRONLY, 0, 0, 0)).toBe(-EISDIR);
    expect(g.open(0, 'a/link', O_RDONLY, 0, 0, 0)).toBe(-ELOOP);
    expect(g.open(0, 'a/nope', O_RDONLY, 0, 0, 0)).toBe(-ENOENT);
    const d = g.open(0, 'a/b', O_RDONLY | O_DIRECTORY, 0, 0, 0);
    if (typeof d === 'number') throw new Error(`open: ${d}`);
    expect(fs.fstatSync(d.fd).isDirectory()).toBe(true);
    closeFd(d.fd);
    // O_PATH|O_NOFOLLOW on a symlink gives the symlink
    const l = g.open(0, 'a/link', O_PATH | O_NOFOLLOW, 0, 0, 0);
    if (typeof l === 'number') throw new Error(`open: ${l}`);
    expect(fs.fstatSync(l.fd).isSymbolicLink()).toBe(true);
    closeFd(l.fd);
    // the export root
    const r = g.open(0, '', O_PATH | O_DIRECTORY, 0, 0, 0);
    if (typeof r === 'number') throw new Error(`open: ${r}`);
    sameAsHost(r.stat, host);
    closeFd(r.fd);
  });

  it('opens a FIFO without blocking the Gofer', () => {
    // no writer: a blocking open would hang; the Gofer returns a blocking fd at once
    const o = g.open(0, 'fifo', O_RDONLY, 0, 0, 0);
    if (typeof o === 'number') throw new Error(`open: ${o}`);
    expect(fdFlags(o.fd) & O_NONBLOCK).toBe(0);
    expect(typeOf(o.stat)).toBe(0o010000);
    // now there is a reader, so a writer can open
    const wr = g.open(0, 'fifo', O_WRONLY, 0, 0, 0);
    if (typeof wr === 'number') throw new Error(`open: ${wr}`);
    fs.writeSync(wr.fd, 'through the fifo');
    closeFd(wr.fd);
    const b = Buffer.alloc(100);
    expect(b.toString('latin1', 0, fs.readSync(o.fd, b, 0, 100, null))).toBe('through the fifo');
    closeFd(o.fd);
    // a writer without a reader: ENXIO rather than a blocked Gofer
    expect(g.open(0, 'fifo', O_WRONLY, 0, 0, 0)).toBe(-ENXIO);
    const nb = g.open(0, 'fifo', O_RDONLY | O_NONBLOCK, 0, 0, 0);
    if (typeof nb === 'number') throw new Error(`open: ${nb}`);
    expect(fdFlags(nb.fd) & O_NONBLOCK).toBe(O_NONBLOCK);
    closeFd(nb.fd);
    expect(g.ping()).toBe(0);
  });

  it('refuses device nodes from an export', () => {
    expect(g.open(0, 'nulldev', O_RDONLY, 0, 0, 0)).toBe(-EACCES);
    expect(g.open(0, 'nulldev', O_PATH, 0, 0, 0)).toBe(-EACCES);
    expect(rootGofer.open(7, 'dev/null', O_RDWR, 0, 0, 0)).toBe(-EACCES);
  });
});

describe('read-only exports', () => {
  it('refuse every open for writing, truncating or creating with EROFS', () => {
    expect(g.open(1, 'a/b/file', O_WRONLY, 0, 0, 0)).toBe(-EROFS);
    expect(g.open(1, 'a/b/file', O_RDWR, 0, 0, 0)).toBe(-EROFS);
    expect(g.open(1, 'a/b/file', O_RDONLY | O_TRUNC, 0, 0, 0)).toBe(-EROFS);
    expect(g.open(1, 'newfile', O_CREAT | O_RDONLY, 0o644, 0, 0)).toBe(-EROFS);
    expect(g.open(1, 'fifo', O_WRONLY, 0, 0, 0)).toBe(-EROFS);
    expect(fs.existsSync(path.join(host, 'newfile'))).toBe(false);
    expect(fs.readFileSync(path.join(host, 'a/b/file'), 'utf8')).toBe('hello gofer\n');
  });

  it('still open for reading, and follow Linux for O_CREAT on existing names and directories', () => {
    const o = g.open(1, 'a/b/file', O_RDONLY, 0, 0, 0);
    if (typeof o === 'number') throw new Error(`open: ${o}`);
    expect(readAll(o.fd)).toBe('hello gofer\n');
    closeFd(o.fd);
    const c = g.open(1, 'a/b/file', O_CREAT | O_RDONLY, 0o644, 0, 0);
    if (typeof c === 'number') throw new Error(`open: ${c}`);
    expect(c.created).toBe(false);
    closeFd(c.fd);
    expect(g.open(1, 'a/b/file', O_CREAT | O_EXCL | O_RDONLY, 0o644, 0, 0)).toBe(-EEXIST);
    expect(g.open(1, 'a/b', O_WRONLY, 0, 0, 0)).toBe(-EISDIR);
    expect(g.open(1, 'a/nope', O_WRONLY, 0, 0, 0)).toBe(-ENOENT);
  });

  it('refuse every mutation', () => {
    expect(g.mkdir(1, 'newdir', 0o755, 0, 0)).toBe(-EROFS);
    expect(g.mkdir(1, 'a', 0o755, 0, 0)).toBe(-EEXIST); // like Linux: mkdir -p works on ro mounts
    expect(g.mknod(1, 'newfifo', 0o010644, 0, 0)).toBe(-EROFS);
    expect(g.symlink(1, 'newlink', 'x', 0, 0)).toBe(-EROFS);
    expect(g.link(1, 'a/b/file', 'hard')).toBe(-EROFS);
    expect(g.unlink(1, 'a/b/file', false)).toBe(-EROFS);
    expect(g.unlink(1, 'a/nope', false)).toBe(-ENOENT);
    expect(g.rename(1, 'a/b/file', 'moved', 0)).toBe(-EROFS);
    expect(g.setattr(1, 'a/b/file', 1, 0o600, 0, 0, 0, 0, 0, 0, 0)).toBe(-EROFS);
    expect(g.setattr(1, 'a/b/file', 8, 0, 0, 0, 0, 0, 0, 0, 0)).toBe(-EROFS);
    expect(g.setxattr(1, 'a/b/file', 'user.x', Buffer.from('v'), 0)).toBe(-EROFS);
    expect(g.removexattr(1, 'a/b/file', 'user.x')).toBe(-EROFS);
    expect(fs.existsSync(path.join(host, 'newdir'))).toBe(false);
    expect(fs.statSync(path.join(host, 'a/b/file')).mode & 0o777).not.toBe(0o600);
    // reads still work
    expect(typeof g.readlink(1, 'a/link')).toBe('string');
    expect(typeof g.statfs(1, '')).not.toBe('number');
  });
});

describe('escapes', () => {
  it('never follows a symlink, inside or outside the export', () => {
    expect(g.open(0, 'a/out/etc/passwd', O_RDONLY, 0, 0, 0)).toBe(-ELOOP);
    expect(g.open(0, 'a/abs/passwd', O_RDONLY, 0, 0, 0)).toBe(-ELOOP);
    expect(g.open(0, 'a/abs', O_RDONLY, 0, 0, 0)).toBe(-ELOOP);
    expect(g.open(0, 'a/link/file', O_RDONLY, 0, 0, 0)).toBe(-ELOOP);
    expect(g.mkdir(0, 'a/out/tmp/escaped', 0o755, 0, 0)).toBe(-ELOOP);
    expect(g.setattr(0, 'a/abs', 1, 0o777, 0, 0, 0, 0, 0, 0, 0)).toBe(-95 /* EOPNOTSUPP: a symlink's own mode */);
    expect(fs.statSync('/etc').mode & 0o777).not.toBe(0o777);
  });

  it('rejects ".." and other non-normalized paths with EINVAL', () => {
    for (const p of ['../etc/passwd', 'a/../../etc/passwd', '/etc/passwd', 'a//b', 'a/./b', 'a/b/', '.', '..', 'a/b\0/file']) {
      expect(g.open(0, p, O_RDONLY, 0, 0, 0)).toBe(-EINVAL);
      expect(g.mkdir(0, p, 0o755, 0, 0)).toBe(-EINVAL);
      expect(g.unlink(0, p, false)).toBe(-EINVAL);
    }
    expect(g.rename(0, 'a/b/file', '../escaped', 0)).toBe(-EINVAL);
    expect(g.link(0, 'a/b/file', '../escaped')).toBe(-EINVAL);
    expect(g.symlink(0, '../escaped', 'x', 0, 0)).toBe(-EINVAL);
  });

  it('refuses procfs and sysfs objects even when the export is "/"', () => {
    const w = rootGofer.walk(7, '', ['proc', 'self']);
    expect(w).toEqual({ entries: [], stopErrno: EACCES });
    expect(rootGofer.open(7, 'proc/cpuinfo', O_RDONLY, 0, 0, 0)).toBe(-EACCES);
    expect(rootGofer.open(7, 'proc/1/environ', O_RDONLY, 0, 0, 0)).toBe(-EACCES);
    expect(rootGofer.open(7, 'proc/self/environ', O_RDONLY, 0, 0, 0)).toBe(-ELOOP); // "self" is a symlink
    expect(rootGofer.open(7, 'proc', O_RDONLY | O_DIRECTORY, 0, 0, 0)).toBe(-EACCES);
    expect(rootGofer.open(7, 'sys/kernel', O_RDONLY | O_DIRECTORY, 0, 0, 0)).toBe(-EACCES);
    expect(rootGofer.statfs(7, 'proc')).toBe(-EACCES);
    expect(rootGofer.readlink(7, 'proc/self')).toBe(-EACCES);
    expect(rootGofer.walk(7, 'proc', ['1'])).toBe(-EACCES);
    // ordinary host files are served
    const o = rootGofer.open(7, 'etc/passwd', O_RDONLY, 0, 0, 0);
    if (typeof o === 'number') throw new Error(`open: ${o}`);
    expect(readAll(o.fd)).toBe(fs.readFileSync('/etc/passwd', 'latin1'));
    closeFd(o.fd);
  });
});
