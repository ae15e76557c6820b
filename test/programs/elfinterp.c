// A dynamically linked program for elf-interp.test.ts: what a program sees
// of how it was started (argv, /proc/self/exe, cmdline, comm, its auxiliary
// vector, its fds), an exec with a chosen argv[0], and an exec raced by a
// thread that swaps the program and interpreter names.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/wait.h>
#include <unistd.h>

extern char _start[];

static int first_object(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  *(struct dl_phdr_info *)data = *info;
  return 1;
}

static int find_base(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  if (info->dlpi_addr == getauxval(AT_BASE)) *(const char **)data = info->dlpi_name;
  return 0;
}

/** The value of auxv entry `type` in /proc/self/auxv. */
static unsigned long proc_auxv(unsigned long type) {
  unsigned long v[2 * 64];
  int fd = open("/proc/self/auxv", O_RDONLY);
  ssize_t n = read(fd, v, sizeof v);
  close(fd);
  for (ssize_t i = 0; i + 1 < n / (ssize_t)sizeof(long); i += 2)
    if (v[i] == type) return v[i + 1];
  return ~0UL;
}

static int show(int argc, char **argv) {
  char buf[4096];
  printf("argc=%d\n", argc);
  for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  printf("exe=%.*s\n", (int)(n < 0 ? 0 : n), buf);
  printf("execfn=%s\n", (char *)getauxval(AT_EXECFN));
  int fd = open("/proc/self/cmdline", O_RDONLY);
  n = read(fd, buf, sizeof buf);
  close(fd);
  printf("cmdline=");
  for (ssize_t i = 0; i < n; i++) putchar(buf[i] ? buf[i] : '|');
  fd = open("/proc/self/comm", O_RDONLY);
  n = read(fd, buf, sizeof buf - 1);
  close(fd);
  buf[n < 0 ? 0 : n] = 0;
  printf("\ncomm=%s", buf);
  struct dl_phdr_info main_object;
  dl_iterate_phdr(first_object, &main_object);
  printf("main object name=\"%s\"\n", main_object.dlpi_name);
  printf("AT_PHDR is the program's=%d\n", getauxval(AT_PHDR) == (unsigned long)main_object.dlpi_phdr);
  printf("AT_PHNUM is the program's=%d\n", getauxval(AT_PHNUM) == main_object.dlpi_phnum);
  printf("AT_ENTRY is _start=%d\n", getauxval(AT_ENTRY) == (unsigned long)_start);
  const char *base_object = NULL;
  dl_iterate_phdr(find_base, &base_object);
  printf("AT_BASE is the interpreter's=%d\n", base_object != NULL && getauxval(AT_BASE) != 0 && strstr(base_object, "ld") != NULL);
  printf("/proc/self/auxv AT_BASE, AT_EXECFN agree=%d\n", proc_auxv(AT_BASE) == getauxval(AT_BASE) && proc_auxv(AT_EXECFN) == getauxval(AT_EXECFN));
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  int fds = 0;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.') fds++;
  closedir(d);
  printf("open fds=%d\n", fds - 1);
  return 3;
}

static const char *good, *evil, *spare;

/** Swaps the names `good` and `evil` for ever (through `spare`). */
static void *swapper(void *arg) {
  (void)arg;
  for (;;) {
    rename(good, spare);
    rename(evil, good);
    rename(spare, evil);
  }
  return NULL;
}

/**
 * `race N PROGRAM GOOD EVIL`: N children each start a thread that swaps the
 * names GOOD and EVIL (a program or an interpreter: the good one executable,
 * the evil one not), then exec PROGRAM. Prints whether any child ran the
 * evil file (it exits 66) and whether any ran the good program (it exits 3).
 */
static int race(int n, char *program, char *g, char *e) {
  char spare_name[4096];
  snprintf(spare_name, sizeof spare_name, "%s.spare", g);
  good = g;
  evil = e;
  spare = spare_name;
  int ran_good = 0, ran_evil = 0, failed = 0;
  for (int i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      pthread_t th;
      pthread_create(&th, NULL, swapper, NULL);
      for (volatile int spin = 0; spin < (i % 64) * 1000; spin++) {
      }
      char *args[] = {program, NULL};
      execv(program, args);
      _exit(100);
    }
    int status;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 3) ran_good++;
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 66) ran_evil++;
    else failed++;
    // A child killed mid-swap may leave a name missing: put the pair back.
    if (access(good, F_OK) != 0) rename(access(evil, F_OK) == 0 ? spare : evil, good);
    if (access(evil, F_OK) != 0) rename(spare, evil);
  }
  printf("ran the evil file=%d\nran the good program=%d\n", ran_evil > 0, ran_good > 0);
  if (getenv("RACE_COUNTS")) fprintf(stderr, "good %d, evil %d, failed %d\n", ran_good, ran_evil, failed);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "exec") == 0) {
    // exec PATH ARGV0 [ARGS...]
    execv(argv[2], argv + 3);
    printf("exec %s: %s\n", argv[2], strerrorname_np(errno));
    return 1;
  }
  if (argc == 6 && strcmp(argv[1], "race") == 0) return race(atoi(argv[2]), argv[3], argv[4], argv[5]);
  return show(argc, argv);
}
