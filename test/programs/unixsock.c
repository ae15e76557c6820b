/*
 * Unix-domain sockets, Linux-exact (issue 9): the names getsockname,
 * getpeername, recvfrom and accept report, the errnos of bind, connect and
 * addressed sends, socket files, peer credentials and SCM_CREDENTIALS. Each
 * subcommand prints one line per case; pids are printed as what they are to
 * the program (self, parent, child, 0) and the scratch directory as $D, so a
 * native run and a sandboxed run can be compared line by line.
 *
 *   unixsock DIR SUBCOMMAND   (DIR: an empty scratch directory, absolute,
 *                              writable by uid 1000 through its parent)
 *   subcommands: names, errnos, sends, files, creds, passcred, abstract; creds-all is
 *   creds with the case tsvisor is known to answer differently (the peer
 *   pidfd)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exact.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif

/* the scratch directory's last component: abstract names are unique per run */
static const char *T;
/* creds-all: also the cases where tsvisor is known to differ (docs/design.md) */
static int all_creds;

/* An address for `name`: a path, or an abstract name after '@' ("@x" -> "\0x"). */
struct addr {
  union {
    struct sockaddr_un un;
    char raw[128];
  } u;
  socklen_t len;
};
static struct addr A(const char *name) {
  struct addr a;
  memset(&a, 0, sizeof a);
  a.u.un.sun_family = AF_UNIX;
  size_t l = strlen(name);
  if (name[0] == '@') {
    memcpy(a.u.un.sun_path + 1, name + 1, l - 1);
    a.len = offsetof(struct sockaddr_un, sun_path) + l;
  } else {
    memcpy(a.u.raw + offsetof(struct sockaddr_un, sun_path), name, l);
    a.len = offsetof(struct sockaddr_un, sun_path) + l + (l < sizeof a.u.un.sun_path ? 1 : 0);
  }
  return a;
}
/* An abstract name unique to this run. */
static char *abs_name(const char *what) {
  static char buf[8][128];
  static int k;
  k = (k + 1) % 8;
  snprintf(buf[k], sizeof buf[k], "@tsvux-%s-%s", T, what);
  return buf[k];
}

/* A name as returned by the kernel, with $D and $T for the run's own parts. */
static const char *fmt(const void *p, socklen_t len) {
  static char buf[4][700];
  static int k;
  k = (k + 1) % 4;
  char *o = buf[k];
  const struct sockaddr_un *a = p;
  if (len < sizeof(sa_family_t)) {
    snprintf(o, 700, "len=%u", len);
    return o;
  }
  if (len == sizeof(sa_family_t)) {
    snprintf(o, 700, "unnamed family=%d", a->sun_family);
    return o;
  }
  size_t n = len - offsetof(struct sockaddr_un, sun_path);
  if (n > sizeof a->sun_path) n = sizeof a->sun_path;
  const char *s = a->sun_path;
  char body[600];
  size_t bl = 0;
  if (s[0] == 0) {
    /* autobind names: five hex digits */
    int hex = n == 6;
    for (size_t i = 1; i < n && hex; i++) hex = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');
    if (hex) {
      snprintf(o, 700, "len=%u @<autobind>", len);
      return o;
    }
    body[bl++] = '@';
    for (size_t i = 1; i < n; i++) {
      if (s[i] >= 32 && s[i] < 127) body[bl++] = s[i];
      else bl += (size_t)snprintf(body + bl, sizeof body - bl, "\\x%02x", (unsigned char)s[i]);
    }
  } else {
    for (size_t i = 0; i < n && s[i]; i++) body[bl++] = s[i];
  }
  body[bl] = 0;
  /* $D and $T for the run's scratch directory and tag */
  char out[600];
  size_t ol = 0;
  size_t dl = strlen(D), tl = strlen(T);
  for (size_t i = 0; i < bl;) {
    if (!strncmp(body + i, D, dl)) {
      ol += (size_t)snprintf(out + ol, sizeof out - ol, "$D");
      i += dl;
    } else if (!strncmp(body + i, T, tl)) {
      ol += (size_t)snprintf(out + ol, sizeof out - ol, "$T");
      i += tl;
    } else out[ol++] = body[i++];
  }
  out[ol] = 0;
  snprintf(o, 700, "len=%u %s", len, out);
  return o;
}

static void sockname(const char *what, int s) {
  struct addr a;
  memset(&a, 0, sizeof a);
  a.len = sizeof a.u;
  if (getsockname(s, (struct sockaddr *)&a.u, &a.len) < 0) printf("%s getsockname: -1 %s\n", what, strerrorname_np(errno));
  else printf("%s getsockname: %s\n", what, fmt(&a.u, a.len));
  fflush(stdout);
}
static void peername(const char *what, int s) {
  struct addr a;
  memset(&a, 0, sizeof a);
  a.len = sizeof a.u;
  if (getpeername(s, (struct sockaddr *)&a.u, &a.len) < 0) printf("%s getpeername: -1 %s\n", what, strerrorname_np(errno));
  else printf("%s getpeername: %s\n", what, fmt(&a.u, a.len));
  fflush(stdout);
}

static int sock(int type) { return socket(AF_UNIX, type | SOCK_CLOEXEC, 0); }
static int bindto(int s, const char *name) {
  struct addr a = A(name);
  return bind(s, (struct sockaddr *)&a.u, a.len);
}
static int connectto(int s, const char *name) {
  struct addr a = A(name);
  return connect(s, (struct sockaddr *)&a.u, a.len);
}
static ssize_t sendtoname(int s, const void *d, size_t n, int flags, const char *name) {
  struct addr a = A(name);
  return sendto(s, d, n, flags, (struct sockaddr *)&a.u, a.len);
}
static ssize_t sendmsgto(int s, const void *d, size_t n, const char *name) {
  struct addr a = A(name);
  struct iovec iov = {(void *)d, n};
  struct msghdr m;
  memset(&m, 0, sizeof m);
  m.msg_name = &a.u;
  m.msg_namelen = a.len;
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  return sendmsg(s, &m, 0);
}
/* A listening socket of `type` bound at `name`. */
static int server(int type, const char *name) {
  int s = sock(type);
  if (bindto(s, name) < 0) printf("server %s: bind: %s\n", name, strerrorname_np(errno));
  if (type != SOCK_DGRAM && listen(s, 8) < 0) printf("server %s: listen: %s\n", name, strerrorname_np(errno));
  return s;
}
static const char *tname(int type) { return type == SOCK_STREAM ? "stream" : type == SOCK_DGRAM ? "dgram" : "seqpacket"; }

/* What a received datagram's sender address is. */
static void recvname(const char *what, int s) {
  struct addr a;
  memset(&a, 0, sizeof a);
  a.len = sizeof a.u;
  char buf[64];
  ssize_t n = recvfrom(s, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&a.u, &a.len);
  if (n < 0) printf("%s recvfrom: -1 %s\n", what, strerrorname_np(errno));
  else printf("%s recvfrom: %zd bytes from %s\n", what, n, fmt(&a.u, a.len));
  fflush(stdout);
}

/* ---------------------------------------------------------------- names */

static void names_connected(int type) {
  char w[128];
  const char *t = tname(type);
  char srvname[64], cliname[64];
  snprintf(srvname, sizeof srvname, "%s-srv.sock", t);
  snprintf(cliname, sizeof cliname, "%s-cli.sock", t);
  int s = server(type, at(srvname));
  snprintf(w, sizeof w, "%s server (absolute)", t);
  sockname(w, s);
  /* an unbound client */
  int c = sock(type);
  snprintf(w, sizeof w, "%s connect (absolute)", t);
  R(w, connectto(c, at(srvname)));
  snprintf(w, sizeof w, "%s client", t);
  sockname(w, c);
  peername(w, c);
  struct addr a;
  memset(&a, 0, sizeof a);
  a.len = sizeof a.u;
  int x = accept4(s, (struct sockaddr *)&a.u, &a.len, SOCK_CLOEXEC);
  printf("%s accept: %s\n", t, x < 0 ? strerrorname_np(errno) : fmt(&a.u, a.len));
  snprintf(w, sizeof w, "%s accepted", t);
  sockname(w, x);
  peername(w, x);
  close(c);
  close(x);
  /* a client bound to a relative name, connecting by a relative name */
  c = sock(type);
  snprintf(w, sizeof w, "%s client bind (relative)", t);
  R(w, bindto(c, cliname));
  snprintf(w, sizeof w, "%s connect (relative)", t);
  R(w, connectto(c, srvname));
  snprintf(w, sizeof w, "%s bound client", t);
  sockname(w, c);
  peername(w, c);
  memset(&a, 0, sizeof a);
  a.len = sizeof a.u;
  x = accept4(s, (struct sockaddr *)&a.u, &a.len, SOCK_CLOEXEC);
  printf("%s accept of a bound client: %s\n", t, x < 0 ? strerrorname_np(errno) : fmt(&a.u, a.len));
  snprintf(w, sizeof w, "%s accepted from a bound client", t);
  peername(w, x);
  /* a short buffer: the length says how long the name is */
  char small[8];
  socklen_t sl = sizeof small;
  memset(small, 0, sizeof small);
  if (getpeername(x, (struct sockaddr *)small, &sl) < 0) printf("%s getpeername into 8 bytes: %s\n", t, strerrorname_np(errno));
  else printf("%s getpeername into 8 bytes: len=%u \"%.6s\"\n", t, sl, small + 2);
  close(c);
  close(x);
  close(s);
}

static void cmd_names(void) {
  if (chdir(D) < 0) return;
  int s = sock(SOCK_STREAM);
  sockname("unbound", s);
  peername("unbound", s);
  close(s);
  names_connected(SOCK_STREAM);
  names_connected(SOCK_SEQPACKET);

  /* relative names with .. and ./ */
  mkdir(at("sub"), 0755);
  if (chdir(at("sub")) < 0) return;
  s = sock(SOCK_STREAM);
  R("bind ../up.sock from sub", bindto(s, "../up.sock"));
  listen(s, 4);
  sockname("../up.sock", s);
  if (chdir(D) < 0) return;
  int c = sock(SOCK_STREAM);
  R("connect ./up.sock", connectto(c, "./up.sock"));
  peername("connected to ../up.sock", c);
  close(c);
  close(s);
  s = sock(SOCK_STREAM);
  R("bind sub/../sub/./dots.sock", bindto(s, "sub/../sub/./dots.sock"));
  sockname("sub/../sub/./dots.sock", s);
  close(s);

  /* long names: 107 bytes, 108 without a terminating NUL, 109 */
  char longn[120];
  memset(longn, 'L', sizeof longn);
  longn[107] = 0;
  s = sock(SOCK_STREAM);
  R("bind a 107-byte relative name", bindto(s, longn));
  listen(s, 4);
  sockname("107-byte name", s);
  c = sock(SOCK_STREAM);
  R("connect to the 107-byte name", connectto(c, longn));
  peername("connected to the 107-byte name", c);
  close(c);
  close(s);
  memset(longn, 'M', sizeof longn);
  longn[108] = 0;
  s = sock(SOCK_STREAM);
  R("bind a 108-byte name (no NUL)", bindto(s, longn));
  listen(s, 4);
  sockname("108-byte name", s);
  c = sock(SOCK_STREAM);
  R("connect to the 108-byte name", connectto(c, longn));
  peername("connected to the 108-byte name", c);
  close(c);
  close(s);
  {
    struct addr a = A("x");
    memset(a.u.raw + 2, 'N', 109);
    s = sock(SOCK_STREAM);
    R("bind with addrlen 111", bind(s, (struct sockaddr *)&a.u, 111));
    R("connect with addrlen 111", connect(s, (struct sockaddr *)&a.u, 111));
    close(s);
  }
  /* bytes after the NUL are ignored, the name is as long as its string */
  {
    struct addr a = A("trail.sock");
    memcpy(a.u.un.sun_path + 11, "garbage", 7);
    s = sock(SOCK_STREAM);
    R("bind trail.sock with bytes after the NUL", bind(s, (struct sockaddr *)&a.u, sizeof a.u.un));
    sockname("trail.sock", s);
    close(s);
  }

  /* autobind: explicitly, and implicitly by SO_PASSCRED + connect */
  s = sock(SOCK_STREAM);
  struct sockaddr_un un = {AF_UNIX, ""};
  R("autobind", bind(s, (struct sockaddr *)&un, sizeof(sa_family_t)));
  sockname("autobound", s);
  listen(s, 4);
  {
    struct addr a;
    memset(&a, 0, sizeof a);
    a.len = sizeof a.u;
    getsockname(s, (struct sockaddr *)&a.u, &a.len);
    c = sock(SOCK_STREAM);
    R("connect to the autobound name", connect(c, (struct sockaddr *)&a.u, a.len));
    struct addr p;
    memset(&p, 0, sizeof p);
    p.len = sizeof p.u;
    getpeername(c, (struct sockaddr *)&p.u, &p.len);
    printf("peer name is the autobound name: %s\n", p.len == a.len && !memcmp(&p.u, &a.u, a.len) ? "yes" : "no");
    close(c);
  }
  close(s);

  /* datagrams: the sender's name as recvfrom reports it, and replies to it */
  int d = server(SOCK_DGRAM, at("dg-srv.sock"));
  c = sock(SOCK_DGRAM);
  R("dgram sendto from an unbound socket", sendtoname(c, "a", 1, 0, at("dg-srv.sock")));
  recvname("from unbound", d);
  R("dgram client bind (relative)", bindto(c, "dg-cli.sock"));
  R("dgram sendto (relative)", sendtoname(c, "b", 1, 0, "dg-srv.sock"));
  {
    struct addr a;
    memset(&a, 0, sizeof a);
    a.len = sizeof a.u;
    char buf[8];
    ssize_t n = recvfrom(d, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&a.u, &a.len);
    printf("from bound: %zd bytes from %s\n", n, fmt(&a.u, a.len));
    R("reply to the recvfrom address", sendto(d, "r", 1, 0, (struct sockaddr *)&a.u, a.len));
    recvname("reply", c);
  }
  R("dgram sendmsg (absolute)", sendmsgto(c, "m", 1, at("dg-srv.sock")));
  recvname("sendmsg", d);
  R("dgram connect", connectto(c, at("dg-srv.sock")));
  peername("connected dgram", c);
  R("dgram send on the connected socket", send(c, "s", 1, 0));
  recvname("send", d);
  close(c);
  /* a sender bound to an abstract name */
  c = sock(SOCK_DGRAM);
  R("dgram client bind (abstract)", bindto(c, abs_name("dgcli")));
  R("dgram sendto from an abstract name", sendtoname(c, "c", 1, 0, at("dg-srv.sock")));
  recvname("from abstract", d);
  close(c);
  close(d);

  /* socketpair */
  int sp[2];
  socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp);
  sockname("socketpair", sp[0]);
  peername("socketpair", sp[0]);
  close(sp[0]);
  close(sp[1]);
}

/* ------------------------------------------------------ abstract names */

static void cmd_abstract(void) {
  int s = server(SOCK_STREAM, abs_name("srv"));
  sockname("abstract server", s);
  int c = sock(SOCK_STREAM);
  R("connect (abstract)", connectto(c, abs_name("srv")));
  peername("abstract client", c);
  int x = accept4(s, NULL, NULL, SOCK_CLOEXEC);
  sockname("abstract accepted", x);
  close(x);
  close(c);
  int s2 = sock(SOCK_STREAM);
  R("bind an abstract name in use", bindto(s2, abs_name("srv")));
  close(s2);
  close(s);
  R("connect to a closed abstract name", connectto(c = sock(SOCK_STREAM), abs_name("srv")));
  close(c);
  /* names with NUL bytes inside, told by their length */
  {
    struct addr a = A(abs_name("nul"));
    a.u.un.sun_path[3] = 0;
    s = sock(SOCK_DGRAM);
    R("bind an abstract name with a NUL inside", bind(s, (struct sockaddr *)&a.u, a.len));
    sockname("abstract with NUL", s);
    c = sock(SOCK_DGRAM);
    R("sendto it", sendto(c, "n", 1, 0, (struct sockaddr *)&a.u, a.len));
    R("sendto a prefix of it", sendto(c, "n", 1, 0, (struct sockaddr *)&a.u, a.len - 1));
    close(c);
    close(s);
  }
  /* a datagram reply to an abstract sender */
  int d = server(SOCK_DGRAM, abs_name("dsrv"));
  c = sock(SOCK_DGRAM);
  bindto(c, abs_name("dcli"));
  R("dgram sendto (abstract)", sendtoname(c, "a", 1, 0, abs_name("dsrv")));
  recvname("abstract dgram", d);
  R("reply to the abstract sender by name", sendtoname(d, "r", 1, 0, abs_name("dcli")));
  recvname("abstract reply", c);
  close(c);
  close(d);
}

/* --------------------------------------------------------------- errnos */

static void cmd_errnos(void) {
  if (chdir(D) < 0) return;
  mkdir(at("dir"), 0755);
  close(open(at("file"), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
  int s = sock(SOCK_STREAM);
  R("bind on an existing file", bindto(s, at("file")));
  R("bind on an existing directory", bindto(s, at("dir")));
  R("bind on an existing directory with a slash", bindto(s, "dir/"));
  R("bind on a new name with a slash", bindto(s, "new/"));
  R("bind on .", bindto(s, "."));
  R("bind on /", bindto(s, "/"));
  R("bind below a missing directory", bindto(s, "missing/x.sock"));
  R("bind below a file", bindto(s, "file/x.sock"));
  R("bind with an AF_INET family", ({
      struct addr a = A("inet.sock");
      a.u.un.sun_family = AF_INET;
      bind(s, (struct sockaddr *)&a.u, a.len);
    }));
  R("bind with addrlen 1", bind(s, (struct sockaddr *)&(struct sockaddr_un){AF_UNIX, "x"}, 1));
  R("bind", bindto(s, "one.sock"));
  R("bind again, to another name", bindto(s, "two.sock"));
  struct stat st;
  R("the other name exists", lstat("two.sock", &st));
  R("bind again, to an abstract name", bindto(s, abs_name("again")));
  R("bind again, autobind", bind(s, (struct sockaddr *)&(struct sockaddr_un){AF_UNIX, ""}, sizeof(sa_family_t)));
  int s2 = sock(SOCK_STREAM);
  R("bind on a socket file in use", bindto(s2, "one.sock"));
  close(s2);
  close(s);
  s = sock(SOCK_DGRAM);
  R("dgram bind on an existing directory", bindto(s, at("dir")));
  close(s);

  /* connect */
  int ls = server(SOCK_STREAM, "stream.sock");
  int ds = server(SOCK_DGRAM, "dgram.sock");
  int qs = server(SOCK_SEQPACKET, "seq.sock");
  int nl = sock(SOCK_STREAM);
  bindto(nl, "notlistening.sock");
  int c;
  R("connect to a missing name", connectto(c = sock(SOCK_STREAM), "nothere.sock"));
  close(c);
  R("connect to a file", connectto(c = sock(SOCK_STREAM), "file"));
  close(c);
  R("connect to a directory", connectto(c = sock(SOCK_STREAM), "dir"));
  close(c);
  R("connect below a file", connectto(c = sock(SOCK_STREAM), "file/x"));
  close(c);
  R("connect to /", connectto(c = sock(SOCK_STREAM), "/"));
  close(c);
  R("stream connect to a dgram socket", connectto(c = sock(SOCK_STREAM), "dgram.sock"));
  close(c);
  R("stream connect to a seqpacket socket", connectto(c = sock(SOCK_STREAM), "seq.sock"));
  close(c);
  R("seqpacket connect to a stream socket", connectto(c = sock(SOCK_SEQPACKET), "stream.sock"));
  close(c);
  R("dgram connect to a stream socket", connectto(c = sock(SOCK_DGRAM), "stream.sock"));
  close(c);
  R("connect to a socket that does not listen", connectto(c = sock(SOCK_STREAM), "notlistening.sock"));
  close(c);
  R("connect with an AF_INET family", ({
      struct addr a = A("stream.sock");
      a.u.un.sun_family = AF_INET;
      connect(c = sock(SOCK_STREAM), (struct sockaddr *)&a.u, a.len);
    }));
  close(c);
  R("connect with addrlen 2", connect(c = sock(SOCK_STREAM), (struct sockaddr *)&(struct sockaddr_un){AF_UNIX, ""}, 2));
  close(c);
  c = sock(SOCK_STREAM);
  R("connect", connectto(c, "stream.sock"));
  R("connect again", connectto(c, "stream.sock"));
  R("connect again, to a missing name", connectto(c, "nothere.sock"));
  R("connect again, to a dgram socket", connectto(c, "dgram.sock"));
  close(c);
  c = sock(SOCK_DGRAM);
  R("dgram connect", connectto(c, "dgram.sock"));
  R("dgram connect with AF_UNSPEC", connect(c, (struct sockaddr *)&(struct sockaddr){AF_UNSPEC}, sizeof(struct sockaddr)));
  peername("dgram after AF_UNSPEC", c);
  close(c);
  /* a full backlog: non-blocking connects fail with EAGAIN */
  {
    int b = sock(SOCK_STREAM);
    bindto(b, "backlog.sock");
    listen(b, 0);
    int c1 = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int c2 = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int c3 = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    R("non-blocking connect 1 to backlog 0", connectto(c1, "backlog.sock"));
    R("non-blocking connect 2 to backlog 0", connectto(c2, "backlog.sock"));
    R("non-blocking connect 3 to backlog 0", connectto(c3, "backlog.sock"));
    close(c1);
    close(c2);
    close(c3);
    close(b);
  }
  close(nl);
  /* a server that went away: its file stays, connects are refused */
  close(ls);
  R("the socket file stays after close", lstat("stream.sock", &st) == 0 && S_ISSOCK(st.st_mode) ? 0 : -1);
  R("connect to a closed server", connectto(c = sock(SOCK_STREAM), "stream.sock"));
  close(c);
  close(ds);
  R("dgram sendto a closed socket", sendtoname(c = sock(SOCK_DGRAM), "x", 1, 0, "dgram.sock"));
  close(c);
  close(qs);
}

/* A blocking connect to a full backlog waits for accept; other calls go on meanwhile. */
static void *blocking_connect(void *arg) {
  int c = sock(SOCK_STREAM);
  long r = connectto(c, (const char *)arg);
  return (void *)(r < 0 ? (long)-errno : 0L);
}
static void blocking(void) {
  int b = sock(SOCK_STREAM);
  bindto(b, at("block.sock"));
  listen(b, 0);
  int c1 = sock(SOCK_STREAM);
  R("blocking connect 1 to backlog 0", connectto(c1, at("block.sock")));
  pthread_t t;
  pthread_create(&t, NULL, blocking_connect, at("block.sock"));
  usleep(200000);
  /* while it waits: a bind, a connect and a stat */
  int o = server(SOCK_STREAM, at("other.sock"));
  int c = sock(SOCK_STREAM);
  R("connect to another server while one waits", connectto(c, at("other.sock")));
  struct stat st;
  R("stat while a connect waits", stat(at("block.sock"), &st));
  close(c);
  close(o);
  int x = accept(b, NULL, NULL);
  void *res;
  pthread_join(t, &res);
  printf("blocking connect 2 after accept: %ld\n", (long)res);
  close(x);
  close(c1);
  close(b);
}

/* ----------------------------------------------------------------- sends */

static void sends_on(const char *t, int s, const char *to) {
  char w[160];
  snprintf(w, sizeof w, "%s sendto %s", t, to);
  R(w, sendtoname(s, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL, to));
  snprintf(w, sizeof w, "%s sendmsg to %s", t, to);
  R(w, sendmsgto(s, "x", 1, to));
}

/* Reads everything from the fd in *arg until EOF; the count is the thread's result. */
static void *drain(void *arg) {
  int fd = *(int *)arg;
  char buf[65536];
  long total = 0;
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) total += n;
  return (void *)total;
}

/* A blocking stream sendmsg larger than the send buffer queues all of it before it returns. */
static void large_sendmsg(int type) {
  int sp[2];
  if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sp) < 0) return;
  int sndbuf = 0;
  socklen_t l = sizeof sndbuf;
  getsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, &l);
  size_t n = 3 * (size_t)sndbuf;
  char *data = calloc(1, n);
  pthread_t th;
  pthread_create(&th, NULL, drain, &sp[1]);
  struct iovec iov = {data, n};
  struct msghdr m;
  memset(&m, 0, sizeof m);
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  ssize_t r = sendmsg(sp[0], &m, 0);
  printf("%s sendmsg of three send buffers: %s\n", tname(type), r == (ssize_t)n ? "all of it" : r < 0 ? strerrorname_np(errno) : "a part");
  shutdown(sp[0], SHUT_WR);
  void *got;
  pthread_join(th, &got);
  printf("%s reader got: %s\n", tname(type), (long)got == (long)(r < 0 ? 0 : r) ? "what was sent" : "something else");
  fflush(stdout);
  close(sp[0]);
  close(sp[1]);
  free(data);
}

static void cmd_sends(void) {
  if (chdir(D) < 0) return;
  close(open("file", O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
  int ls = server(SOCK_STREAM, "stream.sock");
  int qs = server(SOCK_SEQPACKET, "seq.sock");
  int ds = server(SOCK_DGRAM, "dgram.sock");
  const char *targets[] = {"stream.sock", "dgram.sock", "nothere.sock", "file", NULL};
  for (int i = 0; targets[i]; i++) {
    int c = sock(SOCK_STREAM);
    sends_on("unconnected stream", c, targets[i]);
    close(c);
  }
  int c = sock(SOCK_STREAM);
  R("unconnected stream send", send(c, "x", 1, MSG_NOSIGNAL));
  connectto(c, "stream.sock");
  int x = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
  for (int i = 0; targets[i]; i++) sends_on("connected stream", c, targets[i]);
  R("connected stream sendto with addrlen 111", ({
      struct addr a = A("stream.sock");
      sendto(c, "x", 1, 0, (struct sockaddr *)&a.u, 111);
    }));
  R("connected stream sendto with an AF_INET family", ({
      struct addr a = A("stream.sock");
      a.u.un.sun_family = AF_INET;
      sendto(c, "x", 1, 0, (struct sockaddr *)&a.u, a.len);
    }));
  char buf[64];
  R("bytes the accepted socket got", recv(x, buf, sizeof buf, MSG_DONTWAIT));
  close(x);
  close(c);

  for (int i = 0; targets[i]; i++) {
    c = sock(SOCK_SEQPACKET);
    sends_on("unconnected seqpacket", c, targets[i]);
    close(c);
  }
  c = sock(SOCK_SEQPACKET);
  connectto(c, "seq.sock");
  x = accept4(qs, NULL, NULL, SOCK_CLOEXEC);
  for (int i = 0; targets[i]; i++) sends_on("connected seqpacket", c, targets[i]);
  int got = 0;
  while (recv(x, buf, sizeof buf, MSG_DONTWAIT) > 0) got++;
  printf("messages the accepted seqpacket socket got: %d\n", got);
  close(x);
  close(c);

  for (int i = 0; targets[i]; i++) {
    c = sock(SOCK_DGRAM);
    sends_on("unbound dgram", c, targets[i]);
    close(c);
  }
  c = sock(SOCK_DGRAM);
  R("unconnected dgram send", send(c, "x", 1, 0));
  R("dgram sendto a missing name with MSG_OOB", sendtoname(c, "x", 1, MSG_OOB, "nothere.sock"));
  R("dgram sendto a missing name with addrlen 111", ({
      struct addr a = A("nothere.sock");
      sendto(c, "x", 1, 0, (struct sockaddr *)&a.u, 111);
    }));
  {
    /* larger than the send buffer: EMSGSIZE comes before the name is looked up */
    int sz = 4096;
    setsockopt(c, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    static char big[65536];
    R("dgram sendto a missing name, larger than the send buffer", sendtoname(c, big, sizeof big, 0, "nothere.sock"));
    R("dgram sendto a server, larger than the send buffer", sendtoname(c, big, sizeof big, 0, "dgram.sock"));
  }
  close(c);
  /* a datagram socket connected to another refuses others' datagrams */
  int peer = sock(SOCK_DGRAM);
  bindto(peer, "peer.sock");
  int other = sock(SOCK_DGRAM);
  bindto(other, "other.sock");
  R("connect a dgram socket to another", connectto(peer, "other.sock"));
  c = sock(SOCK_DGRAM);
  R("dgram sendto a socket connected elsewhere", sendtoname(c, "x", 1, 0, "peer.sock"));
  close(c);
  /* a full receiver: EAGAIN with MSG_DONTWAIT */
  c = sock(SOCK_DGRAM);
  int n = 0;
  while (sendtoname(c, "0123456789", 10, MSG_DONTWAIT, "other.sock") == 10 && n < 100000) n++;
  printf("dgram sendto a full receiver: %s after %s\n", strerrorname_np(errno), n > 0 ? "some" : "none");
  close(c);
  close(peer);
  close(other);
  close(ds);
  close(qs);
  close(ls);
  large_sendmsg(SOCK_STREAM);
}

/* ----------------------------------------------------------------- files */

static void mode_of(const char *what, const char *path) {
  struct stat st;
  if (lstat(path, &st) < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
  else printf("%s: %s %o nlink %lu\n", what, S_ISSOCK(st.st_mode) ? "socket" : "other", st.st_mode & 07777, (unsigned long)st.st_nlink);
  fflush(stdout);
}

/* Connects to `name`, and reads one byte the server's accept loop sends. */
static void which(const char *what, const char *name, int srv1, int srv2) {
  int c = sock(SOCK_STREAM);
  if (connectto(c, name) < 0) {
    printf("%s: connect %s\n", what, strerrorname_np(errno));
    fflush(stdout);
    close(c);
    return;
  }
  int got = 0;
  for (int i = 0; i < 2; i++) {
    int srv = i ? srv2 : srv1;
    if (srv < 0) continue;
    fcntl(srv, F_SETFL, O_NONBLOCK);
    int x = accept4(srv, NULL, NULL, SOCK_CLOEXEC);
    if (x >= 0) {
      got = i + 1;
      close(x);
    }
  }
  printf("%s: reached server %d\n", what, got);
  fflush(stdout);
  peername(what, c);
  close(c);
}

static void cmd_files(void) {
  if (chdir(D) < 0) return;
  umask(022);
  int s1 = server(SOCK_STREAM, "f.sock");
  mode_of("socket file, umask 022", "f.sock");
  umask(077);
  int s0 = server(SOCK_STREAM, "g.sock");
  mode_of("socket file, umask 077", "g.sock");
  close(s0);
  /* the file takes the socket's own mode (set by fchmod before bind) less the umask */
  umask(0123);
  int sm = sock(SOCK_STREAM);
  R("fchmod a socket 0765", fchmod(sm, 0765));
  R("bind it", bindto(sm, "h.sock"));
  mode_of("socket file of a 0765 socket, umask 0123", "h.sock");
  close(sm);
  umask(022);
  R("open a socket file", open("f.sock", O_RDONLY | O_CLOEXEC));
  which("connect f.sock", "f.sock", s1, -1);
  R("rename f.sock to r.sock", rename("f.sock", "r.sock"));
  which("connect by the old name", "f.sock", s1, -1);
  which("connect by the new name", "r.sock", s1, -1);
  sockname("server after rename", s1);
  R("link r.sock to l.sock", link("r.sock", "l.sock"));
  mode_of("linked socket file", "l.sock");
  which("connect by the link", "l.sock", s1, -1);
  R("unlink r.sock", unlink("r.sock"));
  which("connect by the remaining link", "l.sock", s1, -1);
  R("unlink l.sock", unlink("l.sock"));
  which("connect after unlink", "l.sock", s1, -1);
  /* a new server on the name of one that is still alive but unlinked */
  int s2 = server(SOCK_STREAM, "l.sock");
  which("connect to the new server on the same name", "l.sock", s1, s2);
  /* a directory renamed with a socket in it */
  mkdir("dd", 0755);
  int s3 = server(SOCK_STREAM, "dd/in.sock");
  R("rename dd to ee", rename("dd", "ee"));
  which("connect through the renamed directory", "ee/in.sock", s3, -1);
  /* replaced by a regular file, and a socket file replacing another */
  close(open("plain", O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
  R("rename a file over l.sock", rename("plain", "l.sock"));
  which("connect to the file that replaced the socket", "l.sock", s2, -1);
  int s4 = server(SOCK_STREAM, "m.sock");
  int s5 = server(SOCK_STREAM, "n.sock");
  R("rename m.sock over n.sock", rename("m.sock", "n.sock"));
  which("connect n.sock after the rename", "n.sock", s4, s5);
  /* a socket that went away leaves its file; a new bind on it fails */
  close(s4);
  which("connect to the closed server's file", "n.sock", s5, -1);
  int s6 = sock(SOCK_STREAM);
  R("bind on the closed server's file", bindto(s6, "n.sock"));
  R("unlink it", unlink("n.sock"));
  R("bind again", bindto(s6, "n.sock"));
  listen(s6, 4);
  which("connect to the new server", "n.sock", s6, s5);
  close(s6);
  close(s5);
  close(s3);
  close(s2);
  close(s1);
  /* many binds and unlinks of one name */
  int ok = 0;
  for (int i = 0; i < 300; i++) {
    int s = sock(SOCK_DGRAM);
    if (bindto(s, "cycle.sock") == 0) ok++;
    close(s);
    unlink("cycle.sock");
  }
  printf("300 bind+unlink cycles: %d binds\n", ok);
  blocking();
}

/* ----------------------------------------------------------- credentials */

static const char *who(pid_t pid, pid_t child) {
  if (pid == getpid()) return "self";
  if (child > 0 && pid == child) return "child";
  if (pid == getppid()) return "parent";
  if (pid == 0) return "0";
  return "other";
}

static void peercred(const char *what, int s, pid_t child) {
  struct ucred cr;
  socklen_t l = sizeof cr;
  if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &l) < 0) printf("%s SO_PEERCRED: -1 %s\n", what, strerrorname_np(errno));
  else printf("%s SO_PEERCRED: len %u pid %s uid %d gid %d\n", what, l, who(cr.pid, child), (int)cr.uid, (int)cr.gid);
  fflush(stdout);
}

static void peergroups(const char *what, int s) {
  gid_t g[64];
  socklen_t l = sizeof g;
  if (getsockopt(s, SOL_SOCKET, SO_PEERGROUPS, g, &l) < 0) {
    printf("%s SO_PEERGROUPS: -1 %s\n", what, strerrorname_np(errno));
    return;
  }
  printf("%s SO_PEERGROUPS:", what);
  for (unsigned i = 0; i < l / sizeof *g; i++) printf(" %d", (int)g[i]);
  printf("\n");
  fflush(stdout);
}

/* The pid a pidfd stands for, from its fdinfo. */
static long pidfd_pid(int fd) {
  char p[64], line[256];
  snprintf(p, sizeof p, "/proc/self/fdinfo/%d", fd);
  FILE *f = fopen(p, "re");
  long pid = -2;
  if (!f) return -3;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "Pid:", 4)) pid = strtol(line + 4, NULL, 10);
  fclose(f);
  return pid;
}

static void peerpidfd(const char *what, int s, pid_t child) {
  int fd = -1;
  socklen_t l = sizeof fd;
  if (getsockopt(s, SOL_SOCKET, SO_PEERPIDFD, &fd, &l) < 0) {
    printf("%s SO_PEERPIDFD: -1 %s\n", what, strerrorname_np(errno));
    return;
  }
  int cloexec = fcntl(fd, F_GETFD) & FD_CLOEXEC;
  printf("%s SO_PEERPIDFD: a pidfd of %s%s\n", what, who((pid_t)pidfd_pid(fd), child), cloexec ? ", close-on-exec" : "");
  close(fd);
}

static void drop_to(uid_t uid) {
  gid_t groups[2] = {uid, uid + 1};
  if (setgroups(2, groups) < 0 || setgid(uid) < 0 || setuid(uid) < 0) {
    printf("drop to %d: %s\n", (int)uid, strerrorname_np(errno));
    fflush(stdout);
    _exit(1);
  }
}

/* Runs `fn` in a child (as `uid` unless -1); waits for it. Returns its pid. */
static pid_t in_child(void (*fn)(void *), void *arg, int uid) {
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    if (uid >= 0) drop_to((uid_t)uid);
    fn(arg);
    fflush(stdout);
    _exit(0);
  }
  int st;
  waitpid(p, &st, 0);
  return p;
}

static void child_connect(void *name) {
  int c = sock(SOCK_STREAM);
  if (connectto(c, name) < 0) printf("child connect: %s\n", strerrorname_np(errno));
  peercred("client", c, 0);
  /* the accepted side is inspected while this socket is still open, then after */
  if (write(c, "x", 1) != 1) printf("child write: %s\n", strerrorname_np(errno));
  char b;
  if (read(c, &b, 1) != 1) printf("child read: %s\n", strerrorname_np(errno));
  close(c);
}
/* connects and is gone before the server accepts */
static void child_connect_close(int type, const char *name) {
  int c = sock(type);
  if (connectto(c, name) < 0) printf("child connect: %s\n", strerrorname_np(errno));
  close(c);
}
static void child_connect_seq(void *name) { child_connect_close(SOCK_SEQPACKET, name); }
static void child_connect_stream(void *name) { child_connect_close(SOCK_STREAM, name); }
static void child_connect_stream_nb(void *name) { child_connect_close(SOCK_STREAM | SOCK_NONBLOCK, name); }

/* A msghdr for one receive into iov with room for control messages in ctl. */
static void msg_init(struct msghdr *h, struct iovec *iov, void *ctl, size_t ctllen) {
  memset(h, 0, sizeof *h);
  h->msg_iov = iov;
  h->msg_iovlen = 1;
  h->msg_control = ctl;
  h->msg_controllen = ctllen;
}

/* One control message of `type` carrying `data` in ctl, attached to m; returned so the caller can change its data. */
static struct cmsghdr *put_cmsg(struct msghdr *m, char *ctl, size_t ctllen, int type, const void *data, size_t n) {
  memset(ctl, 0, ctllen);
  m->msg_control = ctl;
  m->msg_controllen = ctllen;
  struct cmsghdr *cm = CMSG_FIRSTHDR(m);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = type;
  cm->cmsg_len = CMSG_LEN(n);
  memcpy(CMSG_DATA(cm), data, n);
  return cm;
}

struct credmsg {
  pid_t pid;
  uid_t uid;
  gid_t gid;
  int ok;
};
static struct credmsg recv_creds(int s) {
  struct credmsg m = {0, 0, 0, 0};
  char data[16];
  char ctl[CMSG_SPACE(sizeof(struct ucred))];
  struct iovec iov = {data, sizeof data};
  struct msghdr h;
  msg_init(&h, &iov, ctl, sizeof ctl);
  if (recvmsg(s, &h, MSG_DONTWAIT) < 0) {
    m.ok = -errno;
    return m;
  }
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
      struct ucred u;
      memcpy(&u, CMSG_DATA(c), sizeof u);
      m.pid = u.pid;
      m.uid = u.uid;
      m.gid = u.gid;
      m.ok = 1;
    }
  }
  return m;
}
static void show_creds(const char *what, int s, pid_t child) {
  struct credmsg m = recv_creds(s);
  if (m.ok < 0) printf("%s: recvmsg %s\n", what, strerrorname_np(-m.ok));
  else if (!m.ok) printf("%s: no SCM_CREDENTIALS\n", what);
  else printf("%s: SCM_CREDENTIALS pid %s uid %d gid %d\n", what, who(m.pid, child), (int)m.uid, (int)m.gid);
  fflush(stdout);
}

static const char *credsrv;
static void send_ways(void *arg) {
  (void)arg;
  int c = sock(SOCK_DGRAM);
  R("child sendto", sendtoname(c, "a", 1, 0, credsrv));
  R("child sendmsg with a name", sendmsgto(c, "b", 1, credsrv));
  R("child connect", connectto(c, credsrv));
  R("child send", send(c, "c", 1, 0));
  R("child write", write(c, "d", 1));
  {
    struct iovec iov = {"e", 1};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    R("child sendmsg without a name", sendmsg(c, &m, 0));
    char ctl[CMSG_SPACE(sizeof(struct ucred))];
    struct ucred u = {getpid(), getuid(), getgid()};
    struct cmsghdr *cm = put_cmsg(&m, ctl, sizeof ctl, SCM_CREDENTIALS, &u, sizeof u);
    R("child sendmsg with its own SCM_CREDENTIALS", sendmsg(c, &m, 0));
    if (getuid() != 0) {
      u.uid = 0;
      memcpy(CMSG_DATA(cm), &u, sizeof u);
      R("child sendmsg claiming uid 0", sendmsg(c, &m, 0));
      u.uid = getuid();
      u.pid = getppid();
      memcpy(CMSG_DATA(cm), &u, sizeof u);
      R("child sendmsg claiming its parent's pid", sendmsg(c, &m, 0));
    }
  }
  close(c);
}
static void *thread_send(void *arg) {
  int c = sock(SOCK_DGRAM);
  long r = sendtoname(c, "t", 1, 0, (const char *)arg);
  close(c);
  return (void *)r;
}

static void cmd_creds(void) {
  if (chdir(D) < 0) return;
  chmod(D, 0777);
  /* stream: the server sees the connecting child, the child sees the server */
  int s = server(SOCK_STREAM, at("cred.sock"));
  chmod(at("cred.sock"), 0777);
  int uids[] = {-1, 1000};
  for (int i = 0; i < 2; i++) {
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
      if (uids[i] >= 0) drop_to((uid_t)uids[i]);
      child_connect(at("cred.sock"));
      fflush(stdout);
      _exit(0);
    }
    int x = accept4(s, NULL, NULL, SOCK_CLOEXEC);
    char b;
    if (read(x, &b, 1) != 1) printf("server read: %s\n", strerrorname_np(errno));
    const char *w = uids[i] < 0 ? "accepted" : "accepted from uid 1000";
    peercred(w, x, p);
    peergroups(w, x);
    if (all_creds) peerpidfd(w, x, p);
    {
      char sec[256];
      socklen_t l = sizeof sec;
      R("SO_PEERSEC", getsockopt(x, SOL_SOCKET, SO_PEERSEC, sec, &l));
    }
    {
      struct ucred cr;
      socklen_t l = 4;
      R("SO_PEERCRED into 4 bytes", getsockopt(x, SOL_SOCKET, SO_PEERCRED, &cr, &l));
      printf("  length %u\n", l);
    }
    if (write(x, "y", 1) != 1) printf("server write: %s\n", strerrorname_np(errno));
    int st;
    waitpid(p, &st, 0);
    /* the peer is gone: the recorded credentials stay */
    peercred(uids[i] < 0 ? "accepted, client gone" : "accepted from uid 1000, client gone", x, p);
    close(x);
  }
  {
    pid_t p = in_child(child_connect_stream, at("cred.sock"), 1000);
    int x = accept4(s, NULL, NULL, SOCK_CLOEXEC);
    peercred("accepted after the client closed and exited", x, p);
    close(x);
    p = in_child(child_connect_stream_nb, at("cred.sock"), -1);
    x = accept4(s, NULL, NULL, SOCK_CLOEXEC);
    peercred("accepted after a non-blocking client closed and exited", x, p);
    close(x);
  }
  close(s);
  s = server(SOCK_SEQPACKET, at("credq.sock"));
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    int c = sock(SOCK_SEQPACKET);
    char b;
    if (connectto(c, at("credq.sock")) < 0) printf("child connect: %s\n", strerrorname_np(errno));
    else if (read(c, &b, 1) != 1) printf("child read: %s\n", strerrorname_np(errno));
    fflush(stdout);
    _exit(0);
  }
  int x = accept4(s, NULL, NULL, SOCK_CLOEXEC);
  peercred("seqpacket accepted", x, p);
  if (write(x, "y", 1) != 1) printf("server write: %s\n", strerrorname_np(errno));
  waitpid(p, NULL, 0);
  close(x);
  p = in_child(child_connect_seq, at("credq.sock"), -1);
  x = accept4(s, NULL, NULL, SOCK_CLOEXEC);
  peercred("seqpacket accepted, client gone", x, p);
  close(x);
  close(s);
  int sp[2];
  socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp);
  peercred("socketpair", sp[0], 0);
  close(sp[0]);
  close(sp[1]);
  int d = server(SOCK_DGRAM, at("credd.sock"));
  chmod(at("credd.sock"), 0777);
  int c = sock(SOCK_DGRAM);
  connectto(c, at("credd.sock"));
  peercred("connected dgram", c, 0);
  peercred("unconnected socket", d, 0);
  close(c);
  {
    int one = 1;
    struct ucred cr;
    socklen_t l = sizeof cr;
    R("SO_PEERCRED of a pipe", ({
        int pp[2];
        if (pipe(pp) < 0) return;
        getsockopt(pp[0], SOL_SOCKET, SO_PEERCRED, &cr, &l);
      }));
    R("SO_PEERCRED of a bad fd", getsockopt(999, SOL_SOCKET, SO_PEERCRED, &cr, &l));
    R("SO_PASSCRED", setsockopt(d, SOL_SOCKET, SO_PASSCRED, &one, sizeof one));
  }

  /* SCM_CREDENTIALS, for every way a datagram can be sent */
  credsrv = at("credd.sock");
  p = in_child(send_ways, NULL, -1);
  const char *ways[] = {"sendto", "sendmsg with a name", "send", "write", "sendmsg without a name", "sendmsg with SCM_CREDENTIALS"};
  for (int i = 0; i < 6; i++) show_creds(ways[i], d, p);
  show_creds("nothing more", d, p);
  p = in_child(send_ways, NULL, 1000);
  for (int i = 0; i < 6; i++) {
    char w[96];
    snprintf(w, sizeof w, "uid 1000: %s", ways[i]);
    show_creds(w, d, p);
  }
  show_creds("uid 1000: nothing more", d, p);
  /* from a thread: the process's pid */
  pthread_t t;
  pthread_create(&t, NULL, thread_send, at("credd.sock"));
  void *r;
  pthread_join(t, &r);
  printf("thread sendto: %ld\n", (long)r);
  show_creds("from a thread", d, 0);
  /* the sender's own SO_PASSCRED autobinds it */
  c = sock(SOCK_DGRAM);
  {
    int one = 1;
    setsockopt(c, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
  }
  R("sendto from a socket with SO_PASSCRED", sendtoname(c, "p", 1, 0, at("credd.sock")));
  sockname("sender with SO_PASSCRED", c);
  recvname("from a sender with SO_PASSCRED", d);
  close(c);
  close(d);

  /* stream: a server socket with SO_PASSCRED */
  s = server(SOCK_STREAM, at("creds2.sock"));
  {
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
  }
  c = sock(SOCK_STREAM);
  connectto(c, at("creds2.sock"));
  x = accept4(s, NULL, NULL, SOCK_CLOEXEC);
  R("stream write", write(c, "w", 1));
  show_creds("stream write", x, 0);
  {
    struct iovec iov = {"m", 1};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    R("stream sendmsg", sendmsg(c, &m, 0));
  }
  show_creds("stream sendmsg", x, 0);
  close(x);
  close(c);
  close(s);

  /* permissions: a socket file without write permission, a directory without search */
  s = server(SOCK_STREAM, at("private.sock"));
  chmod(at("private.sock"), 0700);
  d = server(SOCK_DGRAM, at("privated.sock"));
  chmod(at("privated.sock"), 0700);
  mkdir(at("closed"), 0700);
  int s2 = server(SOCK_STREAM, at("closed/in.sock"));
  chmod(at("closed/in.sock"), 0777);
  mkdir(at("ro"), 0755);
  fflush(stdout);
  p = fork();
  if (p == 0) {
    drop_to(1000);
    R("uid 1000: connect to a 0700 socket of root", connectto(c = sock(SOCK_STREAM), at("private.sock")));
    close(c);
    R("uid 1000: sendto a 0700 socket of root", sendtoname(c = sock(SOCK_DGRAM), "x", 1, 0, at("privated.sock")));
    close(c);
    R("uid 1000: connect through a 0700 directory", connectto(c = sock(SOCK_STREAM), at("closed/in.sock")));
    close(c);
    R("uid 1000: bind in a 0755 directory of root", bindto(c = sock(SOCK_STREAM), at("ro/x.sock")));
    close(c);
    R("uid 1000: bind in its own directory", bindto(c = sock(SOCK_STREAM), at("mine.sock")));
    close(c);
    mode_of("uid 1000: its socket file", at("mine.sock"));
    fflush(stdout);
    _exit(0);
  }
  int st;
  waitpid(p, &st, 0);
  chmod(at("private.sock"), 0702);
  fflush(stdout);
  p = fork();
  if (p == 0) {
    drop_to(1000);
    R("uid 1000: connect to a 0702 socket of root", connectto(c = sock(SOCK_STREAM), at("private.sock")));
    fflush(stdout);
    _exit(0);
  }
  waitpid(p, &st, 0);
  close(s2);
  close(d);
  close(s);
}

/* ------------------------------------------------------------ SO_PASSCRED */

/*
 * Linux attaches the sender's credentials to a unix message when it is
 * queued, if the sending or the receiving socket has SO_PASSCRED then (or the
 * receiver is a connection not yet accepted); a receiver with SO_PASSCRED
 * sees a message queued without them as pid 0 and the overflow ids.
 */
enum { PC_NONE, PC_RECV_BEFORE, PC_RECV_AFTER, PC_SEND_BEFORE, PC_SEND_AFTER, PC_SEND_BEFORE_RECV_AFTER, PC_RECV_ON_OFF, PC_PIDFD, PC_WHENS };
static const char *pc_when[] = {"no SO_PASSCRED", "receiver's before", "receiver's after", "sender's before", "sender's after", "sender's before, receiver's after", "receiver's set and cleared before", "sender's SO_PASSPIDFD before, receiver's after"};
enum { W_WRITE, W_SEND, W_SENDMSG, W_SENDMSG_FD, W_SENDMSG_FD_TIGHT, W_SENDTO, W_SENDMSG_NAME, W_WAYS };
/* "tight": msg_controllen is the cmsg_len of one fd (20, not 8-aligned), as Chromium's zygote sends it. */
static const char *pc_way[] = {"write", "send", "sendmsg", "sendmsg with SCM_RIGHTS", "sendmsg with SCM_RIGHTS, tight msg_controllen", "sendto with a name", "sendmsg with a name"};
enum { S_PAIR, S_CONN, S_ACCEPTED, S_EMBRYO, S_UNCONN, S_UNCONN_ABS, S_SETUPS };
static const char *pc_setup[] = {"socketpair", "client to server", "server to client", "before accept", "unconnected", "unconnected, abstract"};

static void set_passcred(int s, int on) {
  if (setsockopt(s, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) < 0) printf("SO_PASSCRED %d: %s\n", on, strerrorname_np(errno));
}

static long pc_send(int s, int way, const char *name) {
  struct addr a = A(name ? name : "@");
  struct iovec iov = {"abc", 3};
  struct msghdr m;
  memset(&m, 0, sizeof m);
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  char ctl[CMSG_SPACE(sizeof(int))];
  switch (way) {
  case W_WRITE: return write(s, "abc", 3);
  case W_SEND: return send(s, "abc", 3, 0);
  case W_SENDTO: return sendto(s, "abc", 3, 0, (struct sockaddr *)&a.u, a.len);
  case W_SENDMSG_NAME:
    m.msg_name = &a.u;
    m.msg_namelen = a.len;
    return sendmsg(s, &m, 0);
  case W_SENDMSG_FD: {
    int fd = 1;
    put_cmsg(&m, ctl, sizeof ctl, SCM_RIGHTS, &fd, sizeof fd);
    return sendmsg(s, &m, 0);
  }
  case W_SENDMSG_FD_TIGHT: {
    int fd = 1;
    m.msg_controllen = put_cmsg(&m, ctl, sizeof ctl, SCM_RIGHTS, &fd, sizeof fd)->cmsg_len;
    return sendmsg(s, &m, 0);
  }
  default: return sendmsg(s, &m, 0);
  }
}

/* One receive: its bytes, the credentials (whose) and how many fds came. */
static void pc_recv(const char *what, int s, pid_t child, size_t len) {
  char data[64];
  char ctl[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(4 * sizeof(int))];
  struct iovec iov = {data, len};
  struct msghdr h;
  msg_init(&h, &iov, ctl, sizeof ctl);
  ssize_t n = recvmsg(s, &h, MSG_DONTWAIT);
  if (n < 0) {
    printf("%s: recvmsg -1 %s\n", what, strerrorname_np(errno));
    return;
  }
  char creds[96] = "no credentials";
  int fds = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
      struct ucred u;
      memcpy(&u, CMSG_DATA(c), sizeof u);
      snprintf(creds, sizeof creds, "pid %s uid %d gid %d", who(u.pid, child), (int)u.uid, (int)u.gid);
    } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        close(fd);
        fds++;
      }
    }
  }
  printf("%s: %zd bytes, %s, %d fds%s\n", what, n, creds, fds, h.msg_flags & MSG_CTRUNC ? ", MSG_CTRUNC" : "");
  fflush(stdout);
}

static int pc_seq;

/* One case: a sender and a receiver made as `setup` says, SO_PASSCRED set `when`, one message sent `way` (from a child when `forked`). */
static void pc_case(int type, int setup, int way, int when, int forked) {
  char what[256];
  snprintf(what, sizeof what, "%s %s, %s, %s%s", tname(type), pc_setup[setup], pc_way[way], pc_when[when], forked ? ", from a child" : "");
  char name[64];
  snprintf(name, sizeof name, "pc%d.sock", pc_seq++);
  char *path = setup == S_UNCONN_ABS ? abs_name(name) : at(name);
  int snd = -1, rcv = -1, lst = -1, peer = -1;
  if (setup == S_PAIR) {
    int sp[2];
    if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sp) < 0) printf("%s: socketpair %s\n", what, strerrorname_np(errno));
    snd = sp[0];
    rcv = sp[1];
  } else if (setup >= S_UNCONN) {
    rcv = server(type, path);
    snd = sock(type);
  } else if (type == SOCK_DGRAM) {
    /* both bound, connected to each other */
    char back[64];
    snprintf(back, sizeof back, "pc%d-back.sock", pc_seq);
    lst = server(type, path);
    peer = server(type, at(back));
    if (connectto(peer, path) < 0 || connectto(lst, at(back)) < 0) printf("%s: connect %s\n", what, strerrorname_np(errno));
    snd = setup == S_CONN ? peer : lst;
    rcv = setup == S_CONN ? lst : peer;
  } else {
    lst = server(type, path);
    if (setup == S_EMBRYO && (when == PC_RECV_BEFORE || when == PC_RECV_ON_OFF)) set_passcred(lst, 1);
    if (setup == S_EMBRYO && when == PC_RECV_ON_OFF) set_passcred(lst, 0);
    peer = sock(type);
    if (connectto(peer, path) < 0) printf("%s: connect %s\n", what, strerrorname_np(errno));
    if (setup != S_EMBRYO) {
      int x = accept4(lst, NULL, NULL, SOCK_CLOEXEC);
      snd = setup == S_CONN ? peer : x;
      rcv = setup == S_CONN ? x : peer;
    } else {
      snd = peer;
    }
  }
  if (setup != S_EMBRYO) {
    if (when == PC_RECV_BEFORE || when == PC_RECV_ON_OFF) set_passcred(rcv, 1);
    if (when == PC_RECV_ON_OFF) set_passcred(rcv, 0);
  }
  if (when == PC_SEND_BEFORE || when == PC_SEND_BEFORE_RECV_AFTER) set_passcred(snd, 1);
  if (when == PC_PIDFD) {
    int one = 1;
    if (setsockopt(snd, SOL_SOCKET, SO_PASSPIDFD, &one, sizeof one) < 0) printf("SO_PASSPIDFD: %s\n", strerrorname_np(errno));
  }
  const char *to = setup >= S_UNCONN ? path : NULL;
  pid_t child = 0;
  if (forked) {
    fflush(stdout);
    child = fork();
    if (child == 0) {
      long r = pc_send(snd, way, to);
      if (r != 3) printf("%s: send %ld %s\n", what, r, strerrorname_np(errno));
      fflush(stdout);
      _exit(0);
    }
    waitpid(child, NULL, 0);
  } else {
    long r = pc_send(snd, way, to);
    if (r != 3) printf("%s: send %ld %s\n", what, r, strerrorname_np(errno));
  }
  if (setup == S_EMBRYO) rcv = accept4(lst, NULL, NULL, SOCK_CLOEXEC);
  if (when == PC_RECV_AFTER || when == PC_SEND_BEFORE_RECV_AFTER || when == PC_PIDFD) set_passcred(rcv, 1);
  if (when == PC_SEND_AFTER) set_passcred(snd, 1);
  pc_recv(what, rcv, child, 16);
  close(snd);
  close(rcv);
  if (lst >= 0 && lst != snd && lst != rcv) close(lst);
  if (peer >= 0 && peer != snd && peer != rcv) close(peer);
}

static void cmd_passcred(void) {
  if (chdir(D) < 0) return;
  int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
  for (int ti = 0; ti < 3; ti++) {
    int type = types[ti];
    for (int setup = 0; setup < S_SETUPS; setup++) {
      if ((setup >= S_UNCONN) != (type == SOCK_DGRAM) && setup >= S_EMBRYO) continue;
      for (int way = 0; way < W_WAYS; way++) {
        if ((way >= W_SENDTO) != (setup >= S_UNCONN)) continue;
        for (int when = 0; when < PC_WHENS; when++) pc_case(type, setup, way, when, 0);
      }
      pc_case(type, setup, setup >= S_UNCONN ? W_SENDTO : W_SENDMSG, PC_RECV_BEFORE, 1);
      pc_case(type, setup, setup >= S_UNCONN ? W_SENDTO : W_SENDMSG, PC_RECV_AFTER, 1);
    }
  }
  /* a stream never joins messages queued with different credentials */
  int sp[2];
  socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp);
  R("stream: sendmsg before SO_PASSCRED", pc_send(sp[0], W_SENDMSG, NULL));
  set_passcred(sp[1], 1);
  R("stream: sendmsg after", pc_send(sp[0], W_SENDMSG, NULL));
  R("stream: write after", pc_send(sp[0], W_WRITE, NULL));
  pc_recv("stream: first read of all", sp[1], 0, 64);
  pc_recv("stream: second read of all", sp[1], 0, 64);
  pc_recv("stream: third read", sp[1], 0, 64);
  close(sp[0]);
  close(sp[1]);
  /* a stream send larger than the Sentry copies at once: every part carries the credentials */
  socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp);
  set_passcred(sp[1], 1);
  fflush(stdout);
  pid_t big = fork();
  if (big == 0) {
    size_t n = 5 << 20;
    char *b = calloc(1, n);
    struct iovec iov = {b, n};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    printf("stream: sendmsg of 5 MiB: %zd\n", sendmsg(sp[0], &m, 0));
    fflush(stdout);
    _exit(0);
  }
  close(sp[0]);
  {
    static char buf[1 << 16];
    long total = 0, other = 0;
    for (;;) {
      char ctl[CMSG_SPACE(sizeof(struct ucred))];
      struct iovec iov = {buf, sizeof buf};
      struct msghdr h;
      msg_init(&h, &iov, ctl, sizeof ctl);
      ssize_t n = recvmsg(sp[1], &h, 0);
      if (n <= 0) break;
      total += n;
      struct cmsghdr *c = CMSG_FIRSTHDR(&h);
      struct ucred u = {0, 0, 0};
      if (c && c->cmsg_type == SCM_CREDENTIALS) memcpy(&u, CMSG_DATA(c), sizeof u);
      if (u.pid != big) other++;
    }
    waitpid(big, NULL, 0);
    printf("stream: received %ld bytes, reads without the child's credentials: %ld\n", total, other);
  }
  close(sp[1]);
  /* an accepted socket inherits the listener's SO_PASSCRED */
  int s = server(SOCK_STREAM, at("inherit.sock"));
  set_passcred(s, 1);
  int c = sock(SOCK_STREAM);
  connectto(c, at("inherit.sock"));
  int x = accept4(s, NULL, NULL, SOCK_CLOEXEC);
  int on = -1;
  socklen_t l = sizeof on;
  R("accepted socket's SO_PASSCRED", getsockopt(x, SOL_SOCKET, SO_PASSCRED, &on, &l));
  printf("  value %d\n", on);
  R("sendmsg to the accepted socket", pc_send(c, W_SENDMSG, NULL));
  pc_recv("accepted socket of a SO_PASSCRED listener", x, 0, 16);
  close(x);
  close(c);
  close(s);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: unixsock DIR SUBCOMMAND\n");
    return 2;
  }
  D = argv[1];
  T = strrchr(D, '/') ? strrchr(D, '/') + 1 : D;
  alarm(60);
  const char *cmd = argv[2];
  if (!strcmp(cmd, "names")) cmd_names();
  else if (!strcmp(cmd, "abstract")) cmd_abstract();
  else if (!strcmp(cmd, "errnos")) cmd_errnos();
  else if (!strcmp(cmd, "sends")) cmd_sends();
  else if (!strcmp(cmd, "files")) cmd_files();
  else if (!strcmp(cmd, "creds")) cmd_creds();
  else if (!strcmp(cmd, "passcred")) cmd_passcred();
  else if (!strcmp(cmd, "creds-all")) {
    all_creds = 1;
    cmd_creds();
  }
  else {
    fprintf(stderr, "unixsock: unknown subcommand %s\n", cmd);
    return 2;
  }
  return 0;
}
