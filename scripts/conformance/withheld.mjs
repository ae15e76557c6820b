// Tests that meet a deliberate difference of tsvisor's: a privilege the
// sandbox withholds, or a kernel interface it refuses by design. They pass
// natively and cannot pass in the sandbox; the report lists them apart, by
// group with its reason, instead of counting them as conformance failures.
// Each group names the design it follows (docs/design.md, syscall-tables/);
// a refusal that is a gap rather than a decision (inotify, FIFOs, mlock,
// priorities...) has no group here and stays counted as a failure.
//
// A rule matches a test by its id ("binary:Suite.Case" for gVisor, the
// runtest tag for LTP), or by its output under tsvisor when the cause shows
// only there (a test that makes a namespace in the middle of other work),
// or (after) by both: a case that fails only because an earlier case of its
// binary met the difference, recognised by what that left behind.
// kind: "privilege" (an operation Linux gives root over its own machine,
// which the sandbox's root does not have) or "interface" (a kernel
// interface tsvisor refuses to every guest).

const GROUPS = [
  {
    group: 'mounts',
    kind: 'privilege',
    reason:
      "mount, umount2, pivot_root and the new mount API are refused with EPERM: the sandbox's user namespace owns no mount namespace (docs/design.md, threat model; syscall-tables/ mount). Tests that mount a file system (cgroup2, fuse, tmpfs, proc) need it.",
    gvisor: /^(mount|mount_fd|pivot_root|fuse|cgroup2|cgroup2_ebpf)_test:/,
    ltp: /^(mount|umount|fsopen|fsmount|fsconfig|fspick|move_mount|open_tree|mount_setattr|pivot_root)/,
    // A case of another binary that mounts one (mq_test's mqueue, pty_test's devpts instance): the test library's Mount() refused,
    // or a test's own mount() call (posix_acl_test's overlay layers on a tmpfs);
    // /dev/fuse, which serves only a FUSE mount, is not in the sandbox's /dev (as in Docker's without --device).
    out: /Actual: PosixError\(errno=1 Operation not permitted\) mount failed|Value of: mount\([^\n]*\n[^\n]*\n\s*Actual: -1 \(of type int\), with errno PosixError\(errno=1 |PosixError\(errno=2 No such file or directory\) open\(\/dev\/fuse, /,
  },
  {
    group: 'namespaces',
    kind: 'privilege',
    reason:
      "unshare, setns and clone with a namespace flag are refused with EPERM: the launcher placed the guest in its namespaces and nested ones are not offered (syscall-tables/ unshare, setns). Tests that make a user or network namespace of their own need it (socket_netlink_netfilter_test makes one in its global set-up, so every case is skipped).",
    gvisor:
      /^(setns|unshare|network_namespace|socket_netlink_netfilter|proc_pid_uid_gid_map)_test:|\.PeerCredAcrossPIDNamespace\/\d+$|^fork_test:CloneTest\.CloneParentInitProcessFails$/,
    ltp: /^(unshare|setns)\d/,
    // Opening its own /proc/{self,thread-self}/ns/net is how a test keeps a way back
    // before it unshares the network namespace. CloneParentInitProcessFails makes
    // a pid namespace (with a user namespace) with clone3 and says only that it failed.
    // clone and unshare with a CLONE_NEW* flag (its value, as gtest prints the expanded macro) refused with EPERM.
    out: /syscall\(272, |clone\(CLONE_NEW[A-Z]+\) failed with EPERM|CanCreateUserNamespace\(\)|open\(\/proc\/(self|thread-self)\/ns\/net, |Value of: [^\n]*\b(clone|unshare)\([^\n]*\b0x(00020000|02000000|04000000|08000000|10000000|20000000|40000000)\b[^\n]*\n[^\n]*\n\s*Actual: -1 \(of type int\), with errno PosixError\(errno=1 /,
  },
  {
    group: 'network administration',
    kind: 'privilege',
    reason:
      "CAP_NET_ADMIN over the network: the sandbox's network namespace is owned by the host's user namespace, so its root cannot configure interfaces, addresses, routes or netfilter, write /proc/sys/net, send netlink route multicasts, or use SO_RCVBUFFORCE, SO_MARK, a congestion control outside net.ipv4.tcp_allowed_congestion_control or a socket filter on a TCP socket; each is EPERM (EACCES for /proc/sys/net), as for a process that is not root in the network namespace (docs/design.md, \"Sends with an address are performed by the Sentry\", threat model).",
    // Whole binaries and fixtures that need it in their set-up: the netlink
    // ones add or remove loopback addresses; the packet fixtures write
    // /proc/sys/net/ipv4/conf/lo/accept_local and skip on EACCES. The port
    // exhaustion cases shrink /proc/sys/net/ipv4/ip_local_port_range to 50
    // ports when access(W_OK) allows; refused, they run out of fds (EMFILE)
    // before ports, or skip ("nports > 1000").
    gvisor:
      /^(iptables|ip6tables|tuntap|tuntap_hostinet|socket_ip_unbound_netlink|socket_ipv[46]_udp_unbound_loopback_netlink)_test:|^socket_stress_test:AllConnectedSockets\/ConnectStressTest\.TooManyOpen\/\d+$|^socket_ipv4_udp_unbound_loopback_nogotsan_test:IPv4UDPSockets\/IPv4UDPUnboundSocketNogotsanTest\.UDP(Connect|Bind)PortExhaustion\/\d+$|^socket_inet_loopback_nogotsan_test:AllFamilies\/SocketMultiProtocolInetLoopbackTest\.(TCPBindAvoidsOtherBoundPortsReuseAddr\/TCP|UDPBindMayBindOtherBoundPortsReuseAddr\/UDP)$|^packet_socket_(raw|dgram)_test:AllInetTests\/(RawPacketTest|CookedPacketTest)\.|\.SetSocketRecvBufForceAboveMax\/\d+$|^socket_capability_test:SocketTest\.SetMarkNeedsNetAdminOrRaw$/,
    out: new RegExp(
      [
        /HaveCapability\(CAP_NET_ADMIN\)/.source,
        // a netlink route request (link, address, route, rule) refused
        /Value of: (NetlinkRequestAckOrError|LinkAddLocalAddr|LinkDelLocalAddr|AddUnicastRoute|AddExclusiveLookupInTableRule)\([^\n]*\n([^\n]*\n)?\s*Actual: PosixError\(errno=1 /.source,
        // a multicast send on a NETLINK_ROUTE socket refused
        /Value of: RetryEINTR\(sendmsg\)\(nlsk_send[^\n]*\n[^\n]*\n\s*Actual: -1 \(of type long\), with errno PosixError\(errno=1 /.source,
        // a write open of a net sysctl (flags O_WRONLY or O_RDWR)
        /PosixError\(errno=13 Permission denied\) open\(\/proc\/sys\/net\/[^,]*, 0x[0-9a-f]*[123], /.source,
        // TCP_CONGESTION outside tcp_allowed_congestion_control; SO_ATTACH_FILTER
        // on a TCP socket (measured on 6.18: EPERM natively once CAP_NET_ADMIN
        // leaves the bounding set, allowed to a user namespace owning the netns)
        /Value of: setsockopt\([^\n]*, (IPPROTO_TCP, 13|1, 26), [^\n]*\n[^\n]*\n\s*Actual: -1 \(of type int\), with errno PosixError\(errno=1 /.source,
      ].join('|'),
    ),
  },
  {
    group: 'set-id exec',
    kind: 'privilege',
    reason:
      "set-user-ID and set-group-ID bits are ignored at execve, as on a nosuid mount: the exec succeeds with the caller's ids, so the sandbox's ids never rise through a file (docs/design.md, \"Deliberate differences from Linux\"). The tests that expect the file's owner as the new euid or egid need it.",
    gvisor: /^exec_test:ExecTest\.S[UG]IDExecGains[UG]ID$/,
  },
  {
    group: 'host clock',
    kind: 'privilege',
    reason: 'settimeofday, clock_settime and adjtimex are refused with EPERM: the clock is the host\'s (syscall-tables/).',
    ltp: /^(stime|settimeofday|clock_settime|clock_adjtime|adjtimex|leapsec)\d/,
  },
  {
    group: 'host administration',
    kind: 'privilege',
    reason:
      'kernel modules, reboot, swap, quotas, process accounting and the kernel log are refused with EPERM, as for an unprivileged process (syscall-tables/); so is taking a terminal another session holds (TIOCSCTTY with argument 1, which needs CAP_SYS_ADMIN over the host: pty_root_test, which tells true root by init_module, leaves the terminal its own and dies of the hangup at its end, as it does natively in a user namespace).',
    gvisor: /^(syslog|pty_root)_test:/,
    ltp: /^(init_module|finit_module|delete_module|reboot|swapon|swapoff|quotactl|acct|syslog)\d/,
  },
  {
    group: 'io_uring',
    kind: 'interface',
    reason:
      'io_uring_setup is ENOSYS: io_uring performs file operations, path lookups included, where the seccomp filter cannot see them (syscall-tables/ io_uring_setup).',
    gvisor: /^iouring_test:/,
    ltp: /^io_uring/,
  },
  {
    group: 'landlock',
    kind: 'interface',
    reason:
      "landlock_create_ruleset is ENOSYS (programs take Landlock as unavailable): its rules would name host-view paths, not the Sentry's VFS (syscall-tables/ landlock_*).",
    gvisor: /^landlock_v\d+_test:/,
    ltp: /^landlock/,
  },
  {
    group: 'keyrings',
    kind: 'interface',
    reason: "add_key, request_key and keyctl are refused with EPERM: the kernel's keyrings are not the sandbox's (syscall-tables/ keyctl).",
    gvisor: /^keys_test:/,
    // A case of another binary that sets the keyrings' sysctls (proc_test's ProcSysKernelKeysMax), which the sandbox's /proc/sys has not.
    out: /\/proc\/sys\/kernel\/keys\//,
    ltp: /^(add_key|request_key|keyctl)\d/,
  },
  {
    group: 'ptrace',
    kind: 'interface',
    reason:
      'ptrace is refused with EPERM: the Sentry is the tracer of every guest task (a task has one tracer), which is how no task escapes it (docs/design.md, "Every task is traced"). exec_binary_test\'s programs call PTRACE_TRACEME and stop themselves, and the test waits for that stop as their tracer (a wait without WUNTRACED): refused, the child stays stopped and the wait never returns; those cases time out. Elsewhere a case that needs it fails at its ptrace call. wait_test\'s TraceeWALL waits for its PTRACE_TRACEME child with __WCLONE, which only the tracer\'s wait satisfies: the child is left unreaped, and each WaitAnyChild case after it collects the previous case\'s child with wait(-1) (all pass when run without TraceeWALL); those count here when their output shows that shift.',
    // exec_binary_test: the cases that wait for the stop (WaitStopped).
    gvisor:
      /^ptrace_test:|^exec_binary_test:(ElfTest\.(Execute|DataSegment|ExtraMemPages|AnonOnlySegment|DirectlyOverlappingSegments|OutOfOrderSegments|PIE|PIENonZeroStart|NoRead)|InterpreterScriptTest\.(Execute|Whitespace|MaxRecursion|RelativePath|UncleanPath|Symlink)|ExecveTest\.BrkAfterBinary|Cases\/ElfInterpreterStaticTest\.Test\/\d+)$/,
    ltp: /^ptrace\d/,
    // wait_test after TraceeWALL: a wait that got the previous case's child
    after: {
      gvisor: /^wait_test:Waiters\/WaitAnyChildTest\./,
      out: /Actual: No Error, has a value \d+|unexpected wait status: got \d+, wanted 0|unexpected signo: got 0, wanted 17|Actual: \{ \d+, \d+ \}, where the following matchers don't match/,
    },
    // a ptrace request refused: gtest's assertion (proc_test's ProcPidMem.DifferentUserAttached, pidfd_test's traced cases), or a check in a child
    out: /Value of: ptrace\(PTRACE_[A-Z]+,[^\n]*\n[^\n]*\n\s*Actual: -1 \(of type long\), with errno PosixError\(errno=1 |Check failed: ptrace\(PTRACE_[A-Z]+,/,
  },
  {
    group: 'file leases',
    kind: 'interface',
    reason:
      'fcntl(F_SETLEASE) is refused with EACCES: a lease on a host file would let the guest delay host processes that open it (syscall-tables/ fcntl, docs/design.md threat model). LTP\'s lease tests need it.',
    ltp: /^fcntl(23|24|25|26|27|32|33)(_64)?$/,
  },
  {
    group: 'bpf, perf, fanotify, file handles',
    kind: 'interface',
    reason:
      "bpf and perf_event_open (kernel attack surface), fanotify (it would watch host-view files behind the Sentry's VFS), name_to_handle_at and open_by_handle_at (they bypass the VFS) are refused with EPERM (syscall-tables/).",
    ltp: /^(bpf_|perf_event_open|fanotify|name_to_handle_at|open_by_handle_at)/,
  },
];

/** The deliberate difference a test meets ({ group, kind, reason }), or null. */
export function withheld(suite, id, out = []) {
  const text = out.join('\n');
  for (const g of GROUPS) {
    const after = g.after?.[suite]?.test(id) && g.after.out.test(text);
    if (g[suite]?.test(id) || (g.out && g.out.test(text)) || after) return { group: g.group, kind: g.kind, reason: g.reason };
  }
  return null;
}

export const WITHHELD_GROUPS = GROUPS.map(({ group, kind, reason }) => ({ group, kind, reason }));
