// The devices cgroup (v1) of an OCI container, set as runc 1.1.5 sets it:
// the spec's rules, then runc's default allowed devices, reduced to an
// allow-list (its "emulator") and written as the fewest devices.allow and
// devices.deny lines that take the cgroup from what devices.list shows to
// it. tsvisor's guests never open a host device node themselves (the Sentry
// serves /dev), so the rules bind only what a guest could reach natively;
// they are applied so that the container's cgroup holds what runc's holds
// (docs/design.md, "Cgroups").

export type DeviceType = 'a' | 'b' | 'c';

/** One rule; -1 is the wildcard `*`. */
export interface DeviceRule {
  allow: boolean;
  type: DeviceType;
  major: number;
  minor: number;
  access: string;
}

/** runc 1.1.5's AllowedDevices (specconv), appended after the spec's rules; `path` ones are left out when linux.devices names that path. */
const RUNC_ALLOWED: (DeviceRule & { path?: string })[] = [
  { allow: true, type: 'c', major: -1, minor: -1, access: 'm' },
  { allow: true, type: 'b', major: -1, minor: -1, access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm', path: '/dev/null' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm', path: '/dev/random' },
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm', path: '/dev/full' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm', path: '/dev/tty' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm', path: '/dev/zero' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm', path: '/dev/urandom' },
  { allow: true, type: 'c', major: 136, minor: -1, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' },
];

/** The rules runc sets for a container: the spec's, then its defaults. */
export function containerDeviceRules(specRules: DeviceRule[], specDevicePaths: string[]): DeviceRule[] {
  const defaults = RUNC_ALLOWED.filter((d) => d.path === undefined || !specDevicePaths.includes(d.path)).map(({ path: _path, ...rule }) => rule);
  return [...specRules, ...defaults];
}

const PERMS = ['r', 'w', 'm'] as const;
const perms = (s: string) => PERMS.filter((p) => s.includes(p)).join('');
const union = (a: string, b: string) => perms(a + b);
const difference = (a: string, b: string) => PERMS.filter((p) => a.includes(p) && !b.includes(p)).join('');
const intersection = (a: string, b: string) => PERMS.filter((p) => a.includes(p) && b.includes(p)).join('');

type Key = string;
const key = (type: 'b' | 'c', major: number, minor: number): Key => `${type} ${major} ${minor}`;

/** A devices cgroup's state: its default, and the exceptions to it (what devices.list shows for an allow-list). */
export class Emulator {
  defaultAllow = false;
  rules = new Map<Key, string>();

  apply(r: DeviceRule): void {
    if (r.type === 'a') {
      this.defaultAllow = r.allow;
      this.rules.clear();
      return;
    }
    const k = key(r.type, r.major, r.minor);
    // An allow on an allow-list and a deny on a deny-list add an exception; the others remove one.
    if (r.allow !== this.defaultAllow) {
      this.rules.set(k, union(this.rules.get(k) ?? '', r.access));
      return;
    }
    // cgroup v1 silently ignores a removal inside a wildcard exception; runc refuses it.
    for (const [major, minor] of [[-1, r.minor], [r.major, -1], [-1, -1]] as const) {
      const wide = key(r.type, major, minor);
      if (wide !== k && intersection(r.access, this.rules.get(wide) ?? '') !== '') {
        throw new Error(`device rule ${ruleString(r)} cannot be applied: cgroup v1 cannot punch a hole in the wildcard rule ${wide}`);
      }
    }
    const left = difference(this.rules.get(k) ?? '', r.access);
    if (left) this.rules.set(k, left);
    else this.rules.delete(k);
  }

  /** The exceptions ordered by major, minor, type (runc's order, which fixes the order of devices.list). */
  ordered(): { type: 'b' | 'c'; major: number; minor: number; access: string }[] {
    return [...this.rules]
      .map(([k, access]) => {
        const [type, major, minor] = k.split(' ');
        return { type: type as 'b' | 'c', major: Number(major), minor: Number(minor), access };
      })
      // Not localeCompare: its first call loads ICU's collator, 7 ms of every create.
      .sort((a, b) => a.major - b.major || a.minor - b.minor || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
  }

  equals(o: Emulator): boolean {
    return this.defaultAllow === o.defaultAllow && this.rules.size === o.rules.size && [...this.rules].every(([k, v]) => o.rules.get(k) === v);
  }
}

const num = (n: number) => (n < 0 ? '*' : String(n));

/** As devices.allow and devices.deny take a rule: "c 1:3 rwm". */
export function ruleString(r: Pick<DeviceRule, 'type' | 'major' | 'minor' | 'access'>): string {
  return `${r.type} ${num(r.major)}:${num(r.minor)} ${r.access}`;
}

/** The state devices.list shows: an "a *:* rwm" line is a deny-list whose exceptions it does not show. */
export function emulatorFromList(list: string): Emulator {
  const e = new Emulator();
  for (const line of list.split('\n').filter(Boolean)) {
    const m = /^([abc]) (\*|\d+):(\*|\d+) ([rwm]+)$/.exec(line.trim());
    if (!m) throw new Error(`devices.list has a line it should not: ${JSON.stringify(line)}`);
    const field = (s: string) => (s === '*' ? -1 : Number(s));
    e.apply({ allow: true, type: m[1] as DeviceType, major: field(m[2]!), minor: field(m[3]!), access: m[4]! });
  }
  return e;
}

function emulatorOf(rules: DeviceRule[]): Emulator {
  const e = new Emulator();
  for (const r of rules) e.apply(r);
  return e;
}

/**
 * The writes (file, line) that take a cgroup whose devices.list is
 * `current` to `rules`, in runc's order: a reset to the target's default
 * when the defaults differ or the cgroup is a deny-list (whose exceptions
 * devices.list does not show), then the exceptions to drop, then those to add.
 */
export function deviceTransition(current: string, rules: DeviceRule[]): { target: Emulator; writes: [file: string, line: string][] } {
  const source = emulatorFromList(current);
  const target = emulatorOf(rules);
  const writes: [string, string][] = [];
  const write = (allow: boolean, r: Pick<DeviceRule, 'type' | 'major' | 'minor' | 'access'>) => writes.push([allow ? 'devices.allow' : 'devices.deny', ruleString(r)]);
  let old = source.rules;
  if (source.defaultAllow || source.defaultAllow !== target.defaultAllow) {
    write(target.defaultAllow, { type: 'a', major: -1, minor: -1, access: 'rwm' });
    old = new Map();
  }
  const from = new Emulator();
  from.rules = old;
  for (const r of from.ordered()) {
    const dropped = difference(r.access, target.rules.get(key(r.type, r.major, r.minor)) ?? '');
    if (dropped) write(target.defaultAllow, { ...r, access: dropped });
  }
  for (const r of target.ordered()) {
    const gained = difference(r.access, old.get(key(r.type, r.major, r.minor)) ?? '');
    if (gained) write(!target.defaultAllow, { ...r, access: gained });
  }
  return { target, writes };
}

/** runc's check after the writes: an allow-list must be exactly the target, a deny-list at least a deny-list. */
export function deviceListMatches(target: Emulator, list: string): boolean {
  const after = emulatorFromList(list);
  return target.defaultAllow ? after.defaultAllow : after.equals(target);
}
