// uname, sethostname, setdomainname: the sandbox's own kernel identity.
import os from 'node:os';
import { CAP_SYS_ADMIN } from '../../abi/linux.js';
import { writeUtsname } from '../../abi/structs.js';
import { hasCap } from '../creds.js';
import { fail } from '../errors.js';
import { readBytes, writeBytes } from '../memory.js';
import type { Handler } from './dispatch.js';

/**
 * What tsvisor reports as its kernel: the Linux ABI it offers, which is the
 * host kernel's for every call it passes through, so by default the host's
 * major.minor (programs check it for features they need; a fixed old version
 * made new programs refuse to run), never the host's exact build. The global
 * flag --kernel-release sets another.
 */
export const KERNEL_IDENTITY = {
  sysname: 'Linux',
  release: `${os.release().split('.').slice(0, 2).join('.')}.0-tsvisor`,
  version: '#1 SMP PREEMPT tsvisor',
  machine: 'x86_64',
};

/** --kernel-release: what uname, /proc/version and /proc/sys/kernel/osrelease report. */
export function setKernelRelease(release: string): void {
  KERNEL_IDENTITY.release = release;
}

const HOST_NAME_MAX = 64;
const buf = Buffer.alloc(390);

function setName(t: Parameters<Handler>[1], addr: number, len: number): string {
  if (!hasCap(t.creds, CAP_SYS_ADMIN)) fail('EPERM');
  if (len < 0 || len > HOST_NAME_MAX) fail('EINVAL');
  const b = readBytes(t, addr, len);
  const nul = b.indexOf(0);
  return b.toString('latin1', 0, nul < 0 ? len : nul);
}

export const utsHandlers: Record<string, Handler> = {
  uname: (k, t, a) => {
    writeUtsname(buf, { ...KERNEL_IDENTITY, nodename: k.hostname, domainname: k.domainname });
    writeBytes(t, a.long(0), buf);
    return 0;
  },
  sethostname: (k, t, a) => {
    k.hostname = setName(t, a.long(0), a.int(1));
    return 0;
  },
  setdomainname: (k, t, a) => {
    k.domainname = setName(t, a.long(0), a.int(1));
    return 0;
  },
};
