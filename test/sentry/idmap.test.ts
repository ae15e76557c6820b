// src/sentry/idmap.ts: which user namespace the guest runs in, and ids
// through OCI mappings.
import { describe, expect, it } from 'vitest';
import { IdMap, TSVISOR_IDS, guestIdMaps, mapLines, through } from '../../src/sentry/idmap.js';

/** Docker's userns-remap (dockremap:100000:65536). */
const REMAP = [{ containerID: 0, hostID: 100000, size: 65536 }];
/** The ids of a Sentry run as root. */
const ROOT = { uids: [0, 0], gids: [0, 0, 0] };

describe('guestIdMaps', () => {
  it("takes the spec's mappings when they give a guest none of tsvisor's ids", () => {
    expect(guestIdMaps({ uid: REMAP, gid: REMAP }, ROOT)).toEqual({ maps: { uid: REMAP, gid: REMAP } });
  });

  it("keeps tsvisor's own range without a user namespace in the spec", () => {
    expect(guestIdMaps(undefined, ROOT)).toEqual({ maps: TSVISOR_IDS });
  });

  it('refuses host uid or gid 0, and any id the Sentry runs as, anywhere in a list of ranges', () => {
    const withRoot = [{ containerID: 0, hostID: 0, size: 1 }, { containerID: 1, hostID: 100001, size: 65535 }];
    expect(guestIdMaps({ uid: withRoot, gid: REMAP }, ROOT)).toEqual({
      maps: TSVISOR_IDS,
      refused: "the spec's uid/gid mappings include host uid 0, which tsvisor never gives a guest",
    });
    expect(guestIdMaps({ uid: REMAP, gid: withRoot }, ROOT).refused).toBe("the spec's uid/gid mappings include host gid 0, which tsvisor never gives a guest");
    // A Sentry run as root of another user namespace whose ids are 100000+ on the host above it.
    const own = { uids: [0, 100500], gids: [0, 100500, 100700] };
    expect(guestIdMaps({ uid: REMAP, gid: [{ containerID: 0, hostID: 200000, size: 65536 }] }, own).refused).toBe(
      "the spec's uid/gid mappings include host uid 100500, which tsvisor never gives a guest",
    );
    expect(guestIdMaps({ uid: [{ containerID: 0, hostID: 200000, size: 65536 }], gid: REMAP }, own).refused).toBe(
      "the spec's uid/gid mappings include host gid 100500, which tsvisor never gives a guest",
    );
  });

  it('refuses a spec with only one of the two lists', () => {
    expect(guestIdMaps({ uid: REMAP, gid: [] }, ROOT)).toEqual({ maps: TSVISOR_IDS, refused: "the spec's user namespace has no gidMappings" });
  });
});

describe('ids through mappings', () => {
  const ranges = [{ containerID: 0, hostID: 100000, size: 1 }, { containerID: 1000, hostID: 5000, size: 10 }];

  it('maps each way, -1 outside every range', () => {
    expect([0, 1, 1000, 1009, 1010].map((id) => through(ranges, id, 'containerID'))).toEqual([100000, -1, 5000, 5009, -1]);
    expect([100000, 5005, 0, 99999].map((id) => through(ranges, id, 'hostID'))).toEqual([0, 1005, -1, -1]);
  });

  it("file owners: the overflow id for an unmapped one, the same ids without a user namespace", () => {
    const m = new IdMap({ uid: ranges, gid: REMAP });
    expect([m.uidFromHost(0), m.uidFromHost(5001), m.gidFromHost(100005), m.uidToHost(2000)]).toEqual([65534, 1001, 5, 65534]);
    expect([m.mapsHost('uid', 0), m.mapsHost('uid', 100000), m.mapsHost('gid', 5000)]).toEqual([false, true, false]);
    const same = new IdMap(null);
    expect([same.uidFromHost(0), same.gidToHost(42), same.mapsHost('uid', 0)]).toEqual([0, 42, true]);
  });

  it("writes uid_map lines in Linux's own format", () => {
    expect(mapLines(ranges)).toBe('         0     100000          1\n      1000       5000         10\n');
  });
});
