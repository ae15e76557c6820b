// An OCI seccomp profile (linux.seccomp, Docker's --security-opt
// seccomp=FILE) allowing exactly what a coverage run used: every call it
// made, by name; a call the report splits by argument class (ioctl
// requests, open flags, socket families...) only with the arguments of the
// classes observed, as SCMP_CMP_MASKED_EQ conditions. Everything else gets
// the default action, EPERM.
//
// A runtime loads the profile before it executes the program, so the
// runtime's own calls from there to the exec run under it too: the profile
// adds them (its `runtime` option), in entries of their own. For runc (and
// Docker, which runs runc) they were measured with a profile whose default
// action is SCMP_ACT_LOG (docs/design.md, "Syscall coverage").
import { O_RDONLY, O_WRONLY } from '../abi/linux.js';
import { byName } from '../syscalls/table.js';
import { OPEN_CLASS_MASK } from './arg-classes.js';
import type { ArgCondition, Report } from './schema.js';

export interface ProfileArg {
  index: number;
  value: number;
  valueTwo: number;
  op: 'SCMP_CMP_MASKED_EQ';
}

export interface ProfileEntry {
  names: string[];
  action: 'SCMP_ACT_ALLOW';
  args?: ProfileArg[];
  /** Docker's profile format has it; runc ignores it */
  comment: string;
}

export interface SeccompProfileJson {
  defaultAction: 'SCMP_ACT_ERRNO';
  architectures: string[];
  syscalls: ProfileEntry[];
}

/** The runtimes the profile can carry the calls of (--seccomp-runtime). */
export type ProfileRuntime = 'runc' | 'tsvisor' | 'none';

interface RuntimeCall {
  name: string;
  /** the argument classes it needs (a call coverage classifies: see arg-classes.ts) */
  classes?: ArgCondition[][];
}

const openFlags = (value: number): ArgCondition[] => [{ index: 2, value, mask: OPEN_CLASS_MASK }];
const fcntlCommand = (value: number): ArgCondition[] => [{ index: 1, value, mask: 0xffffffff }];

const prctlCommand = (value: number): ArgCondition[] => [{ index: 0, value, mask: 0xffffffff }];
const PR_SET_KEEPCAPS = 8;
const PR_CAPBSET_READ = 23;
const PR_CAPBSET_DROP = 24;
const PR_CAP_AMBIENT = 47;

/**
 * runc 1.1's init, after loading the profile: it opens its exec fifo
 * (/proc/self/fd/N, O_WRONLY) and writes to it, lists /proc/self/fd
 * (openat O_RDONLY, fstatfs, getdents64) to mark fds close-on-exec (fcntl
 * F_SETFD), looks the executable up (faccessat2, fstat), closes what it no
 * longer needs, then execs; Go's runtime, on any of its threads (the filter
 * is synchronised to all), may park, wake, sleep and signal threads and
 * manage memory meanwhile. Without noNewPrivileges (Docker's and podman's
 * default) runc loads the profile earlier, before it sets the process's
 * identity and capabilities: setgroups, setgid, setuid, capget, capset,
 * prctl (keep capabilities, the bounding and ambient sets), chdir.
 */
const RUNC: RuntimeCall[] = [
  { name: 'execve' },
  { name: 'openat', classes: [openFlags(O_WRONLY), openFlags(O_RDONLY)] },
  { name: 'fcntl', classes: [fcntlCommand(1), fcntlCommand(2), fcntlCommand(3), fcntlCommand(4)] },
  { name: 'prctl', classes: [prctlCommand(PR_SET_KEEPCAPS), prctlCommand(PR_CAPBSET_READ), prctlCommand(PR_CAPBSET_DROP), prctlCommand(PR_CAP_AMBIENT)] },
  ...['write', 'close', 'fstat', 'fstatfs', 'getdents64', 'faccessat2', 'epoll_ctl', 'epoll_pwait', 'getpid', 'gettid', 'tgkill', 'futex', 'nanosleep', 'sched_yield',
    'rt_sigreturn', 'rt_sigprocmask', 'sigaltstack', 'mmap', 'munmap', 'madvise', 'exit', 'exit_group',
    'setgroups', 'setgid', 'setuid', 'capget', 'capset', 'chdir'].map((name) => ({ name })),
];

/** tsvisor's launcher loads a container's profile right before the exec: that exec is the only call. */
const RUNTIME_CALLS: Record<ProfileRuntime, RuntimeCall[]> = { runc: RUNC, tsvisor: [{ name: 'execve' }], none: [] };

export interface GeneratedProfile {
  profile: SeccompProfileJson;
  /** calls of the report a profile cannot name (numbers Linux does not define): left to the default action */
  unnamed: string[];
}

const maskedEq = (a: ArgCondition): ProfileArg => ({ index: a.index, value: a.mask >>> 0, valueTwo: a.value >>> 0, op: 'SCMP_CMP_MASKED_EQ' });

const key = (args: ArgCondition[]) => JSON.stringify(args.map((a) => [a.index, a.value, a.mask]));

export function seccompProfile(report: Report, runtime: ProfileRuntime): GeneratedProfile {
  const unconditional = new Set<string>();
  const conditional: ProfileEntry[] = [];
  const unnamed: string[] = [];
  /** name -> class keys already allowed, so a runtime's class the program also used is not repeated */
  const classesOf = new Map<string, Set<string>>();
  for (const row of report.syscalls) {
    if (!byName.has(row.name)) {
      unnamed.push(row.name);
      continue;
    }
    // A class read from memory (clone3's, openat2's) has no condition a filter could test: the call is allowed.
    if (!row.classes?.length || row.classes.some((c) => c.args.length === 0)) {
      unconditional.add(row.name);
      continue;
    }
    const seen = new Set<string>();
    for (const c of row.classes) {
      seen.add(key(c.args));
      conditional.push({ names: [row.name], action: 'SCMP_ACT_ALLOW', args: c.args.map(maskedEq), comment: `${c.kind} ${c.name}: ${c.calls} call${c.calls === 1 ? '' : 's'}` });
    }
    classesOf.set(row.name, seen);
  }
  const runtimeNames: string[] = [];
  const runtimeClasses: ProfileEntry[] = [];
  for (const call of RUNTIME_CALLS[runtime]) {
    if (unconditional.has(call.name)) continue;
    if (!call.classes) {
      runtimeNames.push(call.name);
      continue;
    }
    const used = classesOf.get(call.name);
    for (const args of call.classes) {
      if (used?.has(key(args))) continue;
      runtimeClasses.push({ names: [call.name], action: 'SCMP_ACT_ALLOW', args: args.map(maskedEq), comment: `${runtime}'s own call before it executes the program` });
    }
  }
  const syscalls: ProfileEntry[] = [];
  if (unconditional.size) syscalls.push({ names: [...unconditional].sort(), action: 'SCMP_ACT_ALLOW', comment: 'used by the program' });
  syscalls.push(...conditional);
  if (runtimeNames.length) syscalls.push({ names: runtimeNames.sort(), action: 'SCMP_ACT_ALLOW', comment: `${runtime}'s own calls between loading this profile and executing the program` });
  syscalls.push(...runtimeClasses);
  return { profile: { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64'], syscalls }, unnamed };
}

/** The names a profile allows (with or without conditions): for tests and the audit's summary. */
export function allowedNames(p: SeccompProfileJson): Set<string> {
  return new Set(p.syscalls.flatMap((e) => e.names));
}
