// An ordinary user's sandbox (docs/design.md, "Rootless"): how the Sentry
// tells one, what the host must allow for it, and the launcher's outer user
// namespace.
import fs from 'node:fs';
import { SandboxError } from './errors.js';

/** Whether tsvisor runs as an ordinary user: its sandbox is then a rootless one. */
export function isRootless(): boolean {
  return process.geteuid!() !== 0;
}

/** The host settings that forbid an ordinary user's user namespaces, with the value that does and the value that allows them. */
const BLOCKERS: readonly [name: string, forbids: string, allows: string][] = [
  ['user.max_user_namespaces', '0', '15000'],
  ['kernel.unprivileged_userns_clone', '0', '1'],
  ['kernel.apparmor_restrict_unprivileged_userns', '1', '0'],
];

/**
 * Why this host gives an ordinary user no sandbox (a setting forbids
 * unprivileged user namespaces), as a one-line error naming the setting;
 * undefined when none does. `procSys`: where the settings are read.
 */
export function userNamespaceBlocker(procSys = '/proc/sys'): string | undefined {
  for (const [name, forbids, allows] of BLOCKERS) {
    let value: string;
    try {
      value = fs.readFileSync(`${procSys}/${name.replaceAll('.', '/')}`, 'latin1').trim();
    } catch {
      continue; // the kernel has no such setting
    }
    if (value === forbids) {
      return `running without root needs unprivileged user namespaces, which this host forbids (${name}=${forbids}): run tsvisor as root, or allow them (sysctl ${name}=${allows})`;
    }
  }
  return undefined;
}

/**
 * Maps the launcher's outer user namespace, which owns the sandbox's other
 * namespaces: its root is the caller, the one id an ordinary user may map
 * (setgroups denied first, as Linux requires for the gid).
 */
export function mapCaller(pid: number): void {
  const write = (file: string, text: string) => {
    try {
      fs.writeFileSync(`/proc/${pid}/${file}`, text);
    } catch (e) {
      throw new SandboxError(`cannot write the sandbox's ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  };
  write('setgroups', 'deny');
  write('uid_map', `0 ${process.getuid!()} 1\n`);
  write('gid_map', `0 ${process.getgid!()} 1\n`);
}

/** The set*id calls whose arguments are all uids (or all gids), and how many they take. */
const ID_CHANGES: Record<string, { gid: boolean; count: number }> = {
  setuid: { gid: false, count: 1 },
  setreuid: { gid: false, count: 2 },
  setresuid: { gid: false, count: 3 },
  setgid: { gid: true, count: 1 },
  setregid: { gid: true, count: 2 },
  setresgid: { gid: true, count: 3 },
};

/**
 * Whether `name` (a set*id call at its trace stop, arguments in `args`)
 * asks for an id other than the caller's. The guest's user namespace maps
 * only the caller's ids, so Linux would answer EINVAL (the id is
 * unrepresentable) where the same call made natively by the caller, who
 * holds no CAP_SETUID, gets EPERM: the Sentry answers EPERM itself.
 */
export function changesToOtherId(name: string, args: ArrayLike<number>): boolean {
  const call = ID_CHANGES[name];
  if (!call) return false;
  const own = call.gid ? process.getgid!() : process.getuid!();
  for (let i = 0; i < call.count; i++) {
    const id = args[i]!;
    // -1 leaves an id as it is; a value above 32 bits is left to the kernel.
    if (id !== 0xffffffff && id <= 0xffffffff && id !== own) return true;
  }
  return false;
}
