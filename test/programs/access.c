// Every path-taking call tsvisor emulates, once succeeding and once failing,
// in scratch directory argv[1]: test/e2e/access-events.test.ts compares the
// Sentry's access events of a run with `strace -f -e trace=%file` of a
// native run. Raw syscalls, so both see exactly these calls. Names are
// relative to the cwd, to a dirfd, absolute, and through ".." and a symlink.
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define S(...) syscall(__VA_ARGS__)

static void closeIf(long fd) {
  if (fd >= 0) close((int)fd);
}

static void execIn(const char *path) {
  pid_t p = fork();
  if (p == 0) {
    char *argv[] = {(char *)path, NULL};
    char *envp[] = {NULL};
    S(SYS_execve, path, argv, envp);
    _exit(127);
  }
  int st;
  waitpid(p, &st, 0);
}

int main(int argc, char **argv) {
  if (argc < 2 || S(SYS_chdir, argv[1]) != 0) return 2;
  S(SYS_chdir, "missing-dir");
  char abs[4096];
  snprintf(abs, sizeof abs, "%s/abs-file", argv[1]);
  int dir = (int)S(SYS_openat, AT_FDCWD, ".", O_RDONLY | O_DIRECTORY);
  struct stat st;
  struct statx stx;
  struct statfs_buf { char b[256]; } sfs;
  char buf[256];
  struct open_how how = {.flags = O_RDONLY};
  struct timeval tv[2] = {{0, 0}, {0, 0}};
  struct timespec ts[2] = {{0, 0}, {0, 0}};

  // opens: create, write, read, O_PATH; failures
  closeIf(S(SYS_open, "f", O_CREAT | O_WRONLY, 0644));
  closeIf(S(SYS_open, "nope", O_RDONLY));
  closeIf(S(SYS_openat, dir, "g", O_CREAT | O_EXCL | O_RDWR, 0600));
  closeIf(S(SYS_openat, dir, "g", O_CREAT | O_EXCL | O_RDWR, 0600));
  closeIf(S(SYS_openat, AT_FDCWD, abs, O_CREAT | O_TRUNC | O_WRONLY, 0600));
  closeIf(S(SYS_openat, AT_FDCWD, "f", O_PATH));
  closeIf(S(SYS_openat2, dir, "f", &how, sizeof how));
  closeIf(S(SYS_openat2, dir, "nope", &how, sizeof how));
  closeIf(S(SYS_creat, "c", 0644));
  closeIf(S(SYS_creat, "nodir/c", 0644));
  closeIf(S(SYS_open, "./sub/../f", O_RDONLY));

  // the stat family, access, statfs
  S(SYS_stat, "f", &st);
  S(SYS_stat, "nope", &st);
  S(SYS_lstat, "f", &st);
  S(SYS_newfstatat, dir, "g", &st, 0);
  S(SYS_newfstatat, dir, "nope", &st, AT_SYMLINK_NOFOLLOW);
  S(SYS_statx, AT_FDCWD, "f", 0, STATX_BASIC_STATS, &stx);
  S(SYS_statx, AT_FDCWD, "nope", 0, STATX_BASIC_STATS, &stx);
  S(SYS_access, "f", R_OK);
  S(SYS_access, "nope", F_OK);
  S(SYS_faccessat, dir, "g", W_OK);
  S(SYS_faccessat2, dir, "nope", R_OK, 0);
  S(SYS_statfs, "f", &sfs);
  S(SYS_statfs, "nope", &sfs);

  // names made and removed
  S(SYS_mkdir, "d", 0755);
  S(SYS_mkdir, "d", 0755);
  S(SYS_mkdirat, dir, "sub", 0755);
  S(SYS_mkdirat, dir, "nope/sub", 0755);
  S(SYS_mknod, "fifo", S_IFIFO | 0644, 0);
  S(SYS_mknod, "fifo", S_IFIFO | 0644, 0);
  S(SYS_mknodat, dir, "fifo2", S_IFIFO | 0644, 0);
  S(SYS_symlink, "f", "ln");
  S(SYS_symlink, "f", "ln");
  S(SYS_symlinkat, "d", dir, "dl");
  S(SYS_readlink, "ln", buf, sizeof buf);
  S(SYS_readlink, "f", buf, sizeof buf);
  S(SYS_readlinkat, dir, "dl", buf, sizeof buf);
  S(SYS_link, "f", "hard");
  S(SYS_link, "nope", "hard2");
  S(SYS_linkat, dir, "g", dir, "hardg", 0);
  S(SYS_rename, "hard", "hard3");
  S(SYS_rename, "nope", "x");
  S(SYS_renameat, dir, "hard3", dir, "d/hard4");
  S(SYS_renameat2, dir, "c", dir, "g", RENAME_NOREPLACE);
  S(SYS_unlink, "d/hard4");
  S(SYS_unlink, "nope");
  S(SYS_unlinkat, dir, "hardg", 0);
  S(SYS_unlinkat, dir, "d", AT_REMOVEDIR);
  S(SYS_rmdir, "sub");
  S(SYS_rmdir, "nope");

  // attributes: modes, owners, times, size, xattrs
  S(SYS_chmod, "f", 0640);
  S(SYS_chmod, "nope", 0640);
  S(SYS_fchmodat, dir, "g", 0600, 0);
  S(SYS_chown, "f", getuid(), getgid());
  S(SYS_lchown, "ln", getuid(), getgid());
  S(SYS_fchownat, dir, "nope", getuid(), getgid(), 0);
  S(SYS_utime, "f", NULL);
  S(SYS_utimes, "nope", tv);
  S(SYS_futimesat, dir, "g", tv);
  S(SYS_utimensat, AT_FDCWD, "f", ts, 0);
  S(SYS_utimensat, dir, "nope", ts, AT_SYMLINK_NOFOLLOW);
  S(SYS_truncate, "f", 10);
  S(SYS_truncate, "nope", 10);
  S(SYS_setxattr, "f", "user.a", "v", 1, 0);
  S(SYS_lsetxattr, "nope", "user.a", "v", 1, 0);
  S(SYS_getxattr, "f", "user.a", buf, sizeof buf);
  S(SYS_lgetxattr, "f", "user.none", buf, sizeof buf);
  S(SYS_listxattr, "f", buf, sizeof buf);
  S(SYS_llistxattr, "nope", buf, sizeof buf);
  S(SYS_removexattr, "f", "user.a");
  S(SYS_lremovexattr, "f", "user.a");

  // watches, the cwd, exec
  int in = (int)S(SYS_inotify_init1, IN_CLOEXEC);
  S(SYS_inotify_add_watch, in, "f", IN_ALL_EVENTS);
  S(SYS_inotify_add_watch, in, "nope", IN_ALL_EVENTS);
  close(in);
  execIn("./nope-exe");
  execIn("/bin/true");
  pid_t p = fork();
  if (p == 0) {
    char *av[] = {"true", NULL};
    char *ev[] = {NULL};
    S(SYS_execveat, AT_FDCWD, "missing-true", av, ev, 0);
    S(SYS_execveat, AT_FDCWD, "/bin/true", av, ev, 0);
    _exit(127);
  }
  waitpid(p, NULL, 0);
  // A path the Sentry resolves but an image the kernel refuses: an argument past MAX_ARG_STRLEN.
  static char big[1 << 18];
  memset(big, 'x', sizeof big - 1);
  p = fork();
  if (p == 0) {
    char *av[] = {"true", big, NULL};
    char *ev[] = {NULL};
    S(SYS_execve, "/bin/true", av, ev);
    _exit(127);
  }
  waitpid(p, NULL, 0);
  S(SYS_chdir, "d2");
  S(SYS_chdir, "/");
  return 0;
}
