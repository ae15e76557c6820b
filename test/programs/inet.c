// Inet and netlink socket behaviour, printed so that a native run and a
// sandboxed run of the same command can be compared line by line.
//   inet sendall   blocking sendmsg/sendto larger than the send buffer on TCP
//                  loopback: all bytes, in order; SO_SNDTIMEO partial count
//   inet netlink   netlink port ids: bind, connect and send bind to the pid,
//                  a second socket gets another id, rebinding is EINVAL;
//                  replies carry the port id
//   inet ioctl     interface queries on lo: SIOCGIFTXQLEN, SIOCGIFMTU,
//                  SIOCETHTOOL's ETHTOOL_GET_TS_INFO and ETHTOOL_GLINK
//   inet sysctl    /proc/sys/net as the network namespace has it: values,
//                  a directory's entries, reads and writes refused
//   inet procnet   /proc/net/{tcp,tcp6,udp,udp6,raw}: the rows of this
//                  process's sockets, made as root and as uid 1000, with their
//                  uid column as the reader's user namespace sees it
//   inet unpriv    without CAP_NET_ADMIN and CAP_NET_RAW: netlink multicast
//                  sends and SO_MARK control messages are EPERM, joining a
//                  route group is not ("unpriv keep-caps": without
//                  dropping them, for the sandbox's root on the host network)
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

static void report(const char *what, long r) {
  if (r < 0)
    printf("%s: -1 %s\n", what, strerrorname_np(errno));
  else
    printf("%s: %ld\n", what, r);
}

static void tcp_pair(int fds[2]) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  if (l < 0 || bind(l, (void *)&a, sizeof a) < 0 || listen(l, 1) < 0 || getsockname(l, (void *)&a, &len) < 0) {
    perror("listen");
    exit(1);
  }
  fds[0] = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fds[0], (void *)&a, sizeof a) < 0) {
    perror("connect");
    exit(1);
  }
  fds[1] = accept(l, NULL, NULL);
  close(l);
}

struct reader {
  int fd;
  size_t want;
  size_t got;
  int in_order;
};

static void *read_all(void *p) {
  struct reader *r = p;
  unsigned char buf[65536];
  r->in_order = 1;
  while (r->got < r->want) {
    ssize_t n = read(r->fd, buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; i++)
      if (buf[i] != (unsigned char)((r->got + i) * 7)) r->in_order = 0;
    r->got += n;
  }
  return NULL;
}

static unsigned char *pattern(size_t size) {
  unsigned char *b = malloc(size);
  for (size_t i = 0; i < size; i++) b[i] = (unsigned char)(i * 7);
  return b;
}

static void sendall(void) {
  for (int how = 0; how < 2; how++) {
    int fds[2];
    tcp_pair(fds);
    int sndbuf;
    socklen_t len = sizeof sndbuf;
    getsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, &len);
    size_t size = 3 * (size_t)sndbuf + 12345;
    unsigned char *b = pattern(size);
    struct reader r = {.fd = fds[1], .want = size};
    pthread_t th;
    pthread_create(&th, NULL, read_all, &r);
    ssize_t n;
    if (how == 0) {
      struct iovec iov = {b, size};
      struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
      n = sendmsg(fds[0], &m, 0);
    } else {
      struct sockaddr_in none;
      memset(&none, 0, sizeof none);
      // An address on a connected TCP socket is ignored; it makes the call go through the Sentry.
      none.sin_family = AF_INET;
      n = sendto(fds[0], b, size, 0, (void *)&none, sizeof none);
    }
    pthread_join(th, NULL);
    printf("%s of 3 send buffers: %s, received all %d, in order %d\n", how ? "sendto" : "sendmsg",
           n == (ssize_t)size ? "all" : "short", r.got == size, r.in_order);
    free(b);
    close(fds[0]);
    close(fds[1]);
  }
  // Nobody reads: a send timeout returns the count sent so far.
  int fds[2];
  tcp_pair(fds);
  struct timeval tv = {.tv_usec = 200000};
  setsockopt(fds[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  size_t size = 64 << 20;
  unsigned char *b = pattern(size);
  struct iovec iov = {b, size};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
  ssize_t n = sendmsg(fds[0], &m, 0);
  printf("sendmsg with SO_SNDTIMEO and no reader: %s\n", n > 0 && n < (ssize_t)size ? "partial count" : "other");
  free(b);
  close(fds[0]);
  close(fds[1]);
}

static unsigned nl_port(int s) {
  struct sockaddr_nl a;
  socklen_t len = sizeof a;
  memset(&a, 0, sizeof a);
  if (getsockname(s, (void *)&a, &len) < 0) return 0xffffffff;
  return a.nl_pid;
}

static const char *port_name(unsigned port) {
  if (port == 0) return "0";
  if (port == (unsigned)getpid()) return "pid";
  return "other";
}

struct link_dump {
  struct nlmsghdr h;
  struct ifinfomsg i;
};

static long send_dump(int s, int with_msg) {
  struct link_dump req = {.h = {.nlmsg_len = sizeof req, .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 7}};
  req.i.ifi_family = AF_UNSPEC;
  if (!with_msg) return send(s, &req, sizeof req, 0);
  struct sockaddr_nl k = {.nl_family = AF_NETLINK};
  struct iovec iov = {&req, sizeof req};
  struct msghdr m = {.msg_name = &k, .msg_namelen = sizeof k, .msg_iov = &iov, .msg_iovlen = 1};
  return sendmsg(s, &m, 0);
}

static void netlink(void) {
  int a = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  printf("unbound: %s\n", port_name(nl_port(a)));
  struct sockaddr_nl addr = {.nl_family = AF_NETLINK};
  report("bind pid 0", bind(a, (void *)&addr, sizeof addr));
  printf("bound: %s\n", port_name(nl_port(a)));
  report("bind again pid 0", bind(a, (void *)&addr, sizeof addr));
  addr.nl_pid = getpid();
  report("bind again own pid", bind(a, (void *)&addr, sizeof addr));
  addr.nl_pid = 0;
  int b = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  report("second bind pid 0", bind(b, (void *)&addr, sizeof addr));
  printf("second bound: %s\n", port_name(nl_port(b)));
  close(a);
  close(b);
  // connect binds
  a = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  report("connect", connect(a, (void *)&addr, sizeof addr));
  printf("after connect: %s\n", port_name(nl_port(a)));
  close(a);
  // sendmsg binds; the kernel's reply is addressed to the port
  a = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  printf("sendmsg dump: %s\n", send_dump(a, 1) > 0 ? "sent" : strerrorname_np(errno));
  printf("after sendmsg: %s\n", port_name(nl_port(a)));
  char buf[32768];
  long n = recv(a, buf, sizeof buf, 0);
  struct nlmsghdr *h = (void *)buf;
  printf("reply: %s, seq %u, to %s\n", n > 0 ? "yes" : "no", n > 0 ? h->nlmsg_seq : 0, n > 0 ? port_name(h->nlmsg_pid) : "-");
  close(a);
}

static void drop_caps(void) {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  syscall(SYS_capget, &hdr, d);
  d[0].effective &= ~((1u << CAP_NET_ADMIN) | (1u << CAP_NET_RAW));
  if (syscall(SYS_capset, &hdr, d) < 0) perror("capset");
}

static void unpriv(int keep_caps) {
  if (!keep_caps) drop_caps();
  int s = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  struct sockaddr_nl addr = {.nl_family = AF_NETLINK};
  report("bind", bind(s, (void *)&addr, sizeof addr));
  struct sockaddr_nl group = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
  struct link_dump req = {.h = {.nlmsg_len = sizeof req, .nlmsg_type = RTM_NEWLINK, .nlmsg_flags = NLM_F_REQUEST}};
  report("sendto a route group", sendto(s, &req, sizeof req, 0, (void *)&group, sizeof group));
  struct iovec iov = {&req, sizeof req};
  struct msghdr m = {.msg_name = &group, .msg_namelen = sizeof group, .msg_iov = &iov, .msg_iovlen = 1};
  report("sendmsg to a route group", sendmsg(s, &m, 0));
  report("connect to a route group", connect(s, (void *)&group, sizeof group));
  int g = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  report("join a route group", bind(g, (void *)&group, sizeof group));
  close(g);
  close(s);
  // SO_MARK in a control message needs CAP_NET_RAW or CAP_NET_ADMIN.
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  char ctl[CMSG_SPACE(sizeof(uint32_t))];
  memset(ctl, 0, sizeof ctl);
  char byte = 'x';
  struct iovec one = {&byte, 1};
  struct msghdr mm = {.msg_name = &to, .msg_namelen = sizeof to, .msg_iov = &one, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
  struct cmsghdr *c = CMSG_FIRSTHDR(&mm);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SO_MARK;
  c->cmsg_len = CMSG_LEN(sizeof(uint32_t));
  *(uint32_t *)CMSG_DATA(c) = 77;
  report("udp sendmsg with SO_MARK", sendmsg(u, &mm, 0));
  int mark = 5;
  report("setsockopt SO_MARK", setsockopt(u, SOL_SOCKET, SO_MARK, &mark, sizeof mark));
  // Changing a device through ethtool needs CAP_NET_ADMIN.
  struct ethtool_value ev = {.cmd = ETHTOOL_SMSGLVL, .data = 1};
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  ifr.ifr_data = (void *)&ev;
  report("ethtool ETHTOOL_SMSGLVL", ioctl(u, SIOCETHTOOL, &ifr));
  close(u);
}

/* Binds a socket of `type` to loopback port 0 and returns its port (0 on failure). */
static int bound_port(int family, int type, int proto) {
  int s = socket(family, type, proto);
  struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  void *a = family == AF_INET6 ? (void *)&a6 : (void *)&a4;
  socklen_t len = family == AF_INET6 ? sizeof a6 : sizeof a4;
  if (s < 0 || (type != SOCK_RAW && bind(s, a, len) < 0) || getsockname(s, a, &len) < 0) {
    printf("socket family %d type %d: -1 %s\n", family, type, strerrorname_np(errno));
    return 0;
  }
  if (type == SOCK_STREAM) listen(s, 1);
  return ntohs(family == AF_INET6 ? a6.sin6_port : a4.sin_port);
}

/* Prints the header and, for this process's ports, the uid field and the line up to it. */
static void show_table(const char *name, const int *ports, int n, const char *who) {
  char path[64], line[512];
  snprintf(path, sizeof path, "/proc/net/%s", name);
  FILE *f = fopen(path, "r");
  if (!f) {
    printf("%s: -1 %s\n", path, strerrorname_np(errno));
    return;
  }
  if (fgets(line, sizeof line, f)) printf("%s header: %s", name, line);
  while (fgets(line, sizeof line, f)) {
    unsigned port, uid;
    char *colon = strchr(line, ':');
    colon = colon ? strchr(colon + 1, ':') : NULL;
    if (!colon || sscanf(colon + 1, "%x", &port) != 1) continue;
    int mine = 0;
    for (int i = 0; i < n; i++) mine |= ports[i] && (unsigned)ports[i] == port;
    /* raw sockets show the protocol as their port */
    if (!mine && !(strncmp(name, "raw", 3) == 0 && port == IPPROTO_UDP)) continue;
    char *p = line;
    for (int field = 0; field < 7; field++) {
      p += strspn(p, " ");
      p += strcspn(p, " ");
    }
    if (sscanf(p, "%u", &uid) != 1) continue;
    printf("%s %s row: uid %u at column %ld, field width %ld\n", name, who, uid, (long)(p - line), (long)(strspn(p, " ") + strcspn(p + strspn(p, " "), " ")));
  }
  fclose(f);
}

static void procnet_as(const char *who) {
  int tcp[] = {bound_port(AF_INET, SOCK_STREAM, 0)};
  int tcp6[] = {bound_port(AF_INET6, SOCK_STREAM, 0)};
  int udp[] = {bound_port(AF_INET, SOCK_DGRAM, 0)};
  int udp6[] = {bound_port(AF_INET6, SOCK_DGRAM, 0)};
  show_table("tcp", tcp, 1, who);
  show_table("tcp6", tcp6, 1, who);
  show_table("udp", udp, 1, who);
  show_table("udp6", udp6, 1, who);
}

static void procnet(void) {
  int raw = socket(AF_INET, SOCK_RAW, IPPROTO_UDP);
  report("raw socket", raw);
  struct stat st;
  if (raw >= 0 && fstat(raw, &st) == 0) printf("raw socket owner: %u:%u\n", st.st_uid, st.st_gid);
  show_table("raw", NULL, 0, "root");
  procnet_as("root");
  if (setresgid(1000, 1000, 1000) < 0 || setresuid(1000, 1000, 1000) < 0) {
    perror("setresuid");
    exit(1);
  }
  procnet_as("uid-1000");
}

static void ioctls(void) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  report("SIOCGIFTXQLEN", ioctl(s, SIOCGIFTXQLEN, &ifr));
  printf("qlen %d\n", ifr.ifr_qlen);
  report("SIOCGIFMTU", ioctl(s, SIOCGIFMTU, &ifr));
  printf("mtu %d\n", ifr.ifr_mtu);
  struct ethtool_ts_info ts = {.cmd = ETHTOOL_GET_TS_INFO};
  ifr.ifr_data = (void *)&ts;
  report("ethtool ETHTOOL_GET_TS_INFO", ioctl(s, SIOCETHTOOL, &ifr));
  printf("so_timestamping 0x%x phc %d\n", ts.so_timestamping, ts.phc_index);
  struct ethtool_value link = {.cmd = ETHTOOL_GLINK};
  ifr.ifr_data = (void *)&link;
  report("ethtool ETHTOOL_GLINK", ioctl(s, SIOCETHTOOL, &ifr));
  printf("link %u\n", link.data);
  close(s);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void sysctls(void) {
  const char *files[] = {"ipv4/ip_local_port_range", "ipv4/conf/lo/accept_local", "ipv4/conf/lo/route_localnet",
                         "ipv4/tcp_sack", "ipv4/ip_forward", "ipv6/conf/all/disable_ipv6", "core/somaxconn",
                         "ipv4/tcp_fastopen_key", "ipv4/route/flush", "ipv4/nope"};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    char path[128], buf[256];
    snprintf(path, sizeof path, "/proc/sys/net/%s", files[i]);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
      printf("%s: read %s", files[i], strerrorname_np(errno));
    } else {
      long n = read(fd, buf, sizeof buf - 1);
      buf[n < 0 ? 0 : n] = 0;
      if (n > 0 && buf[n - 1] == '\n') buf[n - 1] = 0;
      printf("%s: \"%s\"", files[i], buf);
      close(fd);
    }
    fd = open(path, O_WRONLY);
    printf(", write %s\n", fd < 0 ? strerrorname_np(errno) : "opened");
    if (fd >= 0) close(fd);
  }
  DIR *d = opendir("/proc/sys/net/ipv4/conf");
  char *names[64];
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d)) && n < 64;)
    if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
  qsort(names, n, sizeof *names, by_name);
  printf("ipv4/conf:");
  for (int i = 0; i < n; i++) printf(" %s", names[i]);
  printf("\n");
  if (d) closedir(d);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc < 2) return 2;
  if (!strcmp(argv[1], "sendall"))
    sendall();
  else if (!strcmp(argv[1], "netlink"))
    netlink();
  else if (!strcmp(argv[1], "sysctl"))
    sysctls();
  else if (!strcmp(argv[1], "procnet"))
    procnet();
  else if (!strcmp(argv[1], "ioctl"))
    ioctls();
  else if (!strcmp(argv[1], "unpriv"))
    unpriv(argc > 2 && !strcmp(argv[2], "keep-caps"));
  else
    return 2;
  return 0;
}
