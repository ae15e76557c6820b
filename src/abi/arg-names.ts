// Names of the argument values coverage reports classify calls by (ioctl
// requests, fcntl/prctl/arch_prctl commands, clone, clone3, open and openat2
// flags, openat2's resolve flags, socket families/types/protocols, madvise
// advice, socket options): Linux x86_64 values from the kernel's uapi
// headers. An unnamed value shows in hex. argValueName() names single
// arguments for --strace lines with the same tables.
import { CLONE_FILES, CLONE_FS, CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER, CLONE_NEWUTS, CLONE_PARENT, CLONE_PARENT_SETTID, CLONE_PIDFD, CLONE_PTRACE, CLONE_SETTLS, CLONE_SIGHAND, CLONE_SYSVSEM, CLONE_THREAD, CLONE_UNTRACED, CLONE_VFORK, CLONE_VM, O_APPEND, O_ASYNC, O_CREAT, O_DIRECT, O_DIRECTORY, O_DSYNC, O_EXCL, O_NOATIME, O_NOFOLLOW, O_PATH, O_SYNC, O_TMPFILE, O_TRUNC, O_CLOEXEC, O_LARGEFILE, O_NOCTTY, O_NONBLOCK, RESOLVE_BENEATH, RESOLVE_CACHED, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, RESOLVE_NO_XDEV, SIGNAL_NAMES } from './linux.js';

const IOCTLS: Record<number, string> = {
  0x5401: 'TCGETS', 0x5402: 'TCSETS', 0x5403: 'TCSETSW', 0x5404: 'TCSETSF', 0x5405: 'TCGETA', 0x5406: 'TCSETA', 0x5407: 'TCSETAW', 0x5408: 'TCSETAF',
  0x5409: 'TCSBRK', 0x540a: 'TCXONC', 0x540b: 'TCFLSH', 0x540c: 'TIOCEXCL', 0x540d: 'TIOCNXCL', 0x540e: 'TIOCSCTTY', 0x540f: 'TIOCGPGRP', 0x5410: 'TIOCSPGRP',
  0x5411: 'TIOCOUTQ', 0x5412: 'TIOCSTI', 0x5413: 'TIOCGWINSZ', 0x5414: 'TIOCSWINSZ', 0x5415: 'TIOCMGET', 0x5416: 'TIOCMBIS', 0x5417: 'TIOCMBIC', 0x5418: 'TIOCMSET',
  0x541b: 'FIONREAD', 0x541c: 'TIOCLINUX', 0x5420: 'TIOCPKT', 0x5421: 'FIONBIO', 0x5422: 'TIOCNOTTY', 0x5423: 'TIOCSETD', 0x5424: 'TIOCGETD', 0x5425: 'TCSBRKP',
  0x5429: 'TIOCGSID', 0x542a: 'TCGETS2', 0x542b: 'TCSETS2', 0x542c: 'TCSETSW2', 0x542d: 'TCSETSF2', 0x80045430: 'TIOCGPTN', 0x40045431: 'TIOCSPTLCK',
  0x80045432: 'TIOCGDEV', 0x40045436: 'TIOCSIG', 0x5437: 'TIOCVHANGUP', 0x80045438: 'TIOCGPKT', 0x80045439: 'TIOCGPTLCK', 0x80045440: 'TIOCGEXCL', 0x5441: 'TIOCGPTPEER',
  0x5450: 'FIONCLEX', 0x5451: 'FIOCLEX', 0x5452: 'FIOASYNC', 0x5456: 'TIOCGLCKTRMIOS', 0x5460: 'FIOQSIZE',
  0x8901: 'FIOSETOWN', 0x8902: 'SIOCSPGRP', 0x8903: 'FIOGETOWN', 0x8904: 'SIOCGPGRP', 0x8905: 'SIOCATMARK', 0x8906: 'SIOCGSTAMP', 0x8907: 'SIOCGSTAMPNS',
  0x8910: 'SIOCGIFNAME', 0x8912: 'SIOCGIFCONF', 0x8913: 'SIOCGIFFLAGS', 0x8914: 'SIOCSIFFLAGS', 0x8915: 'SIOCGIFADDR', 0x8916: 'SIOCSIFADDR', 0x8917: 'SIOCGIFDSTADDR',
  0x8919: 'SIOCGIFBRDADDR', 0x891b: 'SIOCGIFNETMASK', 0x891d: 'SIOCGIFMETRIC', 0x8921: 'SIOCGIFMTU', 0x8922: 'SIOCSIFMTU', 0x8927: 'SIOCGIFHWADDR', 0x8933: 'SIOCGIFINDEX',
  0x8935: 'SIOCGIFPFLAGS', 0x8938: 'SIOCGIFCOUNT', 0x8942: 'SIOCGIFTXQLEN', 0x8946: 'SIOCETHTOOL',
  1: 'FIBMAP', 2: 'FIGETBSZ', 0x80086601: 'FS_IOC_GETFLAGS', 0x40086602: 'FS_IOC_SETFLAGS', 0x80087601: 'FS_IOC_GETVERSION', 0xc020660b: 'FS_IOC_FIEMAP',
  0x801c581f: 'FS_IOC_FSGETXATTR', 0x401c5820: 'FS_IOC_FSSETXATTR', 0x40049409: 'FICLONE', 0x4020940d: 'FICLONERANGE', 0xc0189436: 'FIDEDUPERANGE', 0x80045200: 'RNDGETENTCNT',
  0x4b3a: 'KDSETMODE', 0x4b3b: 'KDGETMODE', 0x4b44: 'KDGKBMODE',
};

const FCNTLS: Record<number, string> = {
  0: 'F_DUPFD', 1: 'F_GETFD', 2: 'F_SETFD', 3: 'F_GETFL', 4: 'F_SETFL', 5: 'F_GETLK', 6: 'F_SETLK', 7: 'F_SETLKW', 8: 'F_SETOWN', 9: 'F_GETOWN',
  10: 'F_SETSIG', 11: 'F_GETSIG', 15: 'F_SETOWN_EX', 16: 'F_GETOWN_EX', 17: 'F_GETOWNER_UIDS', 36: 'F_OFD_GETLK', 37: 'F_OFD_SETLK', 38: 'F_OFD_SETLKW',
  1024: 'F_SETLEASE', 1025: 'F_GETLEASE', 1026: 'F_NOTIFY', 1029: 'F_CANCELLK', 1030: 'F_DUPFD_CLOEXEC', 1031: 'F_SETPIPE_SZ', 1032: 'F_GETPIPE_SZ',
  1033: 'F_ADD_SEALS', 1034: 'F_GET_SEALS', 1035: 'F_GET_RW_HINT', 1036: 'F_SET_RW_HINT', 1037: 'F_GET_FILE_RW_HINT', 1038: 'F_SET_FILE_RW_HINT',
};

const PRCTLS: Record<number, string> = {
  1: 'PR_SET_PDEATHSIG', 2: 'PR_GET_PDEATHSIG', 3: 'PR_GET_DUMPABLE', 4: 'PR_SET_DUMPABLE', 5: 'PR_GET_UNALIGN', 6: 'PR_SET_UNALIGN', 7: 'PR_GET_KEEPCAPS',
  8: 'PR_SET_KEEPCAPS', 9: 'PR_GET_FPEMU', 10: 'PR_SET_FPEMU', 11: 'PR_GET_FPEXC', 12: 'PR_SET_FPEXC', 13: 'PR_GET_TIMING', 14: 'PR_SET_TIMING', 15: 'PR_SET_NAME',
  16: 'PR_GET_NAME', 19: 'PR_GET_ENDIAN', 20: 'PR_SET_ENDIAN', 21: 'PR_GET_SECCOMP', 22: 'PR_SET_SECCOMP', 23: 'PR_CAPBSET_READ', 24: 'PR_CAPBSET_DROP',
  25: 'PR_GET_TSC', 26: 'PR_SET_TSC', 27: 'PR_GET_SECUREBITS', 28: 'PR_SET_SECUREBITS', 29: 'PR_SET_TIMERSLACK', 30: 'PR_GET_TIMERSLACK',
  31: 'PR_TASK_PERF_EVENTS_DISABLE', 32: 'PR_TASK_PERF_EVENTS_ENABLE', 33: 'PR_MCE_KILL', 34: 'PR_MCE_KILL_GET', 35: 'PR_SET_MM', 36: 'PR_SET_CHILD_SUBREAPER',
  37: 'PR_GET_CHILD_SUBREAPER', 38: 'PR_SET_NO_NEW_PRIVS', 39: 'PR_GET_NO_NEW_PRIVS', 40: 'PR_GET_TID_ADDRESS', 41: 'PR_SET_THP_DISABLE', 42: 'PR_GET_THP_DISABLE',
  45: 'PR_SET_FP_MODE', 46: 'PR_GET_FP_MODE', 47: 'PR_CAP_AMBIENT', 52: 'PR_GET_SPECULATION_CTRL', 53: 'PR_SET_SPECULATION_CTRL', 57: 'PR_SET_IO_FLUSHER',
  58: 'PR_GET_IO_FLUSHER', 59: 'PR_SET_SYSCALL_USER_DISPATCH', 62: 'PR_SCHED_CORE', 0x53564d41: 'PR_SET_VMA', 0x59616d61: 'PR_SET_PTRACER',
};

const ARCH_PRCTLS: Record<number, string> = {
  0x1001: 'ARCH_SET_GS', 0x1002: 'ARCH_SET_FS', 0x1003: 'ARCH_GET_FS', 0x1004: 'ARCH_GET_GS', 0x1011: 'ARCH_GET_CPUID', 0x1012: 'ARCH_SET_CPUID',
  0x1021: 'ARCH_GET_XCOMP_SUPP', 0x1022: 'ARCH_GET_XCOMP_PERM', 0x1023: 'ARCH_REQ_XCOMP_PERM', 0x1024: 'ARCH_GET_XCOMP_GUEST_PERM', 0x1025: 'ARCH_REQ_XCOMP_GUEST_PERM',
  0x1031: 'ARCH_XCOMP_TILECFG', 0x1032: 'ARCH_XCOMP_TILEDATA', 0x2001: 'ARCH_MAP_VDSO_X32', 0x2002: 'ARCH_MAP_VDSO_32', 0x2003: 'ARCH_MAP_VDSO_64',
  0x4001: 'ARCH_GET_UNTAG_MASK', 0x4002: 'ARCH_ENABLE_TAGGED_ADDR', 0x4003: 'ARCH_GET_MAX_TAG_BITS', 0x4004: 'ARCH_FORCE_TAGGED_SVA', 0x5001: 'ARCH_SHSTK_ENABLE',
  0x5002: 'ARCH_SHSTK_DISABLE', 0x5003: 'ARCH_SHSTK_LOCK', 0x5004: 'ARCH_SHSTK_UNLOCK', 0x5005: 'ARCH_SHSTK_STATUS',
};

const MADVICES: Record<number, string> = {
  0: 'MADV_NORMAL', 1: 'MADV_RANDOM', 2: 'MADV_SEQUENTIAL', 3: 'MADV_WILLNEED', 4: 'MADV_DONTNEED', 8: 'MADV_FREE', 9: 'MADV_REMOVE', 10: 'MADV_DONTFORK',
  11: 'MADV_DOFORK', 12: 'MADV_MERGEABLE', 13: 'MADV_UNMERGEABLE', 14: 'MADV_HUGEPAGE', 15: 'MADV_NOHUGEPAGE', 16: 'MADV_DONTDUMP', 17: 'MADV_DODUMP',
  18: 'MADV_WIPEONFORK', 19: 'MADV_KEEPONFORK', 20: 'MADV_COLD', 21: 'MADV_PAGEOUT', 22: 'MADV_POPULATE_READ', 23: 'MADV_POPULATE_WRITE',
  24: 'MADV_DONTNEED_LOCKED', 25: 'MADV_COLLAPSE', 100: 'MADV_HWPOISON', 101: 'MADV_SOFT_OFFLINE', 102: 'MADV_GUARD_INSTALL', 103: 'MADV_GUARD_REMOVE',
};

const FAMILIES: Record<number, string> = {
  0: 'AF_UNSPEC', 1: 'AF_UNIX', 2: 'AF_INET', 3: 'AF_AX25', 4: 'AF_IPX', 5: 'AF_APPLETALK', 9: 'AF_X25', 10: 'AF_INET6', 15: 'AF_KEY', 16: 'AF_NETLINK',
  17: 'AF_PACKET', 29: 'AF_CAN', 31: 'AF_BLUETOOTH', 38: 'AF_ALG', 40: 'AF_VSOCK', 44: 'AF_XDP', 45: 'AF_MCTP',
};
const SOCK_TYPES: Record<number, string> = { 1: 'SOCK_STREAM', 2: 'SOCK_DGRAM', 3: 'SOCK_RAW', 4: 'SOCK_RDM', 5: 'SOCK_SEQPACKET', 6: 'SOCK_DCCP', 10: 'SOCK_PACKET' };
const IP_PROTOCOLS: Record<number, string> = { 0: '0', 1: 'IPPROTO_ICMP', 6: 'IPPROTO_TCP', 17: 'IPPROTO_UDP', 58: 'IPPROTO_ICMPV6', 132: 'IPPROTO_SCTP', 136: 'IPPROTO_UDPLITE', 255: 'IPPROTO_RAW', 262: 'IPPROTO_MPTCP' };
const NETLINK_PROTOCOLS: Record<number, string> = { 0: 'NETLINK_ROUTE', 4: 'NETLINK_SOCK_DIAG', 9: 'NETLINK_AUDIT', 15: 'NETLINK_KOBJECT_UEVENT', 16: 'NETLINK_GENERIC' };

const LEVELS: Record<number, string> = { 0: 'SOL_IP', 1: 'SOL_SOCKET', 6: 'SOL_TCP', 17: 'SOL_UDP', 41: 'SOL_IPV6', 255: 'SOL_RAW', 263: 'SOL_PACKET', 270: 'SOL_NETLINK', 282: 'SOL_TLS' };
const SOCKOPTS: Record<number, Record<number, string>> = {
  1: {
    1: 'SO_DEBUG', 2: 'SO_REUSEADDR', 3: 'SO_TYPE', 4: 'SO_ERROR', 5: 'SO_DONTROUTE', 6: 'SO_BROADCAST', 7: 'SO_SNDBUF', 8: 'SO_RCVBUF', 9: 'SO_KEEPALIVE',
    10: 'SO_OOBINLINE', 11: 'SO_NO_CHECK', 12: 'SO_PRIORITY', 13: 'SO_LINGER', 14: 'SO_BSDCOMPAT', 15: 'SO_REUSEPORT', 16: 'SO_PASSCRED', 17: 'SO_PEERCRED',
    18: 'SO_RCVLOWAT', 19: 'SO_SNDLOWAT', 20: 'SO_RCVTIMEO_OLD', 21: 'SO_SNDTIMEO_OLD', 25: 'SO_BINDTODEVICE', 26: 'SO_ATTACH_FILTER', 28: 'SO_PEERNAME',
    29: 'SO_TIMESTAMP_OLD', 30: 'SO_ACCEPTCONN', 31: 'SO_PEERSEC', 32: 'SO_SNDBUFFORCE', 33: 'SO_RCVBUFFORCE', 34: 'SO_PASSSEC', 35: 'SO_TIMESTAMPNS_OLD',
    36: 'SO_MARK', 37: 'SO_TIMESTAMPING_OLD', 38: 'SO_PROTOCOL', 39: 'SO_DOMAIN', 40: 'SO_RXQ_OVFL', 41: 'SO_WIFI_STATUS', 42: 'SO_PEEK_OFF', 43: 'SO_NOFCS',
    46: 'SO_BUSY_POLL', 47: 'SO_MAX_PACING_RATE', 49: 'SO_INCOMING_CPU', 50: 'SO_ATTACH_BPF', 59: 'SO_PEERGROUPS', 60: 'SO_ZEROCOPY', 66: 'SO_RCVTIMEO_NEW',
    67: 'SO_SNDTIMEO_NEW', 76: 'SO_PASSPIDFD', 77: 'SO_PEERPIDFD',
  },
  6: {
    1: 'TCP_NODELAY', 2: 'TCP_MAXSEG', 3: 'TCP_CORK', 4: 'TCP_KEEPIDLE', 5: 'TCP_KEEPINTVL', 6: 'TCP_KEEPCNT', 7: 'TCP_SYNCNT', 8: 'TCP_LINGER2',
    9: 'TCP_DEFER_ACCEPT', 10: 'TCP_WINDOW_CLAMP', 11: 'TCP_INFO', 12: 'TCP_QUICKACK', 13: 'TCP_CONGESTION', 18: 'TCP_USER_TIMEOUT', 23: 'TCP_FASTOPEN',
    31: 'TCP_ULP', 30: 'TCP_FASTOPEN_CONNECT',
  },
  0: {
    1: 'IP_TOS', 2: 'IP_TTL', 3: 'IP_HDRINCL', 4: 'IP_OPTIONS', 8: 'IP_PKTINFO', 10: 'IP_MTU_DISCOVER', 11: 'IP_RECVERR', 14: 'IP_MTU', 15: 'IP_FREEBIND',
    19: 'IP_TRANSPARENT', 24: 'IP_BIND_ADDRESS_NO_PORT', 32: 'IP_MULTICAST_IF', 33: 'IP_MULTICAST_TTL', 34: 'IP_MULTICAST_LOOP', 35: 'IP_ADD_MEMBERSHIP',
    36: 'IP_DROP_MEMBERSHIP',
  },
  41: { 16: 'IPV6_UNICAST_HOPS', 23: 'IPV6_MTU_DISCOVER', 24: 'IPV6_MTU', 25: 'IPV6_RECVERR', 26: 'IPV6_V6ONLY', 49: 'IPV6_RECVPKTINFO', 67: 'IPV6_TCLASS' },
};

const CLONE_FLAGS: [number, string][] = [
  [CLONE_VM, 'CLONE_VM'], [CLONE_FS, 'CLONE_FS'], [CLONE_FILES, 'CLONE_FILES'], [CLONE_SIGHAND, 'CLONE_SIGHAND'], [CLONE_PIDFD, 'CLONE_PIDFD'],
  [CLONE_PTRACE, 'CLONE_PTRACE'], [CLONE_VFORK, 'CLONE_VFORK'], [CLONE_PARENT, 'CLONE_PARENT'], [CLONE_THREAD, 'CLONE_THREAD'], [CLONE_NEWNS, 'CLONE_NEWNS'],
  [CLONE_SYSVSEM, 'CLONE_SYSVSEM'], [CLONE_SETTLS, 'CLONE_SETTLS'], [CLONE_PARENT_SETTID, 'CLONE_PARENT_SETTID'], [0x200000, 'CLONE_CHILD_CLEARTID'],
  [0x400000, 'CLONE_DETACHED'], [CLONE_UNTRACED, 'CLONE_UNTRACED'], [0x1000000, 'CLONE_CHILD_SETTID'], [CLONE_NEWCGROUP, 'CLONE_NEWCGROUP'],
  [CLONE_NEWUTS, 'CLONE_NEWUTS'], [CLONE_NEWIPC, 'CLONE_NEWIPC'], [CLONE_NEWUSER, 'CLONE_NEWUSER'], [CLONE_NEWPID, 'CLONE_NEWPID'], [CLONE_NEWNET, 'CLONE_NEWNET'],
  [0x80000000, 'CLONE_IO'],
];

// O_SYNC includes O_DSYNC's bit and O_TMPFILE O_DIRECTORY's: the composite names come first.
const OPEN_FLAGS: [number, string][] = [
  [O_TMPFILE, 'O_TMPFILE'], [O_SYNC, 'O_SYNC'], [O_CREAT, 'O_CREAT'], [O_EXCL, 'O_EXCL'], [O_TRUNC, 'O_TRUNC'], [O_APPEND, 'O_APPEND'], [O_DSYNC, 'O_DSYNC'],
  [O_ASYNC, 'O_ASYNC'], [O_DIRECT, 'O_DIRECT'], [O_DIRECTORY, 'O_DIRECTORY'], [O_NOFOLLOW, 'O_NOFOLLOW'], [O_NOATIME, 'O_NOATIME'], [O_PATH, 'O_PATH'],
  [O_NOCTTY, 'O_NOCTTY'], [O_NONBLOCK, 'O_NONBLOCK'], [O_LARGEFILE, 'O_LARGEFILE'], [O_CLOEXEC, 'O_CLOEXEC'],
];

/** clone3's flags above bit 31 (struct clone_args' u64), as bits of its high word. */
const CLONE3_HIGH_FLAGS: [number, string][] = [[1, 'CLONE_CLEAR_SIGHAND'], [2, 'CLONE_INTO_CGROUP']];

const RESOLVE_FLAGS: [number, string][] = [
  [RESOLVE_NO_XDEV, 'RESOLVE_NO_XDEV'], [RESOLVE_NO_MAGICLINKS, 'RESOLVE_NO_MAGICLINKS'], [RESOLVE_NO_SYMLINKS, 'RESOLVE_NO_SYMLINKS'],
  [RESOLVE_BENEATH, 'RESOLVE_BENEATH'], [RESOLVE_IN_ROOT, 'RESOLVE_IN_ROOT'], [RESOLVE_CACHED, 'RESOLVE_CACHED'],
];

const PROTS: [number, string][] = [[1, 'PROT_READ'], [2, 'PROT_WRITE'], [4, 'PROT_EXEC'], [0x8, 'PROT_SEM'], [0x1000000, 'PROT_GROWSDOWN'], [0x2000000, 'PROT_GROWSUP']];
const MAP_TYPES: Record<number, string> = { 1: 'MAP_SHARED', 2: 'MAP_PRIVATE', 3: 'MAP_SHARED_VALIDATE' };
const MAP_FLAGS: [number, string][] = [
  [0x10, 'MAP_FIXED'], [0x20, 'MAP_ANONYMOUS'], [0x40, 'MAP_32BIT'], [0x100, 'MAP_GROWSDOWN'], [0x800, 'MAP_DENYWRITE'], [0x1000, 'MAP_EXECUTABLE'],
  [0x2000, 'MAP_LOCKED'], [0x4000, 'MAP_NORESERVE'], [0x8000, 'MAP_POPULATE'], [0x10000, 'MAP_NONBLOCK'], [0x20000, 'MAP_STACK'], [0x40000, 'MAP_HUGETLB'],
  [0x80000, 'MAP_SYNC'], [0x100000, 'MAP_FIXED_NOREPLACE'], [0x4000000, 'MAP_UNINITIALIZED'],
];
const SOCK_FLAGS: [number, string][] = [[O_NONBLOCK, 'SOCK_NONBLOCK'], [O_CLOEXEC, 'SOCK_CLOEXEC']];
const AT_FLAGS: [number, string][] = [[0x100, 'AT_SYMLINK_NOFOLLOW'], [0x200, 'AT_EACCESS'], [0x400, 'AT_SYMLINK_FOLLOW'], [0x800, 'AT_NO_AUTOMOUNT'], [0x1000, 'AT_EMPTY_PATH'], [0x6000, 'AT_STATX_DONT_SYNC'], [0x2000, 'AT_STATX_FORCE_SYNC']];
const ACCESS_MODES: [number, string][] = [[4, 'R_OK'], [2, 'W_OK'], [1, 'X_OK']];
const SIGPROCMASK_HOWS: Record<number, string> = { 0: 'SIG_BLOCK', 1: 'SIG_UNBLOCK', 2: 'SIG_SETMASK' };
const RLIMITS: Record<number, string> = {
  0: 'RLIMIT_CPU', 1: 'RLIMIT_FSIZE', 2: 'RLIMIT_DATA', 3: 'RLIMIT_STACK', 4: 'RLIMIT_CORE', 5: 'RLIMIT_RSS', 6: 'RLIMIT_NPROC', 7: 'RLIMIT_NOFILE',
  8: 'RLIMIT_MEMLOCK', 9: 'RLIMIT_AS', 10: 'RLIMIT_LOCKS', 11: 'RLIMIT_SIGPENDING', 12: 'RLIMIT_MSGQUEUE', 13: 'RLIMIT_NICE', 14: 'RLIMIT_RTPRIO', 15: 'RLIMIT_RTTIME',
};
const FADVICES: Record<number, string> = { 0: 'POSIX_FADV_NORMAL', 1: 'POSIX_FADV_RANDOM', 2: 'POSIX_FADV_SEQUENTIAL', 3: 'POSIX_FADV_WILLNEED', 4: 'POSIX_FADV_DONTNEED', 5: 'POSIX_FADV_NOREUSE' };
const GRND_FLAGS: [number, string][] = [[1, 'GRND_NONBLOCK'], [2, 'GRND_RANDOM'], [4, 'GRND_INSECURE']];
const WHENCES: Record<number, string> = { 0: 'SEEK_SET', 1: 'SEEK_CUR', 2: 'SEEK_END', 3: 'SEEK_DATA', 4: 'SEEK_HOLE' };
const SIGNALS: Record<number, string> = Object.fromEntries(
  Object.entries(SIGNAL_NAMES).filter(([name]) => !['SIGIOT', 'SIGPOLL'].includes(name)).map(([name, n]) => [n, name]),
);

const hex = (v: number) => `0x${(v >>> 0).toString(16)}`;
const named = (table: Record<number, string>, v: number) => table[v] ?? hex(v);

/** Flags as NAME|NAME, composite names first; leftover bits in hex. */
function flagNames(v: number, names: [number, string][], first: string[] = []): string {
  const out = [...first];
  let rest = v >>> 0;
  for (const [bit, name] of names) {
    if (bit && (rest & bit) >>> 0 === bit >>> 0) {
      out.push(name);
      rest = (rest & ~bit) >>> 0;
    }
  }
  if (rest) out.push(hex(rest));
  return out.length ? out.join('|') : '0';
}

function openFlags(v: number): string {
  return flagNames(v & ~3, OPEN_FLAGS, [['O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_ACCMODE'][v & 3]!]);
}

/** clone3's flags from the low and high words of clone_args.flags; unnamed high bits as hex of the whole value. */
function clone3Flags(low: number, high: number): string {
  const names = low ? [flagNames(low, CLONE_FLAGS)] : [];
  let rest = high;
  for (const [bit, name] of CLONE3_HIGH_FLAGS) {
    if (rest & bit) {
      names.push(name);
      rest &= ~bit;
    }
  }
  if (rest) names.push(`0x${(BigInt(rest) << 32n).toString(16)}`);
  return names.length ? names.join('|') : '0';
}

/** clone's flags with the exit signal in the low byte, as CLONE_VM|...|SIGCHLD. */
function cloneFlags(v: number): string {
  const sig = v & 0xff;
  const flags = (v & ~0xff) >>> 0;
  const parts = [flags ? flagNames(flags, CLONE_FLAGS) : '', sig ? (SIGNALS[sig] ?? String(sig)) : ''].filter(Boolean);
  return parts.length ? parts.join('|') : '0';
}

function socketClass(family: number, type: number, protocol: number): string {
  const proto = family === 16 ? named(NETLINK_PROTOCOLS, protocol) : family === 2 || family === 10 ? named(IP_PROTOCOLS, protocol) : String(protocol);
  return `${named(FAMILIES, family)}/${named(SOCK_TYPES, type)}/${proto}`;
}

/**
 * The symbolic form of argument `arg` (its name in the kernel's declaration)
 * of call `call` with 32-bit value `v`, for the arguments that have one
 * (flags, commands, families...); null for the others.
 */
export function argValueName(call: string, arg: string, v: number): string | null {
  switch (`${call}/${arg}`) {
    case 'open/flags':
    case 'openat/flags':
      return openFlags(v);
    case 'mmap/prot':
    case 'mprotect/prot':
    case 'pkey_mprotect/prot':
      return v ? flagNames(v, PROTS) : 'PROT_NONE';
    case 'mmap/flags':
      return flagNames(v & ~3, MAP_FLAGS, [MAP_TYPES[v & 3] ?? hex(v & 3)]);
    case 'clone/clone_flags':
      return cloneFlags(v);
    case 'ioctl/cmd':
      return named(IOCTLS, v);
    case 'fcntl/cmd':
      return named(FCNTLS, v);
    case 'prctl/option':
      return named(PRCTLS, v);
    case 'arch_prctl/option':
      return named(ARCH_PRCTLS, v);
    case 'madvise/behavior':
      return named(MADVICES, v);
    case 'socket/family':
    case 'socketpair/family':
      return named(FAMILIES, v);
    case 'socket/type':
    case 'socketpair/type':
      return flagNames(v & ~0xf, SOCK_FLAGS, [named(SOCK_TYPES, v & 0xf)]);
    case 'setsockopt/level':
    case 'getsockopt/level':
      return named(LEVELS, v);
    case 'newfstatat/flag':
    case 'statx/flags':
    case 'faccessat2/flags':
    case 'fchownat/flag':
    case 'linkat/flags':
    case 'utimensat/flags':
    case 'execveat/flags':
    case 'fchmodat2/flags':
    case 'name_to_handle_at/flag':
      return flagNames(v, AT_FLAGS);
    case 'unlinkat/flag':
      return v === 0x200 ? 'AT_REMOVEDIR' : hex(v);
    case 'access/mode':
    case 'faccessat/mode':
    case 'faccessat2/mode':
      return v ? flagNames(v, ACCESS_MODES) : 'F_OK';
    case 'lseek/whence':
      return named(WHENCES, v);
    case 'kill/sig':
    case 'tkill/sig':
    case 'tgkill/sig':
    case 'rt_sigaction/sig':
      return v === 0 ? '0' : v > 31 && v <= 64 ? `SIGRT_${v - 32}` : named(SIGNALS, v);
    case 'rt_sigprocmask/how':
      return named(SIGPROCMASK_HOWS, v);
    case 'prlimit64/resource':
    case 'getrlimit/resource':
    case 'setrlimit/resource':
      return named(RLIMITS, v);
    case 'fadvise64/advice':
      return named(FADVICES, v);
    case 'getrandom/flags':
      return flagNames(v, GRND_FLAGS);
    default:
      return null;
  }
}

/** The name of an argument class of syscall `nr`, from its values (arg-classes.ts: in the class's part order). */
export function argClassName(nr: number, v: number[]): string {
  switch (nr) {
    case 2:
    case 257:
      return openFlags(v[0]!);
    case 16:
      return named(IOCTLS, v[0]!);
    case 28:
      return named(MADVICES, v[0]!);
    case 41:
    case 53:
      return socketClass(v[0]!, v[1]!, v[2]!);
    case 54:
    case 55:
      return `${named(LEVELS, v[0]!)}/${SOCKOPTS[v[0]!]?.[v[1]!] ?? v[1]}`;
    case 56:
      return flagNames(v[0]!, CLONE_FLAGS);
    case 435:
      return clone3Flags(v[0]!, v[1]!);
    case 437:
      return `${openFlags(v[0]!)}/${v[1] ? flagNames(v[1], RESOLVE_FLAGS) : '0'}`;
    case 72:
      return named(FCNTLS, v[0]!);
    case 157:
      return named(PRCTLS, v[0]!);
    case 158:
      return named(ARCH_PRCTLS, v[0]!);
    default:
      return v.map(hex).join('/');
  }
}
