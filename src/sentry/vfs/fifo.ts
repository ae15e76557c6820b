// FIFOs. The guest's ends of a FIFO are ends of a host pipe (an in-memory
// FIFO) or of the host FIFO itself (the Gofer's files), opened by the Sentry
// through an O_PATH fd of it, so reads, writes, polls and the reader and
// writer counts are the host kernel's. Opens the host would block (a reader
// waiting for a writer, a writer for a reader) are opened without blocking
// and answered later, once the other side came:
//   - a waiting reader holds its (non-blocking) end, so it counts as a
//     reader as on Linux; it is done when a writer exists (tee(2) on its end
//     reports EAGAIN, not end of file) or when the Sentry opened a writer;
//   - a waiting writer retries a non-blocking open, which succeeds once a
//     reader exists.
// The Sentry's own opens wake the waiters at once; a timer notices the rest
// (ends opened outside the Sentry) and drops waiters whose notification is
// gone (the guest's call was interrupted by a signal, or it died).
import fs from 'node:fs';
import { O_ACCMODE, O_CLOEXEC, O_NONBLOCK, O_PATH, O_RDONLY, O_RDWR, O_WRONLY, SECCOMP_ADDFD_FLAG_SEND, S_IFIFO } from '../../abi/linux.js';
import { ERRNO } from '../../abi/errno.js';
import { STATX, STATX_FIELDS, native } from '../../platform/native.js';
import { REPLIED } from '../../platform/notif.js';
import { check, fail, ownFd } from '../errors.js';
import { BoundedLru } from '../lru.js';
import { openHeldInode } from './storage.js';
import type { OpenFile } from '../files.js';
import type { Kernel } from '../kernel.js';

const SPLICE_F_NONBLOCK = 2;
/** the kernel's "restart the call if the handler has SA_RESTART, else EINTR" */
const ERESTARTSYS = 512;
/** Opens waiting for the other side at once; past it an open fails with ENFILE. */
const WAITERS_MAX = 1024;
const POLL_MS = 10;

interface Waiter {
  k: Kernel;
  id: bigint;
  tid: number;
  flags: number;
  file: OpenFile;
  /** an O_PATH fd of the FIFO (owned) */
  path: number;
  /** the reader's end, held while it waits; -1 for a writer */
  end: number;
  /** a writer (for a reader) or a reader (for a writer) was opened by the Sentry since it began to wait */
  partner: boolean;
}

const waiters = new Map<string, Set<Waiter>>();
let count = 0;
let timer: NodeJS.Timeout | null = null;
const sx = new Float64Array(STATX_FIELDS);

function keyOf(fd: number): string {
  check(native.statxFd(fd, sx));
  return `${sx[STATX.devMajor]}:${sx[STATX.devMinor]}:${sx[STATX.ino]}`;
}

/** A scratch pipe that tee(2) copies into: it tells whether a reader's pipe has writers without taking its data. */
let scratch: [number, number] | null = null;

function hasWriter(end: number): boolean {
  if (!scratch) {
    const p = native.pipe(O_CLOEXEC | O_NONBLOCK);
    if (typeof p === 'number') return false;
    scratch = [ownFd(p[0]), ownFd(p[1])];
  }
  const r = native.tee(end, scratch[1], 1, SPLICE_F_NONBLOCK);
  if (r > 0) {
    // The copy is dropped with the scratch pipe (a fresh one next time).
    native.close(scratch[0]);
    native.close(scratch[1]);
    scratch = null;
  }
  // Data waiting, or none and a writer (EAGAIN): a writer is or was there; end of file (0): none.
  return r !== 0;
}

/** Host pipes of in-memory FIFOs the Sentry holds an O_PATH fd of, least recently used first. */
const PIPES_MAX = 1024;
const pipes = new BoundedLru<object, number>(PIPES_MAX, (_owner, fd) => native.close(fd));
/** what each in-memory FIFO's pipe is, to find it again through a guest's end once its fd was dropped */
const pipeIds = new WeakMap<object, [number, number, number]>();

/** The Sentry's private tmpfs where in-memory FIFOs get their host FIFO (a pipe's reopen has no FIFO semantics). */
let fifoDir = -1;
let fifoSeq = 0;

/** An O_PATH fd of a new host FIFO, its name already removed. */
function newFifo(): number {
  if (fifoDir < 0) fifoDir = ownFd(native.tmpfsMount(4096, PIPES_MAX + 16));
  const name = (fifoSeq++).toString(36);
  const r = native.mknodat(fifoDir, name, S_IFIFO | 0o600, 0);
  if (r === -ERRNO.ENOSPC) fail('ENFILE');
  check(r);
  const fd = native.openat2(fifoDir, name, O_PATH | O_CLOEXEC, 0, 0);
  native.unlinkat(fifoDir, name, 0);
  return ownFd(fd);
}

/**
 * An O_PATH fd (the cache's, not the caller's) of the host pipe behind the
 * in-memory FIFO `owner`: the one its guest ends are ends of, else a new one
 * (a FIFO no one holds open has no state to keep).
 */
export function pipeOf(owner: object): number {
  let fd = pipes.get(owner);
  if (fd !== undefined) return fd;
  const id = pipeIds.get(owner);
  fd = id ? openHeldInode(id[0], id[1], id[2], O_PATH) : -1;
  if (fd < 0) fd = newFifo();
  check(native.statxFd(fd, sx));
  pipeIds.set(owner, [sx[STATX.devMajor]!, sx[STATX.devMinor]!, sx[STATX.ino]!]);
  pipes.set(owner, fd);
  return fd;
}

/** Opens one end of the FIFO behind O_PATH fd `path` for the current call of task `tid`; installs it, now or later. */
export function openFifo(k: Kernel, id: bigint, tid: number, path: number, flags: number, file: OpenFile): number {
  const acc = flags & O_ACCMODE;
  const blocking = !(flags & O_NONBLOCK) && acc !== O_RDWR;
  const fd = native.reopen(path, flags | O_NONBLOCK | O_CLOEXEC);
  // A writer without a reader: ENXIO, unless it may wait for one.
  if (fd < 0 && !(fd === -ERRNO.ENXIO && blocking)) check(fd);
  const key = keyOf(path);
  if (fd >= 0) {
    ownFd(fd);
    // Waiters see this end while it is the Sentry's, before it is installed (it may be closed at once).
    wake(key, acc !== O_WRONLY, acc !== O_RDONLY);
    if (!blocking || acc === O_WRONLY || hasWriter(fd)) return install(k, id, tid, fd, flags, file);
  }
  if (count >= WAITERS_MAX) {
    if (fd >= 0) native.close(fd);
    fail('ENFILE');
  }
  const w: Waiter = { k, id, tid, flags, file, path: ownFd(native.dup(path)), end: fd, partner: false };
  let set = waiters.get(key);
  if (!set) waiters.set(key, (set = new Set()));
  set.add(w);
  count++;
  timer ??= setInterval(poll, POLL_MS);
  return REPLIED;
}

function install(k: Kernel, id: bigint, tid: number, fd: number, flags: number, file: OpenFile): number {
  // The end keeps the guest's O_NONBLOCK, not the one the Sentry opened it with.
  if (!(flags & O_NONBLOCK)) native.fcntlSetfl(fd, native.fcntlGetfl(fd) & ~O_NONBLOCK);
  try {
    k.files.register(fd, file);
  } catch (e) {
    native.close(fd);
    throw e;
  }
  const r = native.notifAddFd(k.channel.fd, id, fd, flags & O_CLOEXEC, SECCOMP_ADDFD_FLAG_SEND, 0, tid);
  native.close(fd);
  return r < 0 ? r : REPLIED;
}

/** A reader (`reader`) or a writer (`writer`) of FIFO `key` was opened: waiters for it may go on. */
function wake(key: string, reader: boolean, writer: boolean): void {
  const set = waiters.get(key);
  if (!set) return;
  for (const w of set) {
    const isReader = w.end >= 0;
    if ((isReader && writer) || (!isReader && reader)) w.partner = true;
    settle(key, set, w);
  }
}

/**
 * A signal the task does not block is pending. The guest waits for the
 * Sentry's answer with signals held back (WAIT_KILLABLE_RECV), so a waiting
 * open ends with ERESTARTSYS itself: the kernel then runs the handler and
 * restarts the open (SA_RESTART) or returns EINTR, as for a blocking open.
 */
function signalPending(tid: number): boolean {
  let status: string;
  try {
    status = fs.readFileSync(`/proc/${tid}/status`, 'latin1');
  } catch {
    return false;
  }
  const mask = (name: string): bigint => {
    const m = new RegExp(`^${name}:\\s*([0-9a-f]+)$`, 'm').exec(status);
    return m ? BigInt(`0x${m[1]}`) : 0n;
  };
  return ((mask('SigPnd') | mask('ShdPnd')) & ~mask('SigBlk')) !== 0n;
}

/** Finishes waiter `w` if its other side came, or drops it if its call is gone. */
function settle(key: string, set: Set<Waiter>, w: Waiter): void {
  const ch = w.k.channel;
  const gone = !ch.valid(w.id);
  /** the end to install, or a negative errno for the guest */
  let result = 0;
  if (gone) {
    result = 0;
  } else if (signalPending(w.tid)) {
    result = -ERESTARTSYS;
  } else if (w.end >= 0) {
    if (!w.partner && !hasWriter(w.end)) return;
    result = w.end;
  } else {
    const r = native.reopen(w.path, w.flags | O_NONBLOCK | O_CLOEXEC);
    if (r === -ERRNO.ENXIO) return;
    result = r;
  }
  set.delete(w);
  if (!set.size) waiters.delete(key);
  if (--count === 0 && timer) {
    clearInterval(timer);
    timer = null;
  }
  native.close(w.path);
  if (gone) {
    if (w.end >= 0) native.close(w.end);
    return;
  }
  if (result < 0) {
    if (w.end >= 0) native.close(w.end);
    return ch.replyLater(w.id, result);
  }
  if (w.end < 0) wake(key, false, true);
  let r: number;
  try {
    r = install(w.k, w.id, w.tid, ownFd(result), w.flags, w.file);
  } catch {
    r = -ERRNO.ENFILE;
  }
  if (r !== REPLIED) ch.replyLater(w.id, r);
}

function poll(): void {
  for (const [key, set] of [...waiters]) for (const w of [...set]) settle(key, set, w);
}

