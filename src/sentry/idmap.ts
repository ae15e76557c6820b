// File owners between the sandbox and the host. Without a user namespace in
// the spec, ids are the same on both sides, as with runc (a file the
// container's root creates is owned by the host's root). With one, the
// spec's uidMappings and gidMappings say which host id each container id is
// (Docker's userns-remap, rootless podman): files are owned on the host by
// the mapped ids, and host ids outside the mappings show as the overflow id.
// (The guest's processes run under tsvisor's own user namespace either way.)

/** One OCI mapping: container ids [containerID, containerID+size) are host ids [hostID, hostID+size). */
export interface IdRange {
  containerID: number;
  hostID: number;
  size: number;
}

/** What Linux shows for an id a user namespace does not map. */
const OVERFLOW_ID = 65534;

function through(ranges: readonly IdRange[], id: number, from: 'containerID' | 'hostID', to: 'containerID' | 'hostID'): number {
  for (const r of ranges) if (id >= r[from] && id < r[from] + r.size) return r[to] + (id - r[from]);
  return OVERFLOW_ID;
}

export class IdMap {
  /** null: ids are the same on both sides */
  constructor(private readonly ranges: { uid: readonly IdRange[]; gid: readonly IdRange[] } | null) {}

  uidToHost(id: number): number {
    return this.ranges ? through(this.ranges.uid, id, 'containerID', 'hostID') : id;
  }

  gidToHost(id: number): number {
    return this.ranges ? through(this.ranges.gid, id, 'containerID', 'hostID') : id;
  }

  uidFromHost(id: number): number {
    return this.ranges ? through(this.ranges.uid, id, 'hostID', 'containerID') : id;
  }

  gidFromHost(id: number): number {
    return this.ranges ? through(this.ranges.gid, id, 'hostID', 'containerID') : id;
  }
}
