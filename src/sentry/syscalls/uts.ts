// uname, sethostname, setdomainname: the sandbox's own kernel identity.
import fs from 'node:fs';
import os from 'node:os';
import { CAP_SYS_ADMIN } from '../../abi/linux.js';
import { writeUtsname } from '../../abi/structs.js';
import { hasCap } from '../creds.js';
import { fail } from '../errors.js';
import type { Kernel } from '../kernel.js';
import { readBytes, writeBytes } from '../memory.js';
import { native } from '../../platform/native.js';
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

/**
 * The sandbox's own UTS namespace on the host follows the names the guest
 * sets, so that its /proc/sys/kernel/hostname and domainname, which guests
 * are given (procfs.ts), read them and wake their pollers (EPOLLERR) as
 * Linux's do. A namespace the container joined is left alone: the names the
 * guest sets stay the sandbox's.
 */
export function ownUtsns(k: Kernel, tid: number): number | null {
  if (k.spec.utsnsPath) return null;
  try {
    return fs.openSync(`/proc/${tid}/ns/uts`, 'r');
  } catch {
    return null;
  }
}

function mirror(k: Kernel, tid: number, domain: boolean, name: string): void {
  const ns = ownUtsns(k, tid);
  if (ns === null) return;
  try {
    native.setUtsName(ns, domain, name);
  } finally {
    fs.closeSync(ns);
  }
}

export const utsHandlers: Record<string, Handler> = {
  uname: (k, t, a) => {
    writeUtsname(buf, { ...KERNEL_IDENTITY, nodename: k.hostname, domainname: k.domainname });
    writeBytes(t, a.long(0), buf);
    return 0;
  },
  sethostname: (k, t, a) => {
    k.hostname = setName(t, a.long(0), a.int(1));
    mirror(k, t.tid, false, k.hostname);
    return 0;
  },
  setdomainname: (k, t, a) => {
    k.domainname = setName(t, a.long(0), a.int(1));
    mirror(k, t.tid, true, k.domainname);
    return 0;
  },
};
