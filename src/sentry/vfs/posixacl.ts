// POSIX ACLs of the Sentry's in-memory files (tmpfs, the overlay's upper
// layer), as Linux's fs/posix_acl.c keeps them for tmpfs: the xattr form
// parsed and validated, folded into the mode, kept in step with chmod,
// inherited from a directory's default ACL, and checked at every access.
// Entry ids are the guest's (its user namespace's): the in-memory nodes hold
// owners as the guest sees them, and so do their ACLs.
import {
  ACL_GROUP,
  ACL_GROUP_OBJ,
  ACL_MASK,
  ACL_OTHER,
  ACL_UNDEFINED_ID,
  ACL_USER,
  ACL_USER_OBJ,
  POSIX_ACL_XATTR_VERSION,
  S_IRWXG,
  S_IRWXU,
  S_ISGID,
  XATTR_POSIX_ACL_ACCESS,
  XATTR_POSIX_ACL_DEFAULT,
} from '../../abi/linux.js';
import type { Stat } from '../../abi/structs.js';
import { type Creds, hostIdOf, inGroup, permitted } from '../creds.js';
import { fail } from '../errors.js';

export interface AclEntry {
  tag: number;
  perm: number;
  /** the named user's or group's id; ACL_UNDEFINED_ID for the other tags */
  id: number;
}
export type Acl = AclEntry[];

const HEADER = 4;
const ENTRY = 8;

export function isAclName(name: string): boolean {
  return name === XATTR_POSIX_ACL_ACCESS || name === XATTR_POSIX_ACL_DEFAULT;
}

/**
 * posix_acl_from_xattr: null for a value without entries (which removes
 * the ACL). EOPNOTSUPP for another version; EINVAL for a malformed value,
 * an unknown tag or a named id the guest's user namespace does not map.
 */
export function parseAcl(value: Buffer): Acl | null {
  if (value.length < HEADER) fail('EINVAL');
  if (value.readUInt32LE(0) !== POSIX_ACL_XATTR_VERSION) fail('EOPNOTSUPP');
  if ((value.length - HEADER) % ENTRY) fail('EINVAL');
  const acl = decodeAcl(value);
  for (const e of acl) {
    if (e.tag === ACL_USER || e.tag === ACL_GROUP) {
      if (e.id === ACL_UNDEFINED_ID || hostIdOf(e.tag === ACL_USER ? 'uid' : 'gid', e.id) < 0) fail('EINVAL');
    } else if (e.tag !== ACL_USER_OBJ && e.tag !== ACL_GROUP_OBJ && e.tag !== ACL_MASK && e.tag !== ACL_OTHER) {
      fail('EINVAL');
    }
  }
  return acl.length ? acl : null;
}

/** The entries of an ACL's xattr form as they are (a stored one: parsed when it was set, or the host's at a copy-up). */
export function decodeAcl(value: Buffer): Acl {
  const acl: Acl = [];
  for (let off = HEADER; off + ENTRY <= value.length; off += ENTRY) {
    const tag = value.readUInt16LE(off);
    const named = tag === ACL_USER || tag === ACL_GROUP;
    acl.push({ tag, perm: value.readUInt16LE(off + 2), id: named ? value.readUInt32LE(off + 4) : ACL_UNDEFINED_ID });
  }
  return acl;
}

/**
 * An ACL's xattr value with the id of each named user and group replaced by
 * `map`'s; a value that is not a version-2 ACL as it is (its kernel judges it).
 */
export function mapAclIds(value: Buffer, map: (kind: 'uid' | 'gid', id: number) => number): Buffer {
  if (value.length < HEADER || (value.length - HEADER) % ENTRY || value.readUInt32LE(0) !== POSIX_ACL_XATTR_VERSION) return value;
  const out = Buffer.from(value);
  for (let off = HEADER; off < out.length; off += ENTRY) {
    const tag = out.readUInt16LE(off);
    if (tag === ACL_USER || tag === ACL_GROUP) out.writeUInt32LE(map(tag === ACL_USER ? 'uid' : 'gid', out.readUInt32LE(off + 4)) >>> 0, off + 4);
  }
  return out;
}

/** posix_acl_to_xattr */
export function aclBytes(acl: Acl): Buffer {
  const b = Buffer.alloc(HEADER + acl.length * ENTRY);
  b.writeUInt32LE(POSIX_ACL_XATTR_VERSION, 0);
  acl.forEach((e, i) => {
    b.writeUInt16LE(e.tag, HEADER + i * ENTRY);
    b.writeUInt16LE(e.perm, HEADER + i * ENTRY + 2);
    b.writeUInt32LE(e.id, HEADER + i * ENTRY + 4);
  });
  return b;
}

/** posix_acl_valid's order: for each tag but ACL_OTHER, the state it may come in and the state after it (0: none may follow). */
const ORDER: ReadonlyMap<number, readonly [number, number]> = new Map([
  [ACL_USER_OBJ, [ACL_USER_OBJ, ACL_USER]],
  [ACL_USER, [ACL_USER, ACL_USER]],
  [ACL_GROUP_OBJ, [ACL_USER, ACL_GROUP]],
  [ACL_GROUP, [ACL_GROUP, ACL_GROUP]],
  [ACL_MASK, [ACL_GROUP, ACL_OTHER]],
] as const);

/**
 * posix_acl_valid: permissions rwx at most; USER_OBJ, named users,
 * GROUP_OBJ, named groups, MASK, OTHER in that order, each required one
 * once, and a MASK wherever there are named entries. EINVAL otherwise.
 */
export function validateAcl(acl: Acl): void {
  let state = ACL_USER_OBJ;
  let needsMask = false;
  for (const e of acl) {
    if (e.perm & ~7) fail('EINVAL');
    if (e.tag === ACL_OTHER) {
      if (state !== ACL_OTHER && (state !== ACL_GROUP || needsMask)) fail('EINVAL');
      state = 0;
      continue;
    }
    const step = ORDER.get(e.tag);
    if (!step || state !== step[0]) fail('EINVAL');
    state = step[1];
    if (e.tag === ACL_USER || e.tag === ACL_GROUP) needsMask = true;
  }
  if (state !== 0) fail('EINVAL');
}

/**
 * posix_acl_equiv_mode: the permission bits `mode` takes from a valid
 * access ACL, and whether the ACL says more than they do (a MASK or named
 * entries: then it is kept).
 */
export function aclMode(acl: Acl, mode: number): { mode: number; extended: boolean } {
  let bits = 0;
  let extended = false;
  for (const e of acl) {
    const p = e.perm & 7;
    if (e.tag === ACL_USER_OBJ) bits |= p << 6;
    else if (e.tag === ACL_GROUP_OBJ) bits |= p << 3;
    else if (e.tag === ACL_OTHER) bits |= p;
    else if (e.tag === ACL_MASK) {
      bits = (bits & ~S_IRWXG) | (p << 3);
      extended = true;
    } else extended = true;
  }
  return { mode: (mode & ~0o777) | bits, extended };
}

/**
 * posix_acl_update_mode: the mode an access ACL (null: its removal) leaves,
 * less S_ISGID for a caller outside the owning group without CAP_FSETID
 * (`keepSgid` false); the ACL to keep, null when the mode says it all.
 */
export function updateMode(acl: Acl | null, mode: number, keepSgid: boolean): { mode: number; keep: Acl | null } {
  const r = acl ? aclMode(acl, mode) : { mode, extended: false };
  return { mode: keepSgid ? r.mode : r.mode & ~S_ISGID, keep: r.extended ? acl : null };
}

/** __posix_acl_chmod: an access ACL after a chmod to `mode` (owner, MASK or GROUP_OBJ, other follow it). */
export function chmodAcl(acl: Acl, mode: number): Acl {
  const hasMask = acl.some((e) => e.tag === ACL_MASK);
  return acl.map((e) => {
    if (e.tag === ACL_USER_OBJ) return { ...e, perm: (mode & S_IRWXU) >> 6 };
    if (e.tag === ACL_OTHER) return { ...e, perm: mode & 7 };
    if (e.tag === (hasMask ? ACL_MASK : ACL_GROUP_OBJ)) return { ...e, perm: (mode & S_IRWXG) >> 3 };
    return e;
  });
}

/**
 * posix_acl_create_masq: a new node's access ACL from its directory's
 * default ACL and the creation mode (no umask: the default ACL replaces
 * it): each meets the other in the owner, MASK (else GROUP_OBJ) and other
 * permissions. The ACL is null when the mode says it all.
 */
export function inheritAcl(dflt: Acl, mode: number): { mode: number; access: Acl | null } {
  let m = mode;
  let extended = false;
  const acl = dflt.map((e) => ({ ...e }));
  for (const e of acl) {
    if (e.tag === ACL_USER_OBJ) {
      e.perm &= (m >> 6) | ~7;
      m &= (e.perm << 6) | ~S_IRWXU;
    } else if (e.tag === ACL_OTHER) {
      e.perm &= m | ~7;
      m &= e.perm | ~7;
    } else if (e.tag !== ACL_GROUP_OBJ) extended = true;
  }
  const g = acl.find((e) => e.tag === ACL_MASK) ?? acl.find((e) => e.tag === ACL_GROUP_OBJ)!;
  g.perm &= (m >> 3) | ~7;
  m &= (g.perm << 3) | ~S_IRWXG;
  return { mode: m, access: extended ? acl : null };
}

/** generic_permission for a node with access ACL `acl` (null: none), attributes `st`. */
export function aclPermitted(c: Creds, st: Stat, want: number, acl: Acl | null): boolean {
  return permitted(c, st.mode, st.uid, st.gid, want, acl ? () => aclGrants(c, acl, st.gid, want) : undefined);
}

/**
 * posix_acl_permission for a caller that is not the owner (acl_permission_check
 * decides the owner's by the mode): the first named user, then the owning or
 * named groups (any of them granting), each limited by the MASK, then other.
 */
function aclGrants(c: Creds, acl: Acl, gid: number, want: number): boolean {
  want &= 7;
  const mask = acl.find((e) => e.tag === ACL_MASK)?.perm ?? 7;
  let inAGroup = false;
  for (const e of acl) {
    if (e.tag === ACL_USER && e.id === c.fsuid) return (e.perm & mask & want) === want;
    if ((e.tag === ACL_GROUP_OBJ && inGroup(c, gid)) || (e.tag === ACL_GROUP && inGroup(c, e.id))) {
      inAGroup = true;
      if ((e.perm & want) === want) return (e.perm & mask & want) === want;
    }
    if (e.tag === ACL_OTHER) return !inAGroup && (e.perm & want) === want;
  }
  return false;
}
