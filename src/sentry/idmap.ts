// Ids between the sandbox and the host, in one place.
//
// The guest's processes run in a user namespace whose uid_map and gid_map
// the Sentry writes (kernel.ts): the OCI spec's own uidMappings and
// gidMappings when it asks for a user namespace (Docker's userns-remap,
// podman, Kubernetes user namespaces), so the host sees the ids runc's
// processes would have; otherwise, or when the spec's mappings would give a
// guest an id tsvisor itself runs as (host root above all), tsvisor's own
// range of unprivileged host ids (container 0-65535 -> host 1 000 000 000+).
//
// File owners: without a user namespace in the spec, ids are the same on
// both sides, as with runc (a file the container's root creates is owned by
// the host's root). With one, the spec's mappings say which host id each
// container id is: files are owned on the host by the mapped ids, and host
// ids outside the mappings show as the overflow id (the Sentry holds them as
// UNMAPPED_ID: no task is their owner, and no capability applies to them).

import { OVERFLOW_ID } from '../abi/linux.js';

/** One OCI mapping: container ids [containerID, containerID+size) are host ids [hostID, hostID+size). */
export interface IdRange {
  containerID: number;
  hostID: number;
  size: number;
}

/** A user namespace's uid_map and gid_map. */
export interface IdMaps {
  uid: readonly IdRange[];
  gid: readonly IdRange[];
}

/** tsvisor's own user namespace: container ids 0-65535, unprivileged host ids. */
const TSVISOR_RANGE: IdRange = { containerID: 0, hostID: 1_000_000_000, size: 65536 };
export const TSVISOR_IDS: IdMaps = { uid: [TSVISOR_RANGE], gid: [TSVISOR_RANGE] };

/** `id` through `ranges` from one side to the other; -1 when no range maps it. */
export function through(ranges: readonly IdRange[], id: number, from: 'containerID' | 'hostID'): number {
  const to = from === 'hostID' ? 'containerID' : 'hostID';
  for (const r of ranges) if (id >= r[from] && id < r[from] + r.size) return r[to] + (id - r[from]);
  return -1;
}

/** /proc/PID/uid_map (or gid_map) text of `ranges`, in Linux's own format (which it also reads). */
export function mapLines(ranges: readonly IdRange[]): string {
  const n = (v: number) => String(v).padStart(10);
  return ranges.map((r) => `${n(r.containerID)} ${n(r.hostID)} ${n(r.size)}\n`).join('');
}

/**
 * The user namespace the guest's processes run in: the spec's mappings
 * (`spec`, OCI linux.uidMappings/gidMappings of a user namespace) unless
 * absent or unsafe, else tsvisor's own, with the reason for a warning.
 * Unsafe: a host uid or gid 0, or an id tsvisor's own processes (the Sentry,
 * the Gofer and the launcher, which run as `own`) hold, would be a guest's,
 * and with it the kernel's checks by id (signals, ptrace, /proc, file owners
 * on the host) between the guest and tsvisor itself.
 */
export function guestIdMaps(spec: IdMaps | undefined, own: { uids: readonly number[]; gids: readonly number[] }): { maps: IdMaps; refused?: string } {
  if (!spec) return { maps: TSVISOR_IDS };
  if (!spec.uid.length || !spec.gid.length) {
    return { maps: TSVISOR_IDS, refused: `the spec's user namespace has no ${spec.uid.length ? 'gidMappings' : 'uidMappings'}` };
  }
  const held = (ranges: readonly IdRange[], ids: readonly number[]) => [0, ...ids].find((id) => through(ranges, id, 'hostID') >= 0);
  const uid = held(spec.uid, own.uids);
  const gid = held(spec.gid, own.gids);
  if (uid !== undefined || gid !== undefined) {
    const what = uid !== undefined ? `host uid ${uid}` : `host gid ${gid}`;
    return { maps: TSVISOR_IDS, refused: `the spec's uid/gid mappings include ${what}, which tsvisor never gives a guest` };
  }
  return { maps: spec };
}

/** File owners between the sandbox and the host. */
export class IdMap {
  /** null: ids are the same on both sides */
  constructor(private readonly ranges: IdMaps | null) {}

  uidToHost(id: number): number {
    return this.ranges ? orOverflow(through(this.ranges.uid, id, 'containerID')) : id;
  }

  /** A container id's host id; -1 where no mapping covers it. */
  hostId(kind: 'uid' | 'gid', id: number): number {
    return this.ranges ? through(this.ranges[kind], id, 'containerID') : id;
  }

  gidToHost(id: number): number {
    return this.ranges ? orOverflow(through(this.ranges.gid, id, 'containerID')) : id;
  }

  uidFromHost(id: number): number {
    return this.ranges ? orOverflow(through(this.ranges.uid, id, 'hostID')) : id;
  }

  gidFromHost(id: number): number {
    return this.ranges ? orOverflow(through(this.ranges.gid, id, 'hostID')) : id;
  }

  /** Whether host id `id` has a container id (else the container sees the overflow id in its place). */
  mapsHost(kind: 'uid' | 'gid', id: number): boolean {
    return !this.ranges || through(this.ranges[kind], id, 'hostID') >= 0;
  }
}

function orOverflow(id: number): number {
  return id < 0 ? OVERFLOW_ID : id;
}
