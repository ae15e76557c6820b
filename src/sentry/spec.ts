// What a sandbox is asked to be: the root, mounts, process and identity.
// Kept apart from the kernel so the CLI can start the Gofer before it loads
// the rest of the Sentry.
import fs from 'node:fs';
import type { GoferDevice, GoferExport } from '../gofer/client.js';
import { major, minor } from '../abi/linux.js';
import type { IdRange } from './idmap.js';

export interface MountSpec {
  /** sandbox path */
  destination: string;
  type: 'bind' | 'tmpfs' | 'proc' | 'sysfs' | 'devpts' | 'mqueue' | 'dev' | 'cgroup';
  /** host path for binds; for any other kind, the source the mount table shows (OCI mounts[].source, which runc hands to mount(2): Docker's "shm"); default: the type */
  source?: string;
  readonly?: boolean;
  /** bind, tmpfs: mounted nosuid (set-id bits never take effect; default true). Other kinds are always nosuid. */
  nosuid?: boolean;
  /** tmpfs: size= in bytes, nr_inodes=, mode=, uid=, gid= of its root */
  size?: number;
  inodes?: number;
  mode?: number;
  uid?: number;
  gid?: number;
  /** tmpfs: mounted noexec (execve EACCES, PROT_EXEC mappings EPERM), nodev (device nodes cannot be opened) */
  noexec?: boolean;
  nodev?: boolean;
  /** a cgroup mount: the container's own cgroup directories to show below it (CgroupView) */
  cgroupViews?: CgroupViewSpec[];
}

export interface DeviceSpec {
  path: string;
  rdev: number;
  mode: number;
  uid: number;
  gid: number;
  /** a host device passed through: its name under the host's /dev, which only the Gofer opens */
  host?: string;
  /** for a host device: what the devices cgroup rules let the guest open it for (EPERM otherwise, as runc's cgroup) */
  access?: { read: boolean; write: boolean };
}

/** A container's directory in one host cgroup v1 hierarchy, shown at `name` below the cgroup mount. */
export interface CgroupViewSpec {
  name: string;
  /** host path */
  dir: string;
  /** its controllers, shown as the mount's options ("memory") */
  controllers: string;
}

/** The five capability sets (OCI process.capabilities), as capability numbers. */
export interface Capabilities {
  bounding: number[];
  effective: number[];
  permitted: number[];
  inheritable: number[];
  ambient: number[];
}

/** `caps` as bounding, effective and permitted sets, nothing inheritable or ambient (what root holds natively). */
export function rootCapabilities(caps: readonly number[]): Capabilities {
  return { bounding: [...caps], effective: [...caps], permitted: [...caps], inheritable: [], ambient: [] };
}

export interface SandboxSpec {
  rootfs: string;
  /** the root export is read-only (an overlay's lower layer always is) */
  rootReadonly: boolean;
  overlay: boolean;
  /** bytes the overlay's upper layer may hold (default: a quarter of the memory) */
  overlaySize?: number;
  /** nodes it may hold (default: the sandbox's budget, storage.ts SANDBOX_NODES) */
  overlayInodes?: number;
  network: 'none' | 'host';
  /** with network 'none': whether the sandbox's loopback is up (default true; false: 127.0.0.1 is unreachable, ENETUNREACH, as in a network namespace nobody configured) */
  loopback?: boolean;
  /** join this network namespace instead of making one (OCI namespace path) */
  netnsPath?: string;
  /** join these IPC and UTS namespaces instead of making them (OCI namespace paths: a pod's) */
  ipcnsPath?: string;
  utsnsPath?: string;
  oomScoreAdj?: number;
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  groups: number[];
  umask: number;
  hostname: string;
  domainname?: string;
  /** the guest's capability sets */
  caps: Capabilities;
  /**
   * no_new_privs for the guest (OCI process.noNewPrivileges; tsvisor do and
   * test: always). Without it, as root, an exec applies set-id bits as Linux
   * does (setid.ts).
   */
  noNewPrivs: boolean;
  /** [resource, soft, hard]; -1 for unlimited */
  rlimits: [number, number, number][];
  mounts: MountSpec[];
  /** /proc/PID/cgroup of every guest process (default "0::/", a cgroup v2 namespace's root) */
  cgroupLines?: string;
  /** host fds for the guest's stdin, stdout, stderr */
  stdio: [number, number, number];
  /** make the guest the terminal's foreground process group */
  foreground: boolean;
  /** run a minimal init as pid 1 and the command as its child (tsvisor do; launcher.c run_init) */
  init?: boolean;
  /** stdin is a terminal to make the controlling terminal of the guest's session (OCI process.terminal) */
  ctty?: boolean;
  /** the pts number of that terminal, shown as /dev/console */
  console?: number;
  /**
   * The spec's user namespace (OCI linux.uidMappings/gidMappings): file
   * owners on the host, and the guest's processes' ids unless tsvisor may not
   * use them (idmap.ts guestIdMaps). Absent: files keep their ids, and the
   * guest runs in tsvisor's own range.
   */
  idMappings?: { uid: IdRange[]; gid: IdRange[] };
  /** character devices to add under /dev (OCI linux.devices) */
  devices?: DeviceSpec[];
  /** namespaced sysctls to set, by dotted name (OCI linux.sysctl; validated against the namespaces) */
  sysctl?: Record<string, string>;
  /** paths hidden behind an empty directory or /dev/null (OCI linux.maskedPaths) */
  maskedPaths?: string[];
  /** paths made read-only (OCI linux.readonlyPaths) */
  readonlyPaths?: string[];
  /** the container's own seccomp profile (OCI linux.seccomp), stacked on tsvisor's filter */
  seccompProfile?: SeccompProfile;
  strace: boolean;
  /** --strace-syscalls: the names of the calls strace shows (comma-separated, checked by the CLI); absent: all */
  straceSyscalls?: string;
  /**
   * Called with the host pid of each guest process the Sentry starts (init's
   * launcher, each exec'd process) before it runs anything of the guest's:
   * the OCI runtime moves it into the guests' cgroups there.
   */
  onGuestProcess?: (hostPid: number) => void;
  /** Called once the guest is gone, before the Sentry lets its Gofer go (tsvisor test reads the overlay's changes there). */
  onFinish?: () => void;
  /** an observer of the guest's processes and execs (tsvisor coverage); absent on the normal path */
  events?: GuestEvents;
  /** an observer of what the guest touches (tsvisor test, src/testrun/); absent on the normal path */
  access?: AccessEvents;
  /**
   * Sandbox paths hidden from the guest (tsvisor test --hide; secrets): with
   * the overlay they start as whiteouts, so a lookup gives ENOENT (reported as
   * a `hidden` denial) and the guest may still create the name in memory.
   */
  hidden?: string[];
  /**
   * The per-test marker channel (docs/testrun.md): a sandbox path (e.g.
   * /dev/tsvisor-test) whose open gives the write end of a pipe the Sentry
   * reads; each line is a TestMarker as JSON. Absent: no channel. The Kernel
   * then replaces `access` with an observer that drains the channel before
   * each event (src/sentry/testchannel.ts drainFirst).
   */
  testChannel?: string;
}

/** The Sentry's lifecycle events, for an observer (src/coverage/collector.ts). Host ids. */
export interface GuestEvents {
  /** a task created a task: the result of a clone3 begun with onCloneCall too */
  onFork(parentTid: number, childTid: number, pid: number, isThread: boolean): void;
  /** a clone3 begins: the Sentry rewrites it into clone or fails it (the kernel then sees another call, or none); `flags`: its clone_args.flags, null when they could not be read */
  onCloneCall(tid: number, tgid: number, name: 'clone3', flags: bigint | null): void;
  /** it failed with errno; `asClone`: the kernel ran it, as clone */
  onCloneResult(tid: number, errno: number, asClone: boolean): void;
  /** an execve/execveat call begins (before the Sentry rewrites or fails it); `path` as the guest named it (null: unreadable) */
  onExecCall(tid: number, tgid: number, name: string, path: string | null): void;
  /** it failed with errno */
  onExecResult(tid: number, errno: number): void;
  /** it succeeded: `tid` (formerly `formerTid`) runs `exePath` */
  onExec(tid: number, formerTid: number, exePath: string): void;
  /**
   * the argument class (src/coverage/arg-classes.ts) of a call the Sentry is about to handle: `args` are the
   * call's, `read` reads the caller's memory (throws where it cannot). Asked before the handler, which may
   * answer the call early (ADDFD), after which the guest may reuse that memory.
   */
  classOf(nr: number, args: { u32(index: number): number; long(index: number): number }, read: (addr: number, len: number) => Buffer): bigint | null;
  /** the Sentry answered a call of process `tgid`, of class `cls` (classOf's), after `ns` nanoseconds in its handler */
  onEmulated(tgid: number, nr: number, ns: number, cls: bigint | null): void;
}

/**
 * What a path call did, as tsvisor test reports it. `read`: an open for
 * reading (or exec); `write`: an open for writing, truncate; `create`: a new
 * file, directory, node or link; `delete`: unlink, rmdir; `rename`: (with
 * `to`); `attr`: chmod, chown, utimes, xattr changes; `stat`, `list`,
 * `readlink`, `access`: looks that do not read contents.
 */
export type FileOp = 'read' | 'write' | 'create' | 'delete' | 'rename' | 'attr' | 'stat' | 'list' | 'readlink' | 'access' | 'exec';

/** One path call of the guest, after it ended. Sandbox pid, absolute sandbox paths. */
export interface FileAccess {
  pid: number;
  op: FileOp;
  /** the syscall's name (openat, unlinkat, ...) */
  call: string;
  path: string;
  /** rename's and link's second path */
  to?: string;
  /** 0: it succeeded */
  errno: number;
}

/** A network call of the guest with an address (connect, bind, sendto/sendmsg/sendmmsg with one, listen). */
export interface NetworkAttempt {
  pid: number;
  call: 'connect' | 'bind' | 'listen' | 'sendto' | 'sendmsg';
  /** AF_INET, AF_INET6, AF_UNIX (path or abstract: `address`), AF_NETLINK, ... */
  family: string;
  /** 'tcp' | 'udp' | 'raw' | 'stream' | 'dgram' | 'seqpacket' */
  protocol: string;
  /** the IP address or the unix path ('@name' for an abstract one) */
  address: string;
  port: number | null;
  errno: number;
}

/**
 * Something the sandbox refused, with the rule that refused it. `rule`:
 * `hidden` (a --hide or secret path), `syscall` (a call tsvisor refuses to
 * every guest: `what` names it), `read-only` (a read-only mount: EROFS),
 * `network` (no route outside the sandbox's network), `limit` (pids,
 * overlay size, open files: `what` says which).
 */
export interface Denial {
  pid: number;
  rule: 'hidden' | 'syscall' | 'read-only' | 'network' | 'limit';
  /** what was attempted, e.g. "openat /root/.ssh/id_rsa", "mount", "fork: pids limit 4096" */
  what: string;
  path?: string;
  errno: number;
}

/** A process of the guest, for the report's process tree (sandbox pids). */
export interface ProcessEvents {
  /**
   * a new process (not a thread); `time`: Date.now(). The first is pid 1 with
   * ppid 0; `tsvisorInit`: it is tsvisor's own init (SandboxSpec.init), which
   * runs none of the user's programs (no onProcessExec): the command is its child.
   */
  onProcessStart(pid: number, ppid: number, time: number, tsvisorInit?: boolean): void;
  /** it executed `exe` with `argv` (null: unreadable), read as the new program starts */
  onProcessExec(pid: number, exe: string, argv: string[] | null): void;
  /** it ended; `peakRss`: the VmHWM in bytes of the last program it ran, read as it exits (null: unknown) */
  onProcessExit(pid: number, exit: Exit, peakRss: number | null, time: number): void;
  /**
   * The command ended (pid 1 began to exit): `leftRunning` are the processes
   * still running then (leaked daemons), which the sandbox's end kills next
   * (their onProcessExit follow, with signal 9). Called once, before pid 1's
   * onProcessExit.
   */
  onCommandExit(leftRunning: number[], time: number): void;
}

/** A line of the per-test marker channel (docs/testrun.md). */
export interface TestMarker {
  event: 'begin' | 'end';
  /** the sandbox pid of the process running the test */
  pid: number;
  /** the test's full name, e.g. "test/a.test.ts > suite > case" */
  test: string;
  /** with end: passed, failed, skipped */
  result?: string;
}

/** The Sentry's access events (src/testrun/). Called synchronously, in order per process. */
export interface AccessEvents extends ProcessEvents {
  onFileAccess(a: FileAccess): void;
  onNetwork(a: NetworkAttempt): void;
  onDenied(d: Denial): void;
  /** a marker read from the test channel; delivered before any later event of the process that wrote it */
  onTestMarker(m: TestMarker): void;
}

/** A seccomp filter the launcher installs right before exec, without a listener (src/bpf/oci-seccomp.ts). */
export interface SeccompProfile {
  /** sock_filter[] */
  filter: Uint8Array;
  /** SECCOMP_FILTER_FLAG_* */
  flags: number;
}

/** A process to run in a running sandbox (OCI exec). */
export interface ExecSpec {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  groups: number[];
  umask: number;
  caps: Capabilities;
  noNewPrivs: boolean;
  stdio: [number, number, number];
  ctty?: boolean;
  /** the container's seccomp profile: runc binds exec'd processes by it too */
  seccompProfile?: SeccompProfile;
}

export interface Exit {
  /** exit status as a shell reports it: code, or 128 + signal */
  status: number;
  signal?: number;
  code?: number;
}

/** How a process ended, for messages: "was killed by signal 9", "exited with status 2". */
export function describeExit(e: Exit): string {
  return e.signal ? `was killed by signal ${e.signal}` : `exited with status ${e.code ?? e.status}`;
}

/** What the Gofer serves for a sandbox: the root (export 0), then each bind mount in order. */
export function goferExports(spec: SandboxSpec): GoferExport[] {
  const binds = spec.mounts.filter((m) => m.type === 'bind');
  return [
    { id: 0, mode: spec.overlay || spec.rootReadonly ? 'ro' : 'rw', hostPath: spec.rootfs },
    ...binds.map((m, i): GoferExport => ({ id: i + 1, mode: m.readonly ? 'ro' : 'rw', hostPath: m.source! })),
  ];
}

/** The host devices the Gofer may open for the guest: those linux.devices passes through. */
export function goferDevices(spec: SandboxSpec): GoferDevice[] {
  return (spec.devices ?? []).flatMap((d) => (d.host === undefined ? [] : [{ name: d.host, major: major(d.rdev), minor: minor(d.rdev) }]));
}

/** Whether two namespace files (/proc/PID/ns/..., or a bind-mounted one) are the same namespace. */
export function sameNamespace(a: string, b: string): boolean {
  try {
    const x = fs.statSync(a);
    const y = fs.statSync(b);
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}
