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
      return `tsvisor without root needs unprivileged user namespaces, which this host forbids (${name}=${forbids}): run it as root, or allow them (sysctl ${name}=${allows})`;
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
