// /proc/[pid]/oom_score_adj as the sandbox sees it.
//
// Linux lets a writer holding CAP_SYS_RESOURCE set any value in -1000..1000
// (and makes it the process's floor, oom_score_adj_min); others may not go
// below the floor (EACCES). The host checks that capability in its initial
// user namespace, where no guest is, so a guest's privileged write would
// fail there whatever capabilities the sandbox gave it. Such a value is kept
// by the Sentry instead: from a privileged open on, the process's value is
// virtual, and the host's own follows it only upwards (the host's OOM killer
// never spares a guest more than it spared the sandbox). Until then, and for
// unprivileged writers, the guest writes the host's file, whose checks are
// Linux's for an unprivileged writer.
//
// A write into a virtual value lands in a memfd the Sentry reads back at the
// next look at the value (a read of oom_score_adj or oom_score, a fork, an
// exec), so its errors (EINVAL for text that is not a number in range,
// EACCES for an unprivileged writer going below the floor) cannot reach the
// write: the value is left unchanged instead.
import fs from 'node:fs';
import { O_ACCMODE, O_REOPEN_FLAGS, O_WRONLY } from '../abi/linux.js';
import { native } from '../platform/native.js';
import { check } from './errors.js';
import { memfdHolding } from './memfd.js';

export const OOM_SCORE_ADJ_MIN = -1000;
export const OOM_SCORE_ADJ_MAX = 1000;
/** Write fds of virtual values the Sentry holds at most, all processes together: past it the oldest is read and dropped. */
const PENDING_MAX = 64;
/** Bytes of a write read back: Linux reads at most 13 (PROC_NUMBUF - 1), so more is not a number in range. */
const TEXT_MAX = 64;

interface Pending {
  owner: OomScoreAdj;
  /** host tgid of the process whose value it is */
  tgid: number;
  /** the Sentry's fd of the memfd the guest writes */
  fd: number;
  /** the opener held CAP_SYS_RESOURCE */
  privileged: boolean;
  /** bytes the memfd held before the guest's writes (the value, for an O_RDWR open) */
  base: number;
}

interface Virtual {
  value: number;
  /** oom_score_adj_min */
  min: number;
  /** the host's value when the Sentry took over: the host's never goes below it */
  floor: number;
}

function hostPath(tgid: number): string {
  return `/proc/${tgid}/oom_score_adj`;
}

function hostValue(tgid: number): number {
  try {
    return Number(fs.readFileSync(hostPath(tgid), 'latin1').trim()) || 0;
  } catch {
    return 0;
  }
}

/** Linux's kstrtoint with base 0 of the stripped text (decimal, 0x hex, 0 octal), or null. */
function parse(text: string): number | null {
  const m = /^([+-]?)(0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*)$/i.exec(text);
  if (!m) return null;
  const d = m[2]!;
  const v = /^0x/i.test(d) ? parseInt(d.slice(2), 16) : d.length > 1 && d[0] === '0' ? parseInt(d, 8) : Number(d);
  return m[1] === '-' ? -v : v;
}

/** Every held write fd, oldest first. */
const held: Pending[] = [];

export class OomScoreAdj {
  private virtual: Virtual | undefined;
  private pending: Pending[] = [];

  /** A forked process's: the parent's, with the parent's writes so far applied. */
  child(): OomScoreAdj {
    this.settle();
    const c = new OomScoreAdj();
    if (this.virtual) c.virtual = { ...this.virtual };
    return c;
  }

  /** The value, as /proc/[pid]/oom_score_adj shows it. */
  value(tgid: number): number {
    this.settle();
    return this.virtual ? this.virtual.value : hostValue(tgid);
  }

  /**
   * /proc/[pid]/oom_score from the host's (`host`), moved by what a virtual value moves
   * Linux's (two thirds of a point per unit; 0 at -1000), within ±1 of
   * Linux's rounding.
   */
  score(tgid: number, host: string): string {
    this.settle();
    const v = this.virtual;
    if (!v) return host;
    if (v.value === OOM_SCORE_ADJ_MIN) return '0\n';
    const moved = Number(host.trim()) + Math.trunc(((v.value - hostValue(tgid)) * 2) / 3);
    return `${Math.min(Math.max(moved, 0), 2 * OOM_SCORE_ADJ_MAX)}\n`;
  }

  /** An fd for a guest opening the file with write access (open(2) `flags`); `privileged`: it holds CAP_SYS_RESOURCE. */
  openWrite(tgid: number, flags: number, privileged: boolean): number {
    const acc = flags & O_ACCMODE;
    if (!this.virtual && !privileged) return fs.openSync(hostPath(tgid), flags & O_REOPEN_FLAGS);
    if (!this.virtual) {
      const now = hostValue(tgid);
      this.virtual = { value: now, min: now, floor: now };
    }
    const text = acc === O_WRONLY ? '' : `${this.virtual.value}\n`;
    const m = memfdHolding('oom_score_adj', text);
    try {
      const fd = check(native.reopen(m, flags & O_REOPEN_FLAGS));
      const p: Pending = { owner: this, tgid, fd: m, privileged, base: text.length };
      this.pending.push(p);
      held.push(p);
      if (held.length > PENDING_MAX) held[0]!.owner.drop(held[0]!);
      return fd;
    } catch (e) {
      native.close(m);
      throw e;
    }
  }

  /** The process is gone: its write fds are not read again. */
  release(): void {
    for (const p of this.pending) {
      native.close(p.fd);
      held.splice(held.indexOf(p), 1);
    }
    this.pending = [];
  }

  /** Applies what guests wrote since the last look. */
  settle(): void {
    for (const p of this.pending) this.apply(p);
  }

  /** Applies `p` a last time and lets it go (its fd stays the guest's, unread). */
  private drop(p: Pending): void {
    this.apply(p);
    native.close(p.fd);
    this.pending.splice(this.pending.indexOf(p), 1);
    held.splice(held.indexOf(p), 1);
  }

  private apply(p: Pending): void {
    const v = this.virtual!;
    // The end of what was written (the guest's own offset placed it there).
    const size = fs.fstatSync(p.fd).size;
    if (size <= p.base) return;
    const from = Math.max(p.base, size - TEXT_MAX);
    const bytes = Buffer.alloc(size - from);
    fs.readSync(p.fd, bytes, 0, bytes.length, from);
    // Consumed: a later write through the same fd lands past the truncation, after NULs.
    native.ftruncate(p.fd, 0);
    p.base = 0;
    const written = bytes.toString('latin1').replace(/^\0+/, '');
    const n = parse(written.split('\0')[0]!.trim());
    if (n === null || n < OOM_SCORE_ADJ_MIN || n > OOM_SCORE_ADJ_MAX) return;
    if (n < v.min && !p.privileged) return;
    v.value = n;
    if (p.privileged) v.min = n;
    try {
      fs.writeFileSync(hostPath(p.tgid), String(Math.max(n, v.floor)));
    } catch {
      // The host refused to lower its value back towards the floor: it stays higher.
    }
  }
}
