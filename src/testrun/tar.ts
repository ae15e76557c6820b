// A POSIX tar writer (ustar headers, pax extended headers for what ustar
// cannot hold: long names and link targets, large sizes and ids, times to
// the nanosecond, xattrs),
// for the writes export. Names are byte strings (latin1), as the Sentry's.
import fs from 'node:fs';

const BLOCK = 512;

export interface TarEntry {
  /** the name in the archive (a directory's ends with "/") */
  name: string;
  /** '0' file, '2' symlink, '3' char, '4' block, '5' directory, '6' fifo */
  type: '0' | '2' | '3' | '4' | '5' | '6';
  mode: number;
  uid: number;
  gid: number;
  /** seconds, and nanoseconds (a pax record when not 0) */
  mtime: number;
  mtimeNsec?: number;
  size: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Map<string, Buffer>;
}

/** Writes entries to a file descriptor; contents follow each file's header through `contents`. */
export class TarWriter {
  constructor(private readonly fd: number) {}

  /** Adds an entry; `write` is called with a sink that takes exactly `size` bytes of contents in order. */
  add(e: TarEntry, write?: (sink: (chunk: Buffer) => void) => void): void {
    const pax: [string, Buffer][] = [];
    const name = Buffer.from(e.name, 'latin1');
    const split = splitName(name);
    if (!split) pax.push(['path', name]);
    const link = Buffer.from(e.linkname ?? '', 'latin1');
    if (link.length > 100) pax.push(['linkpath', link]);
    if (e.size > 0o77777777777) pax.push(['size', Buffer.from(String(e.size))]);
    if (e.uid > 0o7777777) pax.push(['uid', Buffer.from(String(e.uid))]);
    if (e.gid > 0o7777777) pax.push(['gid', Buffer.from(String(e.gid))]);
    if (e.mtimeNsec) pax.push(['mtime', Buffer.from(`${e.mtime}.${String(e.mtimeNsec).padStart(9, '0')}`)]);
    for (const [k, v] of e.xattrs ?? []) pax.push([`SCHILY.xattr.${k}`, v]);
    if (pax.length) {
      const body = Buffer.concat(pax.map(([k, v]) => paxRecord(k, v)));
      this.put(header({ name: 'PaxHeaders/entry', type: 'x', mode: 0o644, uid: 0, gid: 0, mtime: e.mtime, size: body.length }, [Buffer.alloc(0), Buffer.from('PaxHeaders/entry')]));
      this.put(padded(body));
    }
    this.put(header(e, split ?? [Buffer.alloc(0), name.subarray(0, 100)]));
    if (!write) return;
    let written = 0;
    write((chunk) => {
      written += chunk.length;
      this.put(chunk);
    });
    if (written !== e.size) throw new Error(`tar: ${e.name}: ${written} bytes written for a size of ${e.size}`);
    const rest = (BLOCK - (e.size % BLOCK)) % BLOCK;
    if (rest) this.put(Buffer.alloc(rest));
  }

  /** The two zero blocks that end an archive. */
  end(): void {
    this.put(Buffer.alloc(2 * BLOCK));
  }

  private put(b: Buffer): void {
    for (let off = 0; off < b.length; ) off += fs.writeSync(this.fd, b, off, b.length - off);
  }
}

/** ustar's prefix and name fields for `name`, or null when it does not fit them. */
function splitName(name: Buffer): [Buffer, Buffer] | null {
  if (name.length <= 100) return [Buffer.alloc(0), name];
  for (let i = name.indexOf('/'); i >= 0 && i <= 155; i = name.indexOf('/', i + 1)) {
    if (name.length - i - 1 <= 100 && name.length - i - 1 > 0) return [name.subarray(0, i), name.subarray(i + 1)];
  }
  return null;
}

function paxRecord(key: string, value: Buffer): Buffer {
  const tail = Buffer.concat([Buffer.from(` ${key}=`, 'latin1'), value, Buffer.from('\n')]);
  // The length counts its own digits.
  let len = tail.length + 1;
  while (String(len).length + tail.length !== len) len = String(len).length + tail.length;
  return Buffer.concat([Buffer.from(String(len)), tail]);
}

function padded(b: Buffer): Buffer {
  return Buffer.concat([b, Buffer.alloc((BLOCK - (b.length % BLOCK)) % BLOCK)]);
}

/** An octal field of `width` bytes (digits, then NUL); 0 when the value needs a pax record instead. */
function octal(n: number, width: number): string {
  const s = n.toString(8);
  return s.length < width ? s.padStart(width - 1, '0') : '0'.repeat(width - 1);
}

function header(e: TarEntry | (Omit<TarEntry, 'type'> & { type: 'x' }), [prefix, name]: [Buffer, Buffer]): Buffer {
  const h = Buffer.alloc(BLOCK);
  name.copy(h, 0);
  h.write(octal(e.mode & 0o7777, 8), 100, 'latin1');
  h.write(octal(e.uid, 8), 108, 'latin1');
  h.write(octal(e.gid, 8), 116, 'latin1');
  h.write(octal(e.size, 12), 124, 'latin1');
  h.write(octal(Math.max(0, Math.floor(e.mtime)), 12), 136, 'latin1');
  h.write(e.type, 156, 'latin1');
  const link = Buffer.from(e.linkname ?? '', 'latin1');
  if (link.length <= 100) link.copy(h, 157);
  h.write('ustar\x0000', 257, 'latin1');
  h.write(octal(e.devmajor ?? 0, 8), 329, 'latin1');
  h.write(octal(e.devminor ?? 0, 8), 337, 'latin1');
  prefix.copy(h, 345);
  // The checksum: the sum of the header's bytes with its own field as spaces.
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}
