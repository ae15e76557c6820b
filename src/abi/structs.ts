// Struct layouts of the x86_64 Linux ABI that the Sentry writes into guest
// memory. Each writer fills a caller-provided Buffer at offset 0 and returns
// the struct size.
import { OVERFLOW_ID, UNMAPPED_ID } from './linux.js';

export interface Stat {
  dev: number;
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;
  blksize: number;
  blocks: number;
  atimeSec: number;
  atimeNsec: number;
  mtimeSec: number;
  mtimeNsec: number;
  ctimeSec: number;
  ctimeNsec: number;
  btimeSec: number;
  btimeNsec: number;
}

export interface StatFs {
  type: number;
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  fsid: [number, number];
  namelen: number;
  frsize: number;
  flags: number;
}

/** 64-bit fields written as two 32-bit halves: exact for |v| < 2^53, no BigInt. */
function i64(b: Buffer, off: number, v: number): void {
  v = Math.trunc(v);
  const lo = v % 2 ** 32;
  const hi = Math.floor(v / 2 ** 32);
  b.writeUInt32LE(lo < 0 ? lo + 2 ** 32 : lo, off);
  b.writeInt32LE(hi, off + 4);
}
const u64 = i64;

/** An owner as stat shows it: an unmapped one (UNMAPPED_ID) as the overflow id. */
function shownId(id: number): number {
  return id === UNMAPPED_ID ? OVERFLOW_ID : id >>> 0;
}

export const STAT_SIZE = 144;
/** struct stat (asm/stat.h, x86_64) */
export function writeStat(b: Buffer, s: Stat): number {
  b.fill(0, 0, STAT_SIZE);
  u64(b, 0, s.dev);
  u64(b, 8, s.ino);
  u64(b, 16, s.nlink);
  b.writeUInt32LE(s.mode >>> 0, 24);
  b.writeUInt32LE(shownId(s.uid), 28);
  b.writeUInt32LE(shownId(s.gid), 32);
  u64(b, 40, s.rdev);
  i64(b, 48, s.size);
  i64(b, 56, s.blksize);
  i64(b, 64, s.blocks);
  i64(b, 72, s.atimeSec);
  u64(b, 80, s.atimeNsec);
  i64(b, 88, s.mtimeSec);
  u64(b, 96, s.mtimeNsec);
  i64(b, 104, s.ctimeSec);
  u64(b, 112, s.ctimeNsec);
  return STAT_SIZE;
}

export const STATX_SIZE = 256;
/** struct statx (linux/stat.h). `mask` says which fields are filled. */
export function writeStatx(b: Buffer, s: Stat, mask: number, major: (d: number) => number, minor: (d: number) => number): number {
  b.fill(0, 0, STATX_SIZE);
  b.writeUInt32LE(mask >>> 0, 0);
  b.writeUInt32LE(s.blksize >>> 0, 4);
  b.writeUInt32LE(s.nlink >>> 0, 16);
  b.writeUInt32LE(shownId(s.uid), 20);
  b.writeUInt32LE(shownId(s.gid), 24);
  b.writeUInt16LE(s.mode & 0xffff, 28);
  u64(b, 32, s.ino);
  u64(b, 40, s.size);
  u64(b, 48, s.blocks);
  const ts = (off: number, sec: number, nsec: number) => {
    i64(b, off, sec);
    b.writeUInt32LE(nsec >>> 0, off + 8);
  };
  ts(64, s.atimeSec, s.atimeNsec);
  ts(80, s.btimeSec, s.btimeNsec);
  ts(96, s.ctimeSec, s.ctimeNsec);
  ts(112, s.mtimeSec, s.mtimeNsec);
  b.writeUInt32LE(major(s.rdev), 128);
  b.writeUInt32LE(minor(s.rdev), 132);
  b.writeUInt32LE(major(s.dev), 136);
  b.writeUInt32LE(minor(s.dev), 140);
  return STATX_SIZE;
}

export const STATFS_SIZE = 120;
/** struct statfs (asm-generic/statfs.h, 64-bit) */
export function writeStatfs(b: Buffer, s: StatFs): number {
  b.fill(0, 0, STATFS_SIZE);
  i64(b, 0, s.type);
  i64(b, 8, s.bsize);
  u64(b, 16, s.blocks);
  u64(b, 24, s.bfree);
  u64(b, 32, s.bavail);
  u64(b, 40, s.files);
  u64(b, 48, s.ffree);
  b.writeInt32LE(s.fsid[0] | 0, 56);
  b.writeInt32LE(s.fsid[1] | 0, 60);
  i64(b, 64, s.namelen);
  i64(b, 72, s.frsize);
  i64(b, 80, s.flags);
  return STATFS_SIZE;
}

export const UTSNAME_FIELD = 65;
export const UTSNAME_SIZE = 6 * UTSNAME_FIELD;
export interface Utsname {
  sysname: string;
  nodename: string;
  release: string;
  version: string;
  machine: string;
  domainname: string;
}
export function writeUtsname(b: Buffer, u: Utsname): number {
  b.fill(0, 0, UTSNAME_SIZE);
  [u.sysname, u.nodename, u.release, u.version, u.machine, u.domainname].forEach((s, i) =>
    b.write(s.slice(0, UTSNAME_FIELD - 1), i * UTSNAME_FIELD, 'latin1'),
  );
  return UTSNAME_SIZE;
}

export const SYSINFO_SIZE = 112;
export interface Sysinfo {
  uptime: number;
  loads: [number, number, number];
  totalram: number;
  freeram: number;
  sharedram: number;
  bufferram: number;
  totalswap: number;
  freeswap: number;
  procs: number;
  memUnit: number;
}
export function writeSysinfo(b: Buffer, s: Sysinfo): number {
  b.fill(0, 0, SYSINFO_SIZE);
  i64(b, 0, s.uptime);
  u64(b, 8, s.loads[0]);
  u64(b, 16, s.loads[1]);
  u64(b, 24, s.loads[2]);
  u64(b, 32, s.totalram);
  u64(b, 40, s.freeram);
  u64(b, 48, s.sharedram);
  u64(b, 56, s.bufferram);
  u64(b, 64, s.totalswap);
  u64(b, 72, s.freeswap);
  b.writeUInt16LE(Math.min(s.procs, 0xffff), 80);
  b.writeUInt32LE(s.memUnit, 104);
  return SYSINFO_SIZE;
}

/** struct linux_dirent64 size for a name of `nameLen` bytes (8-byte aligned). */
export function dirent64Size(nameLen: number): number {
  return (19 + nameLen + 1 + 7) & ~7;
}
/** Appends one linux_dirent64 at `off`; returns the record length. */
export function writeDirent64(b: Buffer, off: number, ino: number, next: number, type: number, name: string): number {
  const reclen = dirent64Size(Buffer.byteLength(name, 'latin1'));
  b.fill(0, off, off + reclen);
  u64(b, off, ino);
  i64(b, off + 8, next);
  b.writeUInt16LE(reclen, off + 16);
  b.writeUInt8(type, off + 18);
  b.write(name, off + 19, 'latin1');
  return reclen;
}

/** struct linux_dirent (the legacy getdents): d_type is the last byte. */
export function direntSize(nameLen: number): number {
  return (18 + nameLen + 2 + 7) & ~7;
}
export function writeDirent(b: Buffer, off: number, ino: number, next: number, type: number, name: string): number {
  const reclen = direntSize(Buffer.byteLength(name, 'latin1'));
  b.fill(0, off, off + reclen);
  u64(b, off, ino);
  i64(b, off + 8, next);
  b.writeUInt16LE(reclen, off + 16);
  b.write(name, off + 18, 'latin1');
  b.writeUInt8(type, off + reclen - 1);
  return reclen;
}
