// Syscall families for the reports' charts: what a call is about, in the
// groups a reader thinks in (the Sentry's src/sentry/syscalls/ files follow
// the same lines). First matching pattern wins; the rest is "other".
const FAMILIES: [string, RegExp][] = [
  ['process', /^(clone3?|fork|vfork|execve(at)?|exit(_group)?|wait4|waitid|kill|tkill|tgkill|getpid|getppid|gettid|set_tid_address|prctl|arch_prctl|ptrace|pidfd_\w+|getpgid|setpgid|getpgrp|getsid|setsid|personality|seccomp|unshare|setns|rseq|set_robust_list|get_robust_list|sched_\w+|[gs]etpriority|ioprio_\w+|process_\w+|kcmp)$/],
  ['identity', /^(get|set)(res|re|fs)?[ug]id$|^(get|set)groups$|^cap(get|set)$|^(uname|sethostname|setdomainname|getrlimit|setrlimit|prlimit64|getrusage|sysinfo|syslog|times)$/],
  ['signal', /^(rt_sig\w+|sigaltstack|signalfd4?|pause|alarm|restart_syscall)$/],
  ['memory', /^(brk|mmap|munmap|mremap|mprotect|pkey_\w+|madvise|mlock2?|munlock|mlockall|munlockall|mincore|msync|membarrier|memfd_\w+|process_madvise|mbind|[gs]et_mempolicy|migrate_pages|move_pages|remap_file_pages|userfaultfd)$/],
  ['time', /^(clock_\w+|gettimeofday|settimeofday|time|nanosleep|adjtimex|timer_\w+|timerfd_\w+|getitimer|setitimer)$/],
  ['network', /^(socket|socketpair|bind|listen|accept4?|connect|getsockname|getpeername|sendto|recvfrom|sendmsg|recvmsg|sendmmsg|recvmmsg|shutdown|setsockopt|getsockopt)$/],
  ['poll and events', /^(poll|ppoll|select|pselect6|epoll_\w+|eventfd2?|inotify_\w+|fanotify_\w+|io_\w+)$/],
  ['ipc', /^(pipe2?|futex\w*|msg\w+|sem\w+|shm\w+|mq_\w+)$/],
  ['file i/o', /^(read|write|pread64|pwrite64|readv|writev|preadv2?|pwritev2?|lseek|sendfile|splice|tee|vmsplice|copy_file_range|fsync|fdatasync|sync_file_range|fallocate|fadvise64|readahead|ioctl|fcntl|flock|close|close_range|dup[23]?)$/],
];
const FS = /^(open|openat2?|creat|stat|fstat|lstat|newfstatat|statx|statfs|fstatfs|access|faccessat2?|readlink(at)?|getdents(64)?|getcwd|chdir|fchdir|chroot|mkdir(at)?|rmdir|unlink(at)?|rename(at2?)?|link(at)?|symlink(at)?|chmod|fchmod(at2?)?|chown|fchown(at)?|lchown|truncate|ftruncate|utime|utimes|utimensat|futimesat|mknod(at)?|umask|mount|umount2|pivot_root|sync|syncfs|[lf]?(get|set|list|remove)xattr|name_to_handle_at|open_by_handle_at|open_tree|move_mount|fsopen|fsconfig|fsmount|fspick|mount_setattr|quotactl|statmount|listmount)$/;

export function familyOf(name: string): string {
  if (FS.test(name)) return 'file system';
  for (const [family, re] of FAMILIES) if (re.test(name)) return family;
  return 'other';
}
