/* POSIX ACLs on a tmpfs, call by call (posixacl.test.ts): raw
 * system.posix_acl_access / _default values set, read back, folded into the
 * mode, followed by chmod, inherited at creation, and enforced for users
 * other than the owner. Run as root in an empty directory D of a tmpfs:
 *   posixacl D */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>
#include "exact.h"

#define ACCESS "system.posix_acl_access"
#define DEFAULT "system.posix_acl_default"
enum { UOBJ = 1, USER = 2, GOBJ = 4, GROUP = 8, MASK = 0x10, OTHER = 0x20 };
#define NONE 0xffffffffu

struct entry {
  uint16_t tag, perm;
  uint32_t id;
};
struct acl {
  uint32_t version;
  struct entry e[8];
};

/* An ACL's xattr bytes: version 2, then `n` entries of {tag, perm, id}. */
static size_t mk(struct acl *a, int n, const uint32_t *v) {
  a->version = 2;
  for (int i = 0; i < n; i++) a->e[i] = (struct entry){v[3 * i], v[3 * i + 1], v[3 * i + 2]};
  return 4 + 8 * (size_t)n;
}
#define SET(what, path, name, ...)                               \
  do {                                                           \
    static const uint32_t v_[] = {__VA_ARGS__};                  \
    struct acl a_;                                               \
    size_t n_ = mk(&a_, sizeof v_ / sizeof v_[0] / 3, v_);       \
    R(what, setxattr(path, name, &a_, n_, 0));                   \
  } while (0)

/* The ACL `name` of `path` as bytes in hex, or the error. */
static void show(const char *what, const char *path, const char *name) {
  unsigned char b[256];
  errno = 0;
  ssize_t n = getxattr(path, name, b, sizeof b);
  if (n < 0) {
    report(what, n, errno);
    return;
  }
  printf("%s: %zd", what, n);
  for (ssize_t i = 0; i < n; i++) printf("%s%02x", i % 4 ? "" : " ", b[i]);
  printf("\n");
  fflush(stdout);
}

/* The mode's permission and set-id bits. */
static void mode(const char *what, const char *path) {
  struct stat st;
  if (lstat(path, &st) < 0) report(what, -1, errno);
  else printf("%s: mode %04o\n", what, st.st_mode & 07777);
  fflush(stdout);
}

/* listxattr's names, in order. */
static void names(const char *what, const char *path) {
  char b[1024];
  errno = 0;
  ssize_t n = listxattr(path, b, sizeof b);
  if (n < 0) {
    report(what, n, errno);
    return;
  }
  printf("%s:", what);
  for (ssize_t i = 0; i < n; i += strlen(b + i) + 1) printf(" %s", b + i);
  printf("\n");
  fflush(stdout);
}

/* A node just made: its mode and ACLs. */
static void made(const char *name) {
  char what[3][64];
  snprintf(what[0], sizeof what[0], "%s mode", name);
  snprintf(what[1], sizeof what[1], "%s access", name);
  snprintf(what[2], sizeof what[2], "%s default", name);
  mode(what[0], at(name));
  show(what[1], at(name), ACCESS);
  show(what[2], at(name), DEFAULT);
}

static int creat_(const char *path, int m) {
  int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, m);
  if (fd >= 0) close(fd);
  return fd < 0 ? -1 : 0;
}

/* A file (0666), a directory (0777) and a FIFO (0666) made in `dir`, with what they inherited. */
static void inherit(const char *dir) {
  char f[64], s[64], p[64];
  snprintf(f, sizeof f, "%s/f", dir);
  snprintf(s, sizeof s, "%s/s", dir);
  snprintf(p, sizeof p, "%s/p", dir);
  R("create f 0666", creat_(at(f), 0666));
  made(f);
  R("mkdir s 0777", mkdir(at(s), 0777));
  made(s);
  R("mkfifo p 0666", mkfifo(at(p), 0666));
  made(p);
}

/* Runs `f` in a child with uid `uid`, gid `gid` and groups `groups` (no capabilities). */
static void as(int uid, int gid, int ngroups, const gid_t *groups, void (*f)(void)) {
  pid_t p = fork();
  if (p == 0) {
    if (setgroups(ngroups, groups) < 0 || setgid(gid) < 0 || setuid(uid) < 0) _exit(99);
    f();
    fflush(stdout);
    _exit(0);
  }
  int st;
  waitpid(p, &st, 0);
  printf("child %d: status %d\n", uid, st);
  fflush(stdout);
}

/* R, with the caller's uid before `what` */
#define MINE(what, call)                                            \
  do {                                                              \
    char w_[96];                                                    \
    snprintf(w_, sizeof w_, "%d %s", (int)getuid(), (what));        \
    R(w_, call);                                                    \
  } while (0)

static int opens(const char *path, int flags) {
  int fd = open(path, flags);
  if (fd >= 0) close(fd);
  return fd < 0 ? -1 : 0;
}

/* Access checks of the enforcement fixture by the current (unprivileged) user. */
static void probe(void) {
  char what[64];
  const char *paths[] = {"e", "e/f", "e/g", "e/x"};
  for (int i = 0; i < 4; i++) {
    for (int w = 1; w <= 4; w <<= 1) {
      snprintf(what, sizeof what, "access %s %d", paths[i], w);
      MINE(what, access(at(paths[i]), w));
    }
  }
  MINE("open e/f rdonly", opens(at("e/f"), O_RDONLY));
  MINE("open e/f rdwr", opens(at("e/f"), O_RDWR));
  MINE("open e/g wronly", opens(at("e/g"), O_WRONLY));
  MINE("create e/new", creat_(at("e/new"), 0644));
  MINE("unlink e/new", unlink(at("e/new")));
  struct stat st;
  MINE("stat e/f", stat(at("e/f"), &st));
  MINE("chdir e", chdir(at("e")));
  pid_t p = fork();
  if (p == 0) {
    execl(at("e/x"), "x", "exit", (char *)NULL);
    _exit(errno);
  }
  int s;
  waitpid(p, &s, 0);
  printf("%d exec e/x: status %d\n", (int)getuid(), WEXITSTATUS(s));
  fflush(stdout);
}

/* A non-owner's ACL changes on the file f (owned by 1000:2000). */
static void foreign(void) {
  SET("nonowner set", at("f"), ACCESS, UOBJ, 7, 0, GOBJ, 5, 0, OTHER, 0, 0);
  R("nonowner set malformed", setxattr(at("f"), ACCESS, "\2\0\0\0\1", 5, 0));
  SET("nonowner set default on file", at("f"), DEFAULT, UOBJ, 7, 0, GOBJ, 5, 0, OTHER, 0, 0);
  R("nonowner remove", removexattr(at("f"), ACCESS));
  R("nonowner remove default on file", removexattr(at("f"), DEFAULT));
  show("nonowner get", at("f"), ACCESS);
}

/* The owner 1000 (not in group 2000) sets an ACL on its set-gid file sg: S_ISGID goes. */
static void owner_outside(void) {
  SET("owner outside group set", at("sg"), ACCESS, UOBJ, 7, 0, GOBJ, 7, 0, OTHER, 5, 0);
  mode("owner outside group mode", at("sg"));
  SET("owner outside group set extended", at("sg2"), ACCESS, UOBJ, 7, 0, USER, 6, 1001, GOBJ, 7, 0, MASK, 7, 0, OTHER, 5, 0);
  mode("owner outside group mode extended", at("sg2"));
}

/* The owner 1000 in group 2000 keeps S_ISGID. */
static void owner_inside(void) {
  SET("owner in group set", at("sg3"), ACCESS, UOBJ, 7, 0, GOBJ, 5, 0, OTHER, 5, 0);
  mode("owner in group mode", at("sg3"));
}

/* One thread turned uid and gid 65534 by raw syscalls (the process's other threads keep root). */
static void *thread_probe(void *arg) {
  (void)arg;
  R("thread setgroups", syscall(SYS_setgroups, 0, NULL));
  R("thread setgid", syscall(SYS_setgid, 65534));
  R("thread setuid", syscall(SYS_setuid, 65534));
  R("thread open t rdonly", opens(at("t"), O_RDONLY));
  R("thread open t wronly", opens(at("t"), O_WRONLY));
  R("thread set on t", setxattr(at("t"), ACCESS, "\2\0\0\0", 4, 0));
  return NULL;
}

static int exits(int argc, char **argv) {
  return argc > 1 && strcmp(argv[1], "exit") == 0;
}

/* A copy of this program, to execute as another user. */
static void copy_self(const char *to) {
  int in = open("/proc/self/exe", O_RDONLY), out = open(to, O_CREAT | O_WRONLY | O_TRUNC, 0700);
  char b[65536];
  ssize_t n;
  while ((n = read(in, b, sizeof b)) > 0) (void)!write(out, b, n);
  close(in);
  close(out);
}

/* An unprivileged user's reads and writes of the lower files (before or after copy-up). */
static void lower_probe(void) {
  MINE("open lf rdwr", opens(at("lf"), O_RDWR));
  MINE("access lf x", access(at("lf"), X_OK));
  MINE("open deny rdonly", opens(at("deny"), O_RDONLY));
  struct stat st;
  MINE("search ld", stat(at("ld/."), &st));
}

/* `posixacl D setup` makes the lower layer's objects with ACLs (natively);
 * `posixacl D lower` works on them: copy-up keeps the ACLs, chmod and
 * creation act on the copies. */
static int lower(int setup) {
  if (setup) {
    umask(0);
    R("setup D", chmod(D, 0755));
    R("setup lf", creat_(at("lf"), 0640));
    SET("setup lf acl", at("lf"), ACCESS, UOBJ, 6, 0, USER, 6, 1000, GOBJ, 4, 0, MASK, 6, 0, OTHER, 0, 0);
    R("setup deny", creat_(at("deny"), 0644));
    SET("setup deny acl", at("deny"), ACCESS, UOBJ, 6, 0, USER, 0, 1001, GOBJ, 4, 0, MASK, 4, 0, OTHER, 4, 0);
    R("setup ld", mkdir(at("ld"), 0750));
    SET("setup ld default", at("ld"), DEFAULT, UOBJ, 7, 0, USER, 7, 1000, GOBJ, 5, 0, MASK, 7, 0, OTHER, 0, 0);
    return 0;
  }
  umask(022);
  as(1000, 1000, 0, NULL, lower_probe);
  as(1001, 1001, 0, NULL, lower_probe);
  show("lf get", at("lf"), ACCESS);
  mode("lf mode", at("lf"));
  R("lf chmod 0670", chmod(at("lf"), 0670));
  show("lf chmod get", at("lf"), ACCESS);
  as(1000, 1000, 0, NULL, lower_probe);
  R("lf chmod 0610", chmod(at("lf"), 0610));
  as(1000, 1000, 0, NULL, lower_probe);
  inherit("ld");
  names("ld list", at("ld"));
  return 0;
}

/* `posixacl D host` on host files written through the Gofer (the
 * fixture of `setup`): creation in a directory with a default ACL, chmod,
 * and enforcement, as the host's kernel keeps them. */
static int host(void) {
  umask(022);
  as(1000, 1000, 0, NULL, lower_probe);
  as(1001, 1001, 0, NULL, lower_probe);
  inherit("ld");
  R("lf chmod 0670", chmod(at("lf"), 0670));
  show("lf chmod get", at("lf"), ACCESS);
  SET("lf set", at("lf"), ACCESS, UOBJ, 6, 0, USER, 7, 1000, GOBJ, 4, 0, MASK, 7, 0, OTHER, 0, 0);
  made("lf");
  as(1000, 1000, 0, NULL, lower_probe);
  return 0;
}

/* Ids in ACLs under a user namespace (oci-spec.test.ts): `ids-setup` makes
 * D/hostf natively with named host users 101000 and 5; `ids` (in the
 * container, ids 0-65535 mapped to 100000+) sets and reads ACLs; `ids-show`
 * reads natively what the container set. */
static int ids(const char *step) {
  if (strcmp(step, "ids-setup") == 0) {
    R("hostf", creat_(at("hostf"), 0640));
    SET("hostf acl", at("hostf"), ACCESS, UOBJ, 6, 0, USER, 6, 101000, USER, 4, 5, GOBJ, 4, 0, MASK, 6, 0, OTHER, 0, 0);
    return 0;
  }
  if (strcmp(step, "ids") == 0) {
    umask(0);
    show("hostf get", at("hostf"), ACCESS);
    R("idf", creat_(at("idf"), 0640));
    SET("idf acl", at("idf"), ACCESS, UOBJ, 6, 0, USER, 6, 1000, GOBJ, 4, 0, GROUP, 4, 2000, MASK, 6, 0, OTHER, 0, 0);
    SET("idf unmapped user", at("idf"), ACCESS, UOBJ, 6, 0, USER, 6, 70000, GOBJ, 4, 0, MASK, 6, 0, OTHER, 0, 0);
    SET("idf unmapped group", at("idf"), ACCESS, UOBJ, 6, 0, GOBJ, 4, 0, GROUP, 6, 70000, MASK, 6, 0, OTHER, 0, 0);
  }
  show("idf get", at("idf"), ACCESS);
  return 0;
}

int main(int argc, char **argv) {
  if (exits(argc, argv)) return 7;
  if (argc < 2) return 2;
  D = argv[1];
  if (argc > 2 && strncmp(argv[2], "ids", 3) == 0) return ids(argv[2]);
  if (argc > 2 && strcmp(argv[2], "host") == 0) return host();
  if (argc > 2) return lower(strcmp(argv[2], "setup") == 0);
  umask(0);
  struct acl a;

  /* 1. Setting an access ACL: mode folding, what is kept, what getxattr shows. */
  R("create f", creat_(at("f"), 0644));
  SET("set minimal", at("f"), ACCESS, UOBJ, 7, 0, GOBJ, 5, 0, OTHER, 1, 0);
  mode("minimal mode", at("f"));
  show("minimal get", at("f"), ACCESS);
  names("minimal list", at("f"));
  SET("set named", at("f"), ACCESS, UOBJ, 6, 5, USER, 7, 1000, USER, 4, 1001, GOBJ, 4, 7, GROUP, 6, 2000, MASK, 5, 9, OTHER, 0, 3);
  mode("named mode", at("f"));
  show("named get", at("f"), ACCESS);
  R("user xattr", setxattr(at("f"), "user.x", "1", 1, 0));
  names("named list", at("f"));
  SET("set mask only", at("f"), ACCESS, UOBJ, 7, 0, GOBJ, 7, 0, MASK, 1, 0, OTHER, 4, 0);
  mode("mask only mode", at("f"));
  show("mask only get", at("f"), ACCESS);
  SET("set named again", at("f"), ACCESS, UOBJ, 6, 0, USER, 7, 1000, GOBJ, 4, 0, MASK, 6, 0, OTHER, 4, 0);

  /* 2. chmod follows into the ACL (owner, mask, other). */
  R("chmod 0751", chmod(at("f"), 0751));
  show("chmod get", at("f"), ACCESS);
  mode("chmod mode", at("f"));
  R("chmod 0040", chmod(at("f"), 0040));
  show("chmod 0040 get", at("f"), ACCESS);

  /* 3. Removal, and what removal and empty values of absent ACLs do. */
  R("remove", removexattr(at("f"), ACCESS));
  show("removed get", at("f"), ACCESS);
  mode("removed mode", at("f"));
  R("remove absent", removexattr(at("f"), ACCESS));
  SET("set for empty", at("f"), ACCESS, UOBJ, 6, 0, USER, 7, 1000, GOBJ, 4, 0, MASK, 6, 0, OTHER, 4, 0);
  R("set header only", setxattr(at("f"), ACCESS, "\2\0\0\0", 4, 0));
  show("header only get", at("f"), ACCESS);
  SET("set for zero", at("f"), ACCESS, UOBJ, 6, 0, USER, 7, 1000, GOBJ, 4, 0, MASK, 6, 0, OTHER, 4, 0);
  R("set size 0", setxattr(at("f"), ACCESS, "", 0, 0));
  show("size 0 get", at("f"), ACCESS);
  SET("set create flag", at("f"), ACCESS, UOBJ, 6, 0, USER, 7, 1000, GOBJ, 4, 0, MASK, 6, 0, OTHER, 4, 0);
  a = (struct acl){2, {{UOBJ, 6, NONE}, {USER, 7, 1000}, {GOBJ, 4, NONE}, {MASK, 6, NONE}, {OTHER, 4, NONE}}};
  R("set XATTR_CREATE over one", setxattr(at("f"), ACCESS, &a, 44, XATTR_CREATE));
  R("remove for replace", removexattr(at("f"), ACCESS));
  R("set XATTR_REPLACE of none", setxattr(at("f"), ACCESS, &a, 44, XATTR_REPLACE));
  show("replace get", at("f"), ACCESS);
  R("set bad flags", setxattr(at("f"), ACCESS, &a, 44, 4));

  /* 4. Malformed and invalid ACLs. */
  R("version 1", setxattr(at("f"), ACCESS, "\1\0\0\0\1\0\7\0\0\0\0\0", 12, 0));
  R("size 3", setxattr(at("f"), ACCESS, "\2\0\0", 3, 0));
  R("size 9", setxattr(at("f"), ACCESS, "\2\0\0\0\1\0\0\0\0", 9, 0));
  SET("unknown tag", at("f"), ACCESS, UOBJ, 7, 0, 0x40, 7, 0, GOBJ, 5, 0, OTHER, 0, 0);
  SET("perm 8", at("f"), ACCESS, UOBJ, 8, 0, GOBJ, 5, 0, OTHER, 0, 0);
  SET("duplicate user_obj", at("f"), ACCESS, UOBJ, 7, 0, UOBJ, 7, 0, GOBJ, 5, 0, OTHER, 0, 0);
  SET("no group_obj", at("f"), ACCESS, UOBJ, 7, 0, OTHER, 0, 0);
  SET("no other", at("f"), ACCESS, UOBJ, 7, 0, GOBJ, 5, 0);
  SET("no user_obj", at("f"), ACCESS, GOBJ, 5, 0, OTHER, 0, 0);
  SET("named without mask", at("f"), ACCESS, UOBJ, 7, 0, USER, 7, 1000, GOBJ, 5, 0, OTHER, 0, 0);
  SET("wrong order", at("f"), ACCESS, GOBJ, 5, 0, UOBJ, 7, 0, OTHER, 0, 0);
  SET("user after group", at("f"), ACCESS, UOBJ, 7, 0, GOBJ, 5, 0, USER, 7, 1000, MASK, 7, 0, OTHER, 0, 0);
  SET("user id -1", at("f"), ACCESS, UOBJ, 7, 0, USER, 7, NONE, GOBJ, 5, 0, MASK, 7, 0, OTHER, 0, 0);
  SET("mask twice", at("f"), ACCESS, UOBJ, 7, 0, GOBJ, 5, 0, MASK, 7, 0, MASK, 7, 0, OTHER, 0, 0);
  SET("duplicate named user", at("f"), ACCESS, UOBJ, 7, 0, USER, 7, 1000, USER, 5, 1000, GOBJ, 5, 0, MASK, 7, 0, OTHER, 0, 0);
  show("after invalid get", at("f"), ACCESS);
  mode("after invalid mode", at("f"));

  /* 5. Default ACLs: directories only. */
  SET("default on file", at("f"), DEFAULT, UOBJ, 7, 0, GOBJ, 5, 0, OTHER, 0, 0);
  R("remove default on file", removexattr(at("f"), DEFAULT));
  show("default on file get", at("f"), DEFAULT);
  R("bad default on file", setxattr(at("f"), DEFAULT, "\2\0\0\0\1", 5, 0));
  SET("invalid default on file", at("f"), DEFAULT, UOBJ, 7, 0, OTHER, 0, 0);
  R("symlink sl", symlink("f", at("sl")));
  a = (struct acl){2, {{UOBJ, 6, NONE}, {USER, 7, 1000}, {GOBJ, 4, NONE}, {MASK, 6, NONE}, {OTHER, 4, NONE}}};
  R("lset access on symlink", lsetxattr(at("sl"), ACCESS, &a, 44, 0));
  R("lset default on symlink", lsetxattr(at("sl"), DEFAULT, &a, 44, 0));
  R("lget access of symlink", lgetxattr(at("sl"), ACCESS, NULL, 0));
  R("lremove access of symlink", lremovexattr(at("sl"), ACCESS));
  R("llist of symlink", llistxattr(at("sl"), NULL, 0));
  R("mkfifo q", mkfifo(at("q"), 0644));
  R("set access on fifo", setxattr(at("q"), ACCESS, &a, 44, 0));
  mode("fifo mode", at("q"));
  R("mkdir d", mkdir(at("d"), 0755));
  SET("invalid default on dir", at("d"), DEFAULT, UOBJ, 7, 0, OTHER, 0, 0);
  SET("default on dir", at("d"), DEFAULT, UOBJ, 7, 0, USER, 5, 1000, GOBJ, 5, 0, MASK, 7, 0, OTHER, 1, 0);
  show("default get", at("d"), DEFAULT);
  show("dir access get", at("d"), ACCESS);
  mode("dir mode after default", at("d"));
  names("dir list", at("d"));

  /* 6. Inheritance: the umask is not applied, the mode meets the default ACL. */
  umask(077);
  inherit("d");
  R("create d/g 0640", creat_(at("d/g"), 0640));
  made("d/g");
  R("create d/s/f 0777", creat_(at("d/s/f"), 0777));
  made("d/s/f");
  R("mknod d/n 0644", mknod(at("d/n"), S_IFREG | 0644, 0));
  made("d/n");
  R("symlink d/l", symlink("f", at("d/l")));
  show("d/l access", at("d/l"), ACCESS);
  int t = open(at("d"), O_TMPFILE | O_RDWR, 0604);
  struct stat ts;
  if (t >= 0 && fstat(t, &ts) == 0) printf("tmpfile mode: %04o\n", ts.st_mode & 07777);
  else report("tmpfile", -1, errno);
  if (t >= 0) close(t);
  R("mkdir m", mkdir(at("m"), 0777));
  SET("minimal default", at("m"), DEFAULT, UOBJ, 6, 0, GOBJ, 4, 0, OTHER, 0, 0);
  R("create m/f 0777", creat_(at("m/f"), 0777));
  made("m/f");
  R("mkdir m/s 0777", mkdir(at("m/s"), 0777));
  mode("m/s mode", at("m/s"));
  show("m/s default", at("m/s"), DEFAULT);
  R("remove default", removexattr(at("m"), DEFAULT));
  R("create m/g 0777", creat_(at("m/g"), 0777));
  mode("m/g mode (umask again)", at("m/g"));
  R("mkdir sg 02775", mkdir(at("sgd"), 02775));
  R("chown sgd", chown(at("sgd"), 0, 2000));
  R("chmod sgd", chmod(at("sgd"), 02775));
  SET("default on sgd", at("sgd"), DEFAULT, UOBJ, 7, 0, GOBJ, 7, 0, MASK, 5, 0, OTHER, 5, 0);
  R("mkdir sgd/s", mkdir(at("sgd/s"), 0777));
  made("sgd/s");
  umask(0);

  /* 7. Set-group-ID and ACLs set by an owner outside the group. */
  R("create sg", creat_(at("sg"), 02755));
  R("create sg2", creat_(at("sg2"), 02755));
  R("create sg3", creat_(at("sg3"), 02755));
  R("chown sg", chown(at("sg"), 1000, 2000));
  R("chown sg2", chown(at("sg2"), 1000, 2000));
  R("chown sg3", chown(at("sg3"), 1000, 2000));
  R("chmod sg", chmod(at("sg"), 02755));
  R("chmod sg2", chmod(at("sg2"), 02755));
  R("chmod sg3", chmod(at("sg3"), 02755));
  R("chmod D", chmod(D, 0755));
  as(1000, 1000, 0, NULL, owner_outside);
  gid_t in2000[] = {2000};
  as(1000, 1000, 1, in2000, owner_inside);
  R("chown f", chown(at("f"), 1000, 2000));
  as(1001, 1001, 0, NULL, foreign);
  R("root sets on foreign file", setxattr(at("f"), ACCESS, &a, 44, 0));
  mode("root set mode", at("f"));

  /* 8. Enforcement for users other than the owner. */
  R("mkdir e", mkdir(at("e"), 0700));
  SET("e acl", at("e"), ACCESS, UOBJ, 7, 0, USER, 5, 1000, GOBJ, 0, 0, GROUP, 7, 2000, MASK, 7, 0, OTHER, 0, 0);
  mode("e mode", at("e"));
  R("create e/f", creat_(at("e/f"), 0600));
  SET("e/f acl", at("e/f"), ACCESS, UOBJ, 6, 0, USER, 6, 1000, GOBJ, 4, 0, GROUP, 6, 2000, GROUP, 1, 3000, MASK, 4, 0, OTHER, 1, 0);
  R("create e/g", creat_(at("e/g"), 0600));
  SET("e/g acl", at("e/g"), ACCESS, UOBJ, 6, 0, GOBJ, 0, 0, GROUP, 2, 2000, MASK, 2, 0, OTHER, 0, 0);
  copy_self(at("e/x"));
  SET("e/x acl", at("e/x"), ACCESS, UOBJ, 7, 0, USER, 5, 1000, GOBJ, 0, 0, MASK, 5, 0, OTHER, 0, 0);
  as(1000, 1000, 0, NULL, probe);
  as(1001, 2000, 0, NULL, probe);
  gid_t g3000[] = {3000, 2000};
  as(1002, 1002, 2, g3000, probe);
  gid_t g3000only[] = {3000};
  as(1003, 1003, 1, g3000only, probe);
  as(1004, 1004, 0, NULL, probe);
  R("chmod e/f 0640", chmod(at("e/f"), 0660));
  as(1000, 1000, 0, NULL, probe);
  R("chmod e 0700 again", chmod(at("e"), 0700));
  as(1001, 2000, 0, NULL, probe);

  /* 9. Credentials of one thread: named user and named group 65534, within the mask. */
  R("create t", creat_(at("t"), 0600));
  SET("t acl", at("t"), ACCESS, UOBJ, 6, 0, USER, 7, 65534, GOBJ, 0, 0, GROUP, 6, 65534, MASK, 4, 0, OTHER, 0, 0);
  pthread_t th;
  pthread_create(&th, NULL, thread_probe, NULL);
  pthread_join(th, NULL);
  R("main thread open t rdwr", opens(at("t"), O_RDWR));
  return 0;
}
