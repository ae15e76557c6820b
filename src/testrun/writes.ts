// What the guest wrote: the in-memory overlay's changes after a run
// (OverlayFs.changes()), as report records with diffs, and their exports,
// a patch (git apply, patch -p1) and a tar (OCI layer whiteouts).
// docs/testrun.md, "Writes". The host's side of each file is read through
// the overlay's lower layer (the Gofer), never by a host path.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, major, minor } from '../abi/linux.js';
import { errnoName } from '../abi/errno.js';
import { SysErr } from '../sentry/errors.js';
import type { Kernel } from '../sentry/kernel.js';
import { type ChangedAttr, type LayerEntry, type OverlayChange, OverlayFs, withContents } from '../sentry/vfs/overlayfs.js';
import { diffLines, splitLines, unifiedHunks } from './diff.js';
import { TarWriter, type TarEntry } from './tar.js';

export type FileType = 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'char' | 'block';

/** One path the guest changed (docs/testrun.md, "Writes"). Sandbox paths; sizes in bytes. */
export interface WriteChange {
  path: string;
  kind: 'created' | 'modified' | 'deleted' | 'metadata' | 'type-changed';
  /** what is there now (deleted: what was) */
  type: FileType;
  /** type-changed: what the host has */
  hostType?: FileType;
  /** a regular file's size, a symlink's target's (0 for the other types); null: deleted */
  size: number | null;
  /** the same on the host; null: created */
  hostSize: number | null;
  /** permission bits now and on the host, where there is an object */
  mode?: number;
  hostMode?: number;
  /** modified, metadata: the attributes that differ besides the contents */
  attrs?: ChangedAttr[];
  /** with attrs `owner`: uid and gid now and on the host */
  owner?: [number, number];
  hostOwner?: [number, number];
  /** with attrs `mtime`: the modification time now and on the host (ISO 8601) */
  mtime?: string;
  hostMtime?: string;
  /** a symlink's target now and on the host */
  target?: string;
  hostTarget?: string;
  /** a regular file whose contents changed, appeared or went: whether either side is binary (then no diff) */
  binary?: boolean;
  /** text files: a unified diff against the host version */
  diff?: string;
  /** the diff was cut at the limit (or not made: a side was larger than DIFF_FILE_MAX) */
  diffTruncated?: boolean;
}

export interface WritesOptions {
  /** paths hidden for tsvisor test (SandboxSpec.hidden): their whiteouts are no deletion */
  hidden?: readonly string[];
  /** bytes of diff kept per file (default 64 KiB) */
  maxDiffBytes?: number;
}

/** A side larger than this gets no diff in the report (the patch export has it, up to PATCH_FILE_MAX). */
const DIFF_FILE_MAX = 4 << 20;
const DEFAULT_DIFF_BYTES = 64 << 10;
/** A file larger than this (either side) is left out of the patch, which holds each file whole in memory while it is written. */
const PATCH_FILE_MAX = 64 << 20;
/** As git: a NUL among the first 8000 bytes makes a file binary. */
const BINARY_PROBE = 8000;

/**
 * The guest's changes of a run with the in-memory overlay (tsvisor do with no
 * --root, tsvisor test), null without one. Call it from runInSandbox's
 * afterRun: it reads the host's side through the Gofer, still up there.
 */
export function collectWrites(kernel: Kernel, opts: Omit<WritesOptions, 'hidden'> = {}): OverlayWrites | null {
  const root = kernel.rootMount().fs;
  return root instanceof OverlayFs ? new OverlayWrites(root, { ...opts, hidden: kernel.spec.hidden ?? [] }) : null;
}

/** The guest's changes of a run, and their exports. */
export class OverlayWrites {
  readonly changes: WriteChange[];
  private readonly found: OverlayChange[];

  constructor(overlay: OverlayFs, opts: WritesOptions = {}) {
    const hidden = new Set((opts.hidden ?? []).map((p) => path.posix.normalize(`/${p}`).replace(/(.)\/$/, '$1')));
    const max = opts.maxDiffBytes ?? DEFAULT_DIFF_BYTES;
    this.found = sentryCall(() => [...overlay.changes(hidden)]);
    this.changes = sentryCall(() => this.found.map((c) => record(c, max)));
  }

  /**
   * Writes the changes below the sandbox directory `base` to `file`, a patch
   * (FILE.patch, FILE.diff) or a tar (FILE.tar), paths relative to `base`.
   * Returns what the format could not carry.
   */
  export(file: string, base: string): ExportResult {
    const format = exportFormat(file);
    if (!format) throw new Error(`--export-writes ${file}: expected a name ending in .patch, .diff or .tar`);
    const root = base === '/' ? '' : base.replace(/\/+$/, '');
    const inside = this.found.filter((c) => c.path.startsWith(`${root}/`));
    const rel = (p: string): string => p.slice(root.length + 1);
    let fd: number;
    try {
      fd = fs.openSync(file, 'w', 0o644);
    } catch (e) {
      throw new Error(`--export-writes ${file}: cannot write it (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    try {
      const left = sentryCall(() => (format === 'tar' ? writeTar(fd, inside, rel) : writePatch(fd, inside, rel)));
      return { format, changes: inside.length, outside: this.found.length - inside.length, left };
    } finally {
      fs.closeSync(fd);
    }
  }
}

/**
 * Runs `f`, which reads the overlay: a failed file operation (a SysErr,
 * which is no Error) becomes an Error that says so. EIO: the Gofer is gone
 * (collected after the sandbox's end, not from afterRun).
 */
function sentryCall<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof SysErr) throw new Error(`the overlay's changes could not be read: ${errnoName(e.errno)}${e.errno === 5 ? ' (the Gofer is gone: collect them from runInSandbox\'s afterRun)' : ''}`);
    throw e;
  }
}

/** The export format a file name asks for (check --export-writes before the run); null: none. */
export function exportFormat(file: string): 'patch' | 'tar' | null {
  return file.endsWith('.tar') ? 'tar' : /\.(patch|diff)$/.test(file) ? 'patch' : null;
}

export interface ExportResult {
  format: 'patch' | 'tar';
  /** changes below the base directory */
  changes: number;
  /** changes elsewhere, not exported */
  outside: number;
  /** what the format cannot carry, by sandbox path */
  left: { path: string; why: string }[];
}

function typeName(t: number): FileType {
  switch (t) {
    case S_IFDIR:
      return 'dir';
    case S_IFLNK:
      return 'symlink';
    case S_IFIFO:
      return 'fifo';
    case S_IFSOCK:
      return 'socket';
    case S_IFCHR:
      return 'char';
    case S_IFBLK:
      return 'block';
    default:
      return 'file';
  }
}

/** A file time as ISO 8601 with nanoseconds. */
function isoTime([sec, nsec]: [number, number]): string {
  return new Date(sec * 1000).toISOString().replace('.000Z', `.${String(nsec).padStart(9, '0')}Z`);
}

/** A regular file's size, a symlink's target's; 0 for the other types. */
function sizeOf(e: LayerEntry): number {
  return e.type === S_IFREG || e.type === S_IFLNK ? e.size : 0;
}

/** A latin1 byte string (the Sentry's paths, file bytes) as text for the report. */
const shown = (s: string): string => Buffer.from(s, 'latin1').toString('utf8');

function record(c: OverlayChange, maxDiff: number): WriteChange {
  const now = c.upper;
  const host = c.lower;
  const kind = c.kind === 'type' ? 'type-changed' : c.kind;
  const w: WriteChange = { path: shown(c.path), kind, type: typeName((now ?? host)!.type), size: now && sizeOf(now), hostSize: host && sizeOf(host) };
  if (c.kind === 'type') w.hostType = typeName(host!.type);
  if (now) w.mode = now.perm;
  if (host) w.hostMode = host.perm;
  if (c.attrs.length) w.attrs = c.attrs;
  if (now && host && c.attrs.includes('owner')) [w.owner, w.hostOwner] = [[now.uid, now.gid], [host.uid, host.gid]];
  if (now && host && c.attrs.includes('mtime')) [w.mtime, w.hostMtime] = [isoTime(now.mtime), isoTime(host.mtime)];
  if (now?.target !== undefined) w.target = shown(now.target);
  if (host?.target !== undefined) w.hostTarget = shown(host.target);
  if (c.kind === 'metadata') return w;
  const newFile = now?.type === S_IFREG ? now : null;
  const oldFile = host?.type === S_IFREG ? host : null;
  if (!newFile && !oldFile) return w;
  if (Math.max(newFile?.size ?? 0, oldFile?.size ?? 0) > DIFF_FILE_MAX) {
    w.binary = isBinary(newFile) || isBinary(oldFile);
    if (!w.binary) w.diffTruncated = true;
    return w;
  }
  const a = newFile ? contents(newFile) : null;
  const b = oldFile ? contents(oldFile) : null;
  w.binary = binary(a) || binary(b);
  if (w.binary) return w;
  const text = unifiedDiff(b, a, c.path.slice(1));
  w.diff = shown(text.slice(0, maxDiff));
  if (text.length > maxDiff) w.diffTruncated = true;
  return w;
}

/** A regular file's contents, as a latin1 string. */
function contents(e: LayerEntry): string {
  return read(e).toString('latin1');
}

/** A regular file's contents (its size read at once; more, should it have grown). */
function read(e: LayerEntry): Buffer {
  return withContents(e.node, (fd) => {
    const parts: Buffer[] = [];
    for (let pos = 0, want = e.size + 1; ; want = Math.max(want, 1 << 16)) {
      const b = Buffer.allocUnsafe(want);
      const n = fs.readSync(fd, b, 0, want, pos);
      if (n === 0) return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      parts.push(b.subarray(0, n));
      pos += n;
    }
  });
}

function isBinary(e: LayerEntry | null): boolean {
  if (!e) return false;
  return withContents(e.node, (fd) => {
    const b = Buffer.alloc(BINARY_PROBE);
    return b.subarray(0, fs.readSync(fd, b, 0, BINARY_PROBE, 0)).includes(0);
  });
}

function binary(text: string | null): boolean {
  return text !== null && text.slice(0, BINARY_PROBE).includes('\0');
}

/** A unified diff from `before` to `after` (null: no file) of `name`, with ---/+++ lines; "" when equal. */
function unifiedDiff(before: string | null, after: string | null, name: string): string {
  const hunks = unifiedHunks(diffLines(splitLines(before ?? ''), splitLines(after ?? '')));
  if (!hunks) return '';
  return `${fileLines(before === null ? null : `a/${name}`, after === null ? null : `b/${name}`)}${hunks}`;
}

/** A diff's ---/+++ lines (null: /dev/null); as git, a tab ends a name with a space, for patch(1). */
function fileLines(from: string | null, to: string | null): string {
  const name = (p: string | null): string => (p === null ? '/dev/null' : `${quote(p)}${p.includes(' ') ? '\t' : ''}`);
  return `--- ${name(from)}\n+++ ${name(to)}\n`;
}

/** A path as git writes it in a patch: C-quoted when it holds a control character, a quote or a backslash. */
function quote(p: string): string {
  if (!/[\x00-\x1f"\\\x7f]/.test(p)) return p;
  const esc: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\t': '\\t', '\n': '\\n', '\v': '\\v', '\f': '\\f', '\r': '\\r', '"': '\\"', '\\': '\\\\' };
  return `"${[...p].map((ch) => esc[ch] ?? (ch < ' ' || ch === '\x7f' ? `\\${ch.charCodeAt(0).toString(8).padStart(3, '0')}` : ch)).join('')}"`;
}

// ---- The patch: git's extended diff format. ----

const ZERO_ID = '0'.repeat(40);

/** git's blob id of some contents (the index line, which git apply checks for binary patches). */
function blobId(data: Buffer): string {
  return crypto.createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
}

/** git's file modes: 100755 when the owner may execute, else 100644; 120000 a symlink. */
function gitMode(e: LayerEntry): string {
  if (e.type === S_IFLNK) return '120000';
  return e.perm & 0o100 ? '100755' : '100644';
}

/** What a patch carries of an object: its git mode and contents (a symlink's: its target). */
function gitSide(e: LayerEntry): { mode: string; data: Buffer } {
  return { mode: gitMode(e), data: e.type === S_IFLNK ? Buffer.from(e.target!, 'latin1') : read(e) };
}

function writePatch(fd: number, changes: OverlayChange[], rel: (p: string) => string): ExportResult['left'] {
  const left: ExportResult['left'] = [];
  const removals: string[] = [];
  const others: string[] = [];
  const carried = (e: LayerEntry): boolean => e.type === S_IFREG || e.type === S_IFLNK;
  for (const [i, c] of changes.entries()) {
    const name = rel(c.path);
    const why = (text: string): number => left.push({ path: shown(c.path), why: text });
    if ([c.upper, c.lower].some((e) => e?.type === S_IFREG && e.size > PATCH_FILE_MAX)) {
      why(`larger than ${PATCH_FILE_MAX >> 20} MiB: the tar export has it`);
      continue;
    }
    const now = c.upper && carried(c.upper) ? c.upper : null;
    const host = c.lower && carried(c.lower) ? c.lower : null;
    for (const e of [c.upper, c.lower]) if (e && !carried(e) && e.type !== S_IFDIR) why(`a ${typeName(e.type)}: patches carry files and symlinks`);
    // A directory is made or removed with the files in it: an empty one is not.
    const empty = !changes[i + 1]?.path.startsWith(`${c.path}/`);
    if (empty && (c.kind === 'created' || c.kind === 'deleted') && (c.upper ?? c.lower)!.type === S_IFDIR) why('an empty directory: patches carry files');
    if (c.kind === 'type' || (now && !host) || (host && !now)) {
      if (host) removals.push(section(name, host, null));
      if (now) others.push(section(name, null, now));
    } else if (now && host) {
      const text = section(name, host, now);
      if (text) others.push(text);
    }
    const lost = c.attrs.filter((a) => a !== 'mode' || !now || !host || gitMode(now) === gitMode(host));
    if (lost.length) why(`${lost.join(', ')}: patches carry only contents and the executable bit`);
  }
  for (const s of [...removals, ...others]) {
    const b = Buffer.from(s, 'latin1');
    for (let off = 0; off < b.length; ) off += fs.writeSync(fd, b, off, b.length - off);
  }
  return left;
}

/** One file's part of a patch, from `before` to `after` (null: absent); "" when a patch shows no difference. */
function section(name: string, before: LayerEntry | null, after: LayerEntry | null): string {
  const a = before ? gitSide(before) : null;
  const b = after ? gitSide(after) : null;
  let out = `diff --git ${quote(`a/${name}`)} ${quote(`b/${name}`)}\n`;
  if (!a) out += `new file mode ${b!.mode}\n`;
  else if (!b) out += `deleted file mode ${a.mode}\n`;
  else if (a.mode !== b.mode) out += `old mode ${a.mode}\nnew mode ${b.mode}\n`;
  const sameData = a && b && a.data.equals(b.data);
  if (sameData) return a.mode === b.mode ? '' : out;
  const ids = `index ${a ? blobId(a.data) : ZERO_ID}..${b ? blobId(b.data) : ZERO_ID}`;
  out += a && b && a.mode === b.mode ? `${ids} ${a.mode}\n` : `${ids}\n`;
  const from = a?.data ?? Buffer.alloc(0);
  const to = b?.data ?? Buffer.alloc(0);
  if (from.subarray(0, BINARY_PROBE).includes(0) || to.subarray(0, BINARY_PROBE).includes(0)) {
    return `${out}GIT binary patch\n${binaryLiteral(to)}\n${binaryLiteral(from)}\n`;
  }
  const hunks = unifiedHunks(diffLines(splitLines(from.toString('latin1')), splitLines(to.toString('latin1'))));
  if (!hunks) return out;
  return `${out}${fileLines(a ? `a/${name}` : null, b ? `b/${name}` : null)}${hunks}`;
}

const BASE85 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~';

/** A "literal" hunk of a git binary patch: the deflated contents in git's base85 lines of up to 52 bytes. */
function binaryLiteral(data: Buffer): string {
  const z = zlib.deflateSync(data);
  let out = `literal ${data.length}\n`;
  for (let off = 0; off < z.length; off += 52) {
    const line = z.subarray(off, off + 52);
    const n = line.length;
    out += n <= 26 ? String.fromCharCode(64 + n) : String.fromCharCode(96 + n - 26);
    const padded = Buffer.concat([line, Buffer.alloc((4 - (n % 4)) % 4)]);
    for (let i = 0; i < padded.length; i += 4) {
      let v = padded.readUInt32BE(i);
      const chars: string[] = [];
      for (let j = 0; j < 5; j++) {
        chars.push(BASE85[v % 85]!);
        v = Math.floor(v / 85);
      }
      out += chars.reverse().join('');
    }
    out += '\n';
  }
  return out;
}

// ---- The tar: an OCI image layer of the changes. ----

const WHITEOUT = '.wh.';

function writeTar(fd: number, changes: OverlayChange[], rel: (p: string) => string): ExportResult['left'] {
  const left: ExportResult['left'] = [];
  const tar = new TarWriter(fd);
  // The sink writes each chunk before the next read: one buffer does.
  const chunk = Buffer.allocUnsafe(1 << 16);
  // The whiteout of a directory stands for what it held (changes come in path order).
  let gone: string | null = null;
  for (const c of changes) {
    const name = rel(c.path);
    if (c.kind === 'deleted' || c.kind === 'type') {
      const below = gone !== null && c.path.startsWith(`${gone}/`);
      if (!below) {
        const slash = name.lastIndexOf('/');
        tar.add({ name: `${name.slice(0, slash + 1)}${WHITEOUT}${name.slice(slash + 1)}`, type: '0', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 0 });
        if (c.lower!.type === S_IFDIR) gone = c.path;
      }
      if (c.kind === 'deleted') continue;
    }
    const e = c.upper!;
    const entry: TarEntry = { name, type: '0', mode: e.perm, uid: e.uid, gid: e.gid, mtime: e.mtime[0], mtimeNsec: e.mtime[1], size: 0 };
    const xattrs = new Map(e.node.listxattr().map((x) => [x, e.node.getxattr(x)!]));
    if (xattrs.size) entry.xattrs = xattrs;
    switch (e.type) {
      case S_IFREG:
        entry.size = e.size;
        tar.add(entry, (sink) =>
          withContents(e.node, (rfd) => {
            for (let pos = 0; pos < e.size; ) {
              const n = fs.readSync(rfd, chunk, 0, Math.min(chunk.length, e.size - pos), pos);
              if (n === 0) throw new Error(`${c.path}: shorter than its size`);
              sink(chunk.subarray(0, n));
              pos += n;
            }
          }),
        );
        break;
      case S_IFDIR:
        tar.add({ ...entry, name: `${name}/`, type: '5' });
        break;
      case S_IFLNK:
        tar.add({ ...entry, type: '2', linkname: e.target! });
        break;
      case S_IFCHR:
      case S_IFBLK:
        tar.add({ ...entry, type: e.type === S_IFCHR ? '3' : '4', devmajor: major(e.rdev), devminor: minor(e.rdev) });
        break;
      case S_IFIFO:
        tar.add({ ...entry, type: '6' });
        break;
      default:
        left.push({ path: shown(c.path), why: `a ${typeName(e.type & S_IFMT)}: tar has no entry for it` });
    }
  }
  tar.end();
  return left;
}
