// Linux x86_64 ABI constants used by the Sentry, the Gofer and the launcher
// glue. Struct layouts live in src/abi/structs.ts; errno values in errno.ts.

export const AUDIT_ARCH_X86_64 = 0xc000003e;
export const X32_SYSCALL_BIT = 0x40000000;

// open(2) flags
export const O_ACCMODE = 0o3;
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
/** Access mode 3: an fd that can neither read nor write (ioctl-only; Linux grants it to opens with read and write permission). */
export const O_NOACCESS = 0o3;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DSYNC = 0o10000;
export const O_ASYNC = 0o20000;
export const O_DIRECT = 0o40000;
export const O_LARGEFILE = 0o100000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_NOATIME = 0o1000000;
export const O_CLOEXEC = 0o2000000;
export const O_SYNC = 0o4010000;
export const O_PATH = 0o10000000;
export const O_TMPFILE = 0o20000000 | O_DIRECTORY;
/**
 * What an open's flags leave on the file a reopen gives the guest: the access
 * mode and the status flags F_GETFL shows (O_DIRECT, which a file without
 * direct I/O refuses with EINVAL, as Linux's /proc files do), and O_CLOEXEC.
 */
export const O_REOPEN_FLAGS = O_ACCMODE | O_APPEND | O_NONBLOCK | O_SYNC | O_DSYNC | O_NOATIME | O_DIRECT | O_CLOEXEC;

// lseek(2) whence
export const SEEK_SET = 0;
export const SEEK_CUR = 1;
export const SEEK_END = 2;
export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;

// fcntl(2) commands
export const F_GETFL = 3;
// ioctl(2) commands
export const FIONREAD = 0x541b;
export const FIONBIO = 0x5421;
export const FIONCLEX = 0x5450;
export const FIOCLEX = 0x5451;
export const FIOASYNC = 0x5452;
export const FIOQSIZE = 0x5460;
/** ioctl: make the terminal the caller's controlling terminal */
export const TIOCSCTTY = 0x540e;

// *at(2) flags
export const AT_FDCWD = -100;
export const F_DUPFD = 0;
export const F_DUPFD_CLOEXEC = 1030;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_REMOVEDIR = 0x200;
export const AT_EACCESS = 0x200;
export const AT_SYMLINK_FOLLOW = 0x400;
export const AT_NO_AUTOMOUNT = 0x800;
export const AT_EMPTY_PATH = 0x1000;
export const AT_STATX_SYNC_TYPE = 0x6000;
export const AT_STATX_FORCE_SYNC = 0x2000;
export const AT_STATX_DONT_SYNC = 0x4000;

// openat2 resolve flags
export const RESOLVE_NO_XDEV = 0x01;
export const RESOLVE_NO_MAGICLINKS = 0x02;
export const RESOLVE_NO_SYMLINKS = 0x04;
export const RESOLVE_BENEATH = 0x08;
export const RESOLVE_IN_ROOT = 0x10;
export const RESOLVE_CACHED = 0x20;

// renameat2 flags
export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;
export const RENAME_WHITEOUT = 4;

// access(2) modes
export const F_OK = 0;
export const X_OK = 1;
export const W_OK = 2;
export const R_OK = 4;

// file types and permission bits
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;
export const S_ISUID = 0o4000;
export const S_ISGID = 0o2000;
export const S_IRWXU = 0o700;
export const S_IRWXG = 0o070;
export const S_ISVTX = 0o1000;
/** The set-id bits of `mode` an exec honours (and a write clears): set-user-id; set-group-id only with group execute. */
export function execSetidBits(mode: number): number {
  return (mode & S_ISUID) | ((mode & (S_ISGID | 0o010)) === (S_ISGID | 0o010) ? S_ISGID : 0);
}

// dirent d_type
export const DT_UNKNOWN = 0;
export const DT_FIFO = 1;
export const DT_CHR = 2;
export const DT_DIR = 4;
export const DT_BLK = 6;
export const DT_REG = 8;
export const DT_LNK = 10;
export const DT_SOCK = 12;

export function dtypeOf(mode: number): number {
  return (mode & S_IFMT) >>> 12;
}

// utimensat special nanosecond values
export const UTIME_NOW = (1 << 30) - 1;
export const UTIME_OMIT = (1 << 30) - 2;

// statx mask bits
export const STATX_TYPE = 0x1;
export const STATX_MODE = 0x2;
export const STATX_NLINK = 0x4;
export const STATX_UID = 0x8;
export const STATX_GID = 0x10;
export const STATX_ATIME = 0x20;
export const STATX_MTIME = 0x40;
export const STATX_CTIME = 0x80;
export const STATX_INO = 0x100;
export const STATX_SIZE = 0x200;
export const STATX_BLOCKS = 0x400;
export const STATX_BASIC_STATS = 0x7ff;
export const STATX_BTIME = 0x800;
export const STATX_MNT_ID = 0x1000;
export const STATX__RESERVED = 0x80000000;

// clone flags
export const CSIGNAL = 0xff;
export const CLONE_VM = 0x100;
export const CLONE_FS = 0x200;
export const CLONE_FILES = 0x400;
export const CLONE_SIGHAND = 0x800;
export const CLONE_PIDFD = 0x1000;
export const CLONE_PTRACE = 0x2000;
export const CLONE_VFORK = 0x4000;
export const CLONE_PARENT = 0x8000;
export const CLONE_THREAD = 0x10000;
export const CLONE_UNTRACED = 0x00800000;
export const CLONE_NEWNS = 0x20000;
export const CLONE_SYSVSEM = 0x40000;
export const CLONE_SETTLS = 0x80000;
export const CLONE_PARENT_SETTID = 0x100000;
export const CLONE_NEWCGROUP = 0x2000000;
export const CLONE_NEWUTS = 0x4000000;
export const CLONE_NEWIPC = 0x8000000;
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;
export const CLONE_NEWTIME = 0x80;

// signals
export const SIGHUP = 1;
export const SIGINT = 2;
export const SIGQUIT = 3;
export const SIGKILL = 9;
export const SIGUSR1 = 10;
export const SIGSEGV = 11;
export const SIGPIPE = 13;
export const SIGALRM = 14;
export const SIGTERM = 15;
export const SIGCHLD = 17;
export const SIGCONT = 18;
export const SIGSTOP = 19;
export const SIGTSTP = 20;
export const SIGTTIN = 21;
export const SIGTTOU = 22;
export const SIGWINCH = 28;
export const SIGSYS = 31;

export const SIGNAL_NAMES: Readonly<Record<string, number>> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGIOT: 6, SIGBUS: 7,
  SIGFPE: 8, SIGKILL: 9, SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14,
  SIGTERM: 15, SIGSTKFLT: 16, SIGCHLD: 17, SIGCONT: 18, SIGSTOP: 19, SIGTSTP: 20, SIGTTIN: 21,
  SIGTTOU: 22, SIGURG: 23, SIGXCPU: 24, SIGXFSZ: 25, SIGVTALRM: 26, SIGPROF: 27, SIGWINCH: 28,
  SIGIO: 29, SIGPOLL: 29, SIGPWR: 30, SIGSYS: 31,
};

// ptrace
export const PTRACE_O_TRACESYSGOOD = 0x1;
export const PTRACE_O_TRACEFORK = 0x2;
export const PTRACE_O_TRACEVFORK = 0x4;
export const PTRACE_O_TRACECLONE = 0x8;
export const PTRACE_O_TRACEEXEC = 0x10;
export const PTRACE_O_TRACEVFORKDONE = 0x20;
export const PTRACE_O_TRACEEXIT = 0x40;
export const PTRACE_O_TRACESECCOMP = 0x80;
export const PTRACE_O_EXITKILL = 0x100000;
export const PTRACE_EVENT_FORK = 1;
export const PTRACE_EVENT_VFORK = 2;
export const PTRACE_EVENT_CLONE = 3;
export const PTRACE_EVENT_EXEC = 4;
export const PTRACE_EVENT_VFORK_DONE = 5;
export const PTRACE_EVENT_EXIT = 6;
export const PTRACE_EVENT_SECCOMP = 7;
export const PTRACE_EVENT_STOP = 128;
/** The stop signal of syscall-entry and syscall-exit stops with PTRACE_O_TRACESYSGOOD. */
export const SYSCALL_STOP_SIG = 5 | 0x80;
/** PTRACE_GET_SYSCALL_INFO ops */
export const PTRACE_SYSCALL_INFO_ENTRY = 1;
export const PTRACE_SYSCALL_INFO_EXIT = 2;
export const PTRACE_SYSCALL_INFO_SECCOMP = 3;
/** Indexes into x86_64 struct user_regs_struct (PTRACE_GETREGS) as 27 u64s. */
export const REG = { r10: 7, r9: 8, r8: 9, rax: 10, rdx: 12, rsi: 13, rdi: 14, origRax: 15, rip: 16, rsp: 19 } as const;
export const USER_REGS_WORDS = 27;

// seccomp
export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_KILL_THREAD = 0x00000000;
export const SECCOMP_RET_TRAP = 0x00030000;
export const SECCOMP_RET_ERRNO = 0x00050000;
export const SECCOMP_RET_USER_NOTIF = 0x7fc00000;
export const SECCOMP_RET_TRACE = 0x7ff00000;
export const SECCOMP_RET_LOG = 0x7ffc0000;
export const SECCOMP_RET_ALLOW = 0x7fff0000;
export const SECCOMP_RET_DATA = 0x0000ffff;
export const SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1;
export const SECCOMP_ADDFD_FLAG_SETFD = 1;
export const SECCOMP_ADDFD_FLAG_SEND = 2;
export const SECCOMP_FILTER_FLAG_TSYNC = 1;
export const SECCOMP_FILTER_FLAG_LOG = 2;
export const SECCOMP_FILTER_FLAG_SPEC_ALLOW = 4;
export const SECCOMP_FILTER_FLAG_NEW_LISTENER = 8;
export const SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = 32;
/** seccomp_data offsets */
export const SECCOMP_DATA_NR = 0;
export const SECCOMP_DATA_ARCH = 4;
export const SECCOMP_DATA_IP = 8;
export const SECCOMP_DATA_ARGS = 16;

/**
 * Marker the Sentry puts in the sixth argument register when it rewrites an
 * execve into execveat of its own fd; the filter notifies (instead of
 * tracing) only execveat calls carrying it. Must equal the rule value in
 * syscall-tables/syscalls.json.
 */
export const EXEC_REWRITE_MAGIC = 0x7473766973;

// setrlimit resources
export const RLIMIT_NPROC = 6;
export const RLIMIT_NOFILE = 7;

// getpriority(2)/setpriority(2) which
export const PRIO_PROCESS = 0;
export const PRIO_PGRP = 1;
export const PRIO_USER = 2;

// memfd_create flags
export const MFD_CLOEXEC = 0x1;
export const MFD_ALLOW_SEALING = 0x2;
export const MFD_NOEXEC_SEAL = 0x8;
export const MFD_EXEC = 0x10;

// socket
export const AF_UNSPEC = 0;
export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_PACKET = 17;
export const AF_NETLINK = 16;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_SEQPACKET = 5;
/** the socket type without SOCK_NONBLOCK and SOCK_CLOEXEC */
export const SOCK_TYPE_MASK = 0xf;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_TYPE = 3;
export const SO_SNDBUF = 7;
export const SO_PASSCRED = 16;
export const SO_DOMAIN = 39;
export const SO_PROTOCOL = 38;
export const IPPROTO_ICMP = 1;
export const IPPROTO_ICMPV6 = 58;
export const SO_PEERCRED = 17;
export const SO_PEERGROUPS = 59;
export const SO_PASSPIDFD = 76;
export const SO_PEERPIDFD = 77;
export const NETLINK_SOCK_DIAG = 4;
export const SCM_RIGHTS = 1;
export const SCM_CREDENTIALS = 2;
export const MSG_OOB = 0x1;
export const MSG_CTRUNC = 0x8;
export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;
/** sizeof(struct msghdr), sizeof(struct mmsghdr), sizeof(struct cmsghdr) */
export const MSGHDR_SIZE = 56;
export const MMSGHDR_SIZE = 64;
export const CMSGHDR_SIZE = 16;
export const UIO_MAXIOV = 1024;

// mount(2) flags
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_REC = 0x4000;
export const MS_PRIVATE = 1 << 18;

// filesystem magic numbers (statfs f_type)
export const TMPFS_MAGIC = 0x01021994;
/** statfs f_flags (the mount's flags, as statfs(2) reports them) */
export const ST_RDONLY = 0x1;
export const ST_NOSUID = 0x2;
export const ST_NODEV = 0x4;
export const ST_NOEXEC = 0x8;
export const ST_VALID = 0x20;
export const ST_RELATIME = 0x1000;
export const PROC_SUPER_MAGIC = 0x9fa0;
export const SYSFS_MAGIC = 0x62656572;
export const CGROUP_SUPER_MAGIC = 0x27e0eb;
export const DEVPTS_SUPER_MAGIC = 0x1cd1;
export const OVERLAYFS_SUPER_MAGIC = 0x794c7630;
export const EXT4_SUPER_MAGIC = 0xef53;
export const PIDFS_MAGIC = 0x50494446;

// capabilities
export const CAP_CHOWN = 0;
export const CAP_DAC_OVERRIDE = 1;
export const CAP_DAC_READ_SEARCH = 2;
export const CAP_FOWNER = 3;
export const CAP_FSETID = 4;
export const CAP_KILL = 5;
export const CAP_SETGID = 6;
export const CAP_SETUID = 7;
export const CAP_SETPCAP = 8;
export const CAP_NET_BIND_SERVICE = 10;
export const CAP_NET_ADMIN = 12;
export const CAP_NET_RAW = 13;
export const CAP_SYS_CHROOT = 18;
export const CAP_SYS_PTRACE = 19;
export const CAP_SYS_ADMIN = 21;
export const CAP_SYS_NICE = 23;
export const CAP_SYS_RESOURCE = 24;
export const CAP_MKNOD = 27;
export const CAP_AUDIT_WRITE = 29;
export const CAP_SETFCAP = 31;

// limits
export const PATH_MAX = 4096;
export const NAME_MAX = 255;
export const SYMLOOP_MAX = 40;
export const XATTR_NAME_MAX = 255;
export const XATTR_SIZE_MAX = 65536;
export const XATTR_LIST_MAX = 65536;
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;
/** POSIX ACLs (uapi/linux/posix_acl_xattr.h): a version, then {u16 tag, u16 perm, u32 id} entries. */
export const XATTR_POSIX_ACL_ACCESS = 'system.posix_acl_access';
/** a directory's default ACL, which its new entries inherit */
export const XATTR_POSIX_ACL_DEFAULT = 'system.posix_acl_default';
/** file capabilities (struct vfs_cap_data, v2 or v3) */
export const XATTR_SECURITY_CAPABILITY = 'security.capability';
// struct vfs_cap_data / vfs_ns_cap_data: magic_etc's revision, and the sizes of the two forms
export const VFS_CAP_REVISION_MASK = 0xff000000;
export const VFS_CAP_REVISION_2 = 0x02000000;
export const VFS_CAP_REVISION_3 = 0x03000000;
export const XATTR_CAPS_SZ_2 = 20;
export const XATTR_CAPS_SZ_3 = 24;
export const POSIX_ACL_XATTR_VERSION = 2;
export const ACL_USER_OBJ = 0x01;
export const ACL_USER = 0x02;
export const ACL_GROUP_OBJ = 0x04;
export const ACL_GROUP = 0x08;
export const ACL_MASK = 0x10;
export const ACL_OTHER = 0x20;
/** the id of an entry that names no one (ACL_USER_OBJ, ACL_GROUP_OBJ, ACL_MASK, ACL_OTHER) */
export const ACL_UNDEFINED_ID = 0xffffffff;
/** Nested #! interpreters exec_binprm allows before the final image (since Linux 5.9; the older recursive loader allowed BINPRM_MAX_RECURSION, 4). */
export const EXEC_MAX_INTERPRETERS = 5;
export const BINPRM_BUF_SIZE = 256;
/** ELF (uapi/linux/elf.h): the header fields and program-header types exec reads. */
export const ELFCLASS64 = 2;
export const EM_X86_64 = 62;
export const PT_INTERP = 3;
/** auxv entries the Sentry rewrites at exec */
export const AT_NULL = 0;
export const AT_ENTRY = 9;
export const AT_BASE = 7;
export const AT_EXECFN = 31;

/** makedev/major/minor as glibc encodes them (64-bit dev_t, so arithmetic, not bit operators). */
export function makedev(maj: number, min: number): number {
  return (min % 256) + (maj % 4096) * 256 + Math.floor(min / 256) * 2 ** 20 + Math.floor(maj / 4096) * 2 ** 44;
}
export function major(dev: number): number {
  return (Math.floor(dev / 256) % 4096) + Math.floor(dev / 2 ** 44) * 4096;
}
export function minor(dev: number): number {
  return (dev % 256) + (Math.floor(dev / 2 ** 20) % 2 ** 24) * 256;
}

/** Unix98 pty slaves (/dev/pts/N): majors 136 to 143. */
export const PTS_MAJOR_FIRST = 136;
export const PTS_MAJOR_LAST = 143;

/** The N of /dev/pts/N for a character device number, or -1. */
export function ptsNumber(maj: number, min: number): number {
  return maj >= PTS_MAJOR_FIRST && maj <= PTS_MAJOR_LAST ? (maj - PTS_MAJOR_FIRST) * 256 + min : -1;
}

/** oom_score_adj that exempts a process from the OOM killer, and the one that makes it the first choice. */
export const OOM_SCORE_ADJ_MIN = -1000;
export const OOM_SCORE_ADJ_MAX = 1000;
/** Clock ticks per second of the tick counts the kernel exports (cpuacct.stat, /proc/<pid>/stat). */
export const USER_HZ = 100;

// inotify(7)
export const IN_ACCESS = 0x1;
export const IN_MODIFY = 0x2;
export const IN_ATTRIB = 0x4;
export const IN_CLOSE_WRITE = 0x8;
export const IN_CLOSE_NOWRITE = 0x10;
export const IN_OPEN = 0x20;
export const IN_MOVED_FROM = 0x40;
export const IN_MOVED_TO = 0x80;
export const IN_CREATE = 0x100;
export const IN_DELETE = 0x200;
export const IN_DELETE_SELF = 0x400;
export const IN_MOVE_SELF = 0x800;
export const IN_ALL_EVENTS = 0xfff;
export const IN_UNMOUNT = 0x2000;
export const IN_Q_OVERFLOW = 0x4000;
export const IN_IGNORED = 0x8000;
export const IN_ONLYDIR = 0x1000000;
export const IN_DONT_FOLLOW = 0x2000000;
export const IN_EXCL_UNLINK = 0x4000000;
export const IN_MASK_CREATE = 0x10000000;
export const IN_MASK_ADD = 0x20000000;
export const IN_ISDIR = 0x40000000;
export const IN_ONESHOT = 0x80000000;
/** Every bit inotify_add_watch accepts (events and flags). */
export const ALL_INOTIFY_BITS =
  IN_ALL_EVENTS | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK | IN_MASK_CREATE | IN_MASK_ADD | IN_ISDIR | IN_ONESHOT;
export const IN_NONBLOCK = O_NONBLOCK;
export const IN_CLOEXEC = O_CLOEXEC;

/** What Linux shows for an id a user namespace does not map (kernel.overflowuid/overflowgid). */
export const OVERFLOW_ID = 65534;
/** The Sentry's owner of an inode whose host owner the sandbox does not map: no task has it, and stat shows OVERFLOW_ID. */
export const UNMAPPED_ID = -1;

/** prctl option: set the process's dumpable flag (0 or 1) */
export const PR_SET_DUMPABLE = 4;
