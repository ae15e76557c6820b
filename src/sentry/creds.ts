// Credentials of a guest task as the sandbox sees them, and the DAC checks the
// Sentry makes with them before acting on the guest's behalf.
import fs from 'node:fs';
import {
  CAP_CHOWN,
  CAP_DAC_OVERRIDE,
  CAP_DAC_READ_SEARCH,
  CAP_FOWNER,
  CAP_FSETID,
  CAP_MKNOD,
  CAP_SYS_ADMIN,
  CAP_SYS_CHROOT,
  OVERFLOW_ID,
  R_OK,
  UNMAPPED_ID,
  S_IFDIR,
  S_IFMT,
  S_ISVTX,
  W_OK,
  X_OK,
} from '../abi/linux.js';
import { fail } from './errors.js';
import { IdMap, type IdMaps, TSVISOR_IDS, through } from './idmap.js';
import type { Node } from './vfs/node.js';
import type { Stat } from '../abi/structs.js';

export interface Creds {
  uid: number;
  gid: number;
  euid: number;
  egid: number;
  fsuid: number;
  fsgid: number;
  groups: readonly number[];
  /** effective capabilities, as a bigint mask */
  capEff: bigint;
  /** permitted capabilities, when read from the host (readCreds) */
  capPrm?: bigint;
  /**
   * no_new_privs. A prctl that sets it runs natively without a stop, so a
   * cached value may still say false: only an optimisation relies on it
   * (setid.ts), the kernel applies the task's own at the exec.
   */
  noNewPrivs: boolean;
}

export const ROOT_CREDS: Creds = {
  uid: 0, gid: 0, euid: 0, egid: 0, fsuid: 0, fsgid: 0, groups: [], capEff: (1n << 41n) - 1n, noNewPrivs: false,
};

export function hasCap(c: Creds, cap: number): boolean {
  return (c.capEff & (1n << BigInt(cap))) !== 0n;
}

export function inGroup(c: Creds, gid: number): boolean {
  return c.fsgid === gid || c.groups.includes(gid);
}

/**
 * generic_permission(): may `c` access an inode with `mode`/`uid`/`gid` for
 * `want` (R_OK|W_OK|X_OK)? `aclGrants` decides for a caller other than the
 * owner when the inode has an access ACL (and group bits, as Linux asks).
 */
export function permitted(c: Creds, mode: number, uid: number, gid: number, want: number, aclGrants?: () => boolean): boolean {
  if (want === 0) return true;
  let granted: boolean;
  if (c.fsuid === uid) granted = ((mode >> 6) & 7 & want) === want;
  else if (aclGrants && mode & 0o070) granted = aclGrants();
  else granted = ((inGroup(c, gid) ? (mode >> 3) & 7 : mode & 7) & want) === want;
  if (granted) return true;
  // Linux applies capabilities only to an inode whose owner and group the namespace maps (capable_wrt_inode_uidgid).
  if (uid === UNMAPPED_ID || gid === UNMAPPED_ID) return false;
  const isDir = (mode & S_IFMT) === S_IFDIR;
  // CAP_DAC_OVERRIDE: everything except executing a file with no x bit at all.
  if (hasCap(c, CAP_DAC_OVERRIDE)) {
    if (!(want & X_OK) || isDir || (mode & 0o111) !== 0) return true;
  }
  // CAP_DAC_READ_SEARCH: read any file, read and search any directory.
  if (hasCap(c, CAP_DAC_READ_SEARCH)) {
    if (want === R_OK || (isDir && (want & W_OK) === 0)) return true;
  }
  return false;
}

/** EACCES unless `node` (attributes `st`) permits `want` to `c`: its mode, or its file system's rule (an ACL). */
export function requireAccess(c: Creds, node: Node, st: Stat, want: number): void {
  if (!node.permits(c, st, want)) fail('EACCES');
}

/** inode_owner_or_capable() */
export function ownerOrCapable(c: Creds, uid: number): boolean {
  return c.fsuid === uid || (uid !== UNMAPPED_ID && hasCap(c, CAP_FOWNER));
}

/** May `c` remove or rename an entry owned by `uid` from a directory (sticky bit rule)? */
export function mayDeleteChild(c: Creds, dirMode: number, dirUid: number, childUid: number): boolean {
  if (!(dirMode & S_ISVTX)) return true;
  return c.fsuid === childUid || c.fsuid === dirUid || (childUid !== UNMAPPED_ID && hasCap(c, CAP_FOWNER));
}

export const caps = { CAP_CHOWN, CAP_FOWNER, CAP_FSETID, CAP_MKNOD, CAP_SYS_ADMIN, CAP_SYS_CHROOT };

/**
 * The guest's user namespace on the host (idmap.ts): tsvisor's own range, or
 * the spec's mappings. Set before the guest starts (useGuestIds).
 */
let guest: IdMaps = TSVISOR_IDS;
/** File owners (idmap.ts): how a host id the guest's namespace does not map shows. */
let files = new IdMap(null);

/** The sandbox's ids: its processes' user namespace, and file owners. */
export function useGuestIds(maps: IdMaps, fileIds: IdMap): void {
  guest = maps;
  files = fileIds;
}

/**
 * Rootless (docs/design.md, "Rootless"): the guest runs as the caller, its
 * user namespace mapping only the caller's uid and gid, to themselves. Ids
 * are then the host's on both sides.
 */
let caller: { uid: number; gid: number } | null = null;

/** The guest is the caller (a sandbox of an ordinary user); set before it starts. */
export function useCallerIds(uid: number, gid: number): void {
  caller = { uid, gid };
}

/** A uid or a gid: the guest's namespace maps them apart. */
export type IdKind = 'uid' | 'gid';

/** Whether a host uid/gid has a sandbox id (Linux applies a namespace's capabilities only to files whose ids are mapped). */
export function isMappedHostId(kind: IdKind, hostId: number): boolean {
  if (caller) return hostId === caller[kind];
  return through(guest[kind], hostId, 'hostID') >= 0;
}

/**
 * A host file's owner as the sandbox shows it: the id the guest's namespace
 * maps it to, else as file owners show (without a user namespace in the
 * spec, host root's as it is; with one, the overflow id).
 */
export function ownerInSandbox(kind: IdKind, hostId: number): number {
  if (caller) return hostId;
  const id = through(guest[kind], hostId, 'hostID');
  if (id >= 0) return id;
  return kind === 'uid' ? files.uidFromHost(hostId) : files.gidFromHost(hostId);
}

/**
 * A host id as the Sentry takes a sandbox process's: its mapped id, or the
 * overflow id (65534) when unmapped. Rootless, the host's own (the caller's
 * supplementary groups keep their numbers for the Sentry's checks, as the
 * kernel keeps them for its own).
 */
export function toSandboxId(kind: IdKind, hostId: number): number {
  if (caller) return hostId;
  const id = through(guest[kind], hostId, 'hostID');
  return id >= 0 ? id : OVERFLOW_ID;
}

/** The host id of a sandbox uid/gid the guest names (to chown, in credentials it sends), or -1 where none maps to it. */
export function hostIdOf(kind: IdKind, id: number): number {
  if (caller) return id >= 0 ? id : -1;
  return id >= 0 ? through(guest[kind], id, 'containerID') : -1;
}

/**
 * Reads a task's credentials from /proc/<tid>/status. The Sentry sees host
 * ids there and maps them back into the sandbox's range. Only called while
 * the task is stopped in a trap, so the values cannot change underneath.
 */
export function readCreds(tid: number): Creds | null {
  const st = readStatus(tid);
  if (!st) return null;
  const [uid = 0, euid = 0, , fsuid = 0] = st.ids('Uid', 'uid');
  const [gid = 0, egid = 0, , fsgid = 0] = st.ids('Gid', 'gid');
  const groups = st.ids('Groups', 'gid');
  const capEff = BigInt(`0x${st.line('CapEff') || '0'}`);
  const capPrm = BigInt(`0x${st.line('CapPrm') || '0'}`);
  return { uid, gid, euid, egid, fsuid, fsgid, groups, capEff, capPrm, noNewPrivs: st.line('NoNewPrivs') !== '0' };
}

/** A task's /proc/<tid>/status: its lines by key, and id lines mapped into the sandbox. */
function readStatus(tid: number): { line: (key: string) => string; ids: (key: string, kind: IdKind) => number[] } | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${tid}/status`, 'latin1');
  } catch {
    return null;
  }
  const line = (key: string) => {
    const i = text.indexOf(`\n${key}:`);
    if (i < 0) return '';
    const j = text.indexOf('\n', i + 1);
    return text.slice(i + key.length + 2, j < 0 ? undefined : j).trim();
  };
  return { line, ids: (key: string, kind: IdKind) => line(key).split(/\s+/).filter(Boolean).map((v) => toSandboxId(kind, Number(v))) };
}

/**
 * Linux's __ptrace_may_access for a caller without CAP_SYS_PTRACE and with
 * filesystem ids `fsuid`/`fsgid` and effective capabilities `capEff`: the
 * target's real, effective and saved ids must all be the caller's, its
 * permitted capabilities among the caller's effective ones
 * (cap_ptrace_access_check: a root process that dropped its capabilities
 * may not take them back from another's memory), and the target must be
 * dumpable: `dumpable`, the Sentry's record (Process.dumpable), and the
 * host's, which shows the files of a process that is not dumpable as owned
 * by its user namespace's root instead of its effective uid (for a root
 * target only the record tells).
 */
export function mayTrace(tgid: number, dumpable: boolean, fsuid: number, fsgid: number, capEff: bigint): boolean {
  if (!dumpable) return false;
  const st = readStatus(tgid);
  if (!st) return false;
  const [uid, euid, suid] = st.ids('Uid', 'uid');
  const [gid, egid, sgid] = st.ids('Gid', 'gid');
  if (![uid, euid, suid].every((id) => id === fsuid) || ![gid, egid, sgid].every((id) => id === fsgid)) return false;
  if ((BigInt(`0x${st.line('CapPrm') || '0'}`) & ~capEff) !== 0n) return false;
  try {
    // A file: the directory itself always shows the effective uid.
    return fs.statSync(`/proc/${tgid}/mem`).uid === hostIdOf('uid', fsuid);
  } catch {
    return false;
  }
}

/** The credentials Linux's commit_creds compares to decide whether a change makes a process not dumpable. */
export interface DumpCreds {
  uid: number;
  euid: number;
  gid: number;
  egid: number;
  fsuid: number;
  fsgid: number;
  capPrm: bigint;
}

/** The DumpCreds of credentials read from the host (readCreds), or null. */
export function dumpCreds(c: Creds | null | undefined): DumpCreds | null {
  return c?.capPrm === undefined ? null : { ...c, capPrm: c.capPrm };
}

/**
 * Whether going from `before` to `after` makes the process not dumpable
 * (commit_creds: an effective or filesystem id changed, or a permitted
 * capability was gained).
 */
export function dropsDumpable(before: DumpCreds, after: DumpCreds): boolean {
  return before.euid !== after.euid || before.egid !== after.egid || before.fsuid !== after.fsuid || before.fsgid !== after.fsgid || (after.capPrm & ~before.capPrm) !== 0n;
}

/**
 * What a process is when Linux makes it not dumpable: the host's
 * fs.suid_dumpable, which only at 1 (SUID_DUMP_USER) leaves it dumpable for
 * ptrace's checks.
 */
export function suidDumpable(): boolean {
  try {
    return fs.readFileSync('/proc/sys/fs/suid_dumpable', 'latin1').trim() === '1';
  } catch {
    return false;
  }
}
