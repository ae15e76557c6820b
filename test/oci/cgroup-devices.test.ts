import { describe, expect, it } from 'vitest';
import { type DeviceRule, containerDeviceRules, deviceListMatches, deviceTransition } from '../../src/oci/cgroup-devices.js';

const rule = (allow: boolean, type: DeviceRule['type'], major: number, minor: number, access: string): DeviceRule => ({ allow, type, major, minor, access });

/** runtime-tools' linux_cgroups_devices rules. */
const SPEC = [rule(false, 'a', -1, -1, 'rwm'), rule(true, 'c', 10, 229, 'rwm'), rule(true, 'b', 8, 20, 'rw'), rule(true, 'b', 10, 200, 'r')];

/** devices.list runc 1.1.5 left for SPEC on this host (measured). */
const RUNC_LIST = ['b *:* m', 'c *:* m', 'c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', 'c 5:0 rwm', 'c 5:2 rwm', 'b 8:20 rw', 'b 10:200 r', 'c 10:200 rwm', 'c 10:229 rwm', 'c 136:* rwm'];

describe('device rules as runc 1.1.5 writes them', () => {
  it("a new cgroup (a deny-list): reset to deny, then the allow-list in runc's order, which devices.list then shows", () => {
    const { target, writes } = deviceTransition('a *:* rwm\n', containerDeviceRules(SPEC, []));
    expect(writes).toEqual([['devices.deny', 'a *:* rwm'], ...RUNC_LIST.map((l) => ['devices.allow', l])]);
    expect(deviceListMatches(target, `${RUNC_LIST.join('\n')}\n`)).toBe(true);
    expect(deviceListMatches(target, `${RUNC_LIST.slice(1).join('\n')}\n`)).toBe(false);
  });

  it('a spec device with a default path drops that default; an allow-list moves by the difference only', () => {
    const rules = containerDeviceRules([rule(true, 'c', 1, 3, 'r')], ['/dev/null']);
    expect(rules.some((r) => r.major === 1 && r.minor === 3 && r.access === 'rwm')).toBe(false);
    const { writes } = deviceTransition('c 1:3 rwm\nc 4:1 rw\n', [rule(true, 'c', 1, 3, 'r'), rule(true, 'c', 4, 1, 'rwm')]);
    expect(writes).toEqual([['devices.deny', 'c 1:3 wm'], ['devices.allow', 'c 4:1 m']]);
  });

  it('refuses what cgroup v1 would silently ignore (a hole in a wildcard exception), and a devices.list line it cannot read', () => {
    expect(() => deviceTransition('a *:* rwm\n', [rule(true, 'c', -1, -1, 'rwm'), rule(false, 'c', 1, 3, 'r')])).toThrow(/cannot punch a hole/);
    expect(() => deviceTransition('x 1:2 r\n', [])).toThrow(/devices.list has a line/);
  });
});
