// Docker's seccomp profile format (also podman's,
// /usr/share/containers/seccomp.json) extends OCI linux.seccomp with entries
// that apply only for some architectures, capabilities or kernels
// (`includes`, `excludes`), and an older singular `name`. Docker resolves
// them when it creates a container, into plain linux.seccomp; --audit does
// the same before checking a run against such a profile, for x86_64 (Go's
// "amd64"), the host's kernel, and the capabilities the container would
// have (Docker's default set unless --audit-caps says otherwise).
import os from 'node:os';

/** Docker's default capabilities (docker run without --cap-add/--cap-drop). */
export const DOCKER_DEFAULT_CAPS: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

const ARCH = 'amd64';

interface Filter {
  arches?: string[];
  caps?: string[];
  minKernel?: string;
}

/** Kernel version a >= b, on "major.minor" (Docker ignores the rest). */
function kernelAtLeast(a: string, b: string): boolean {
  const [am = 0, an = 0] = a.split(/[.-]/).map(Number);
  const [bm = 0, bn = 0] = b.split(/[.-]/).map(Number);
  return am > bm || (am === bm && an >= bn);
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether the profile uses Docker's extensions (then applyDockerConditions changes it). */
export function hasDockerConditions(raw: unknown): boolean {
  return isObj(raw) && Array.isArray(raw.syscalls) && raw.syscalls.some((e) => isObj(e) && ((isObj(e.includes) && Object.keys(e.includes).length > 0) || (isObj(e.excludes) && Object.keys(e.excludes).length > 0) || typeof e.name === 'string'));
}

/** The profile as Docker would hand it to runc for a container with `caps`: conditional entries kept or dropped, `name` made `names`. */
export function applyDockerConditions(raw: unknown, caps: readonly string[], kernel = os.release()): unknown {
  if (!isObj(raw) || !Array.isArray(raw.syscalls)) return raw;
  const applies = (e: Record<string, unknown>): boolean => {
    const inc = (isObj(e.includes) ? e.includes : {}) as Filter;
    const exc = (isObj(e.excludes) ? e.excludes : {}) as Filter;
    if (exc.arches?.includes(ARCH)) return false;
    if (exc.caps?.some((c) => caps.includes(c))) return false;
    if (exc.minKernel && kernelAtLeast(kernel, exc.minKernel)) return false;
    if (inc.arches?.length && !inc.arches.includes(ARCH)) return false;
    if (inc.caps?.length && !inc.caps.every((c) => caps.includes(c))) return false;
    if (inc.minKernel && !kernelAtLeast(kernel, inc.minKernel)) return false;
    return true;
  };
  const syscalls = raw.syscalls.filter((e) => !isObj(e) || applies(e)).map((e) => {
    if (!isObj(e)) return e;
    const { includes: _i, excludes: _e, name, ...rest } = e;
    return typeof name === 'string' && rest.names === undefined ? { ...rest, names: [name] } : rest;
  });
  return { ...raw, syscalls };
}
