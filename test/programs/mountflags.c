// What a mount's flags allow, for comparing runtimes: for each argument,
// "statfs PATH" prints the file system's type, flags and size in 4 KiB
// blocks, "inodes PATH" its inodes (f_files); "exec FILE" maps the file PROT_EXEC and mprotects a
// readable mapping to PROT_EXEC, printing each result (an errno name or ok).
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

static const char* result(int failed) {
  if (!failed) return "ok";
  switch (errno) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    default: return strerror(errno);
  }
}

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const char* what = argv[i];
    const char* path = argv[i + 1];
    if (!strcmp(what, "statfs") || !strcmp(what, "inodes")) {
      struct statfs s;
      if (statfs(path, &s)) {
        printf("%s %s: %s\n", what, path, strerror(errno));
      } else if (!strcmp(what, "statfs")) {
        printf("statfs %s: type=%lx flags=%lx blocks=%ld\n", path, (long)s.f_type, (long)s.f_flags, (long)(s.f_blocks * s.f_bsize / 4096));
      } else {
        printf("inodes %s: %ld\n", path, (long)s.f_files);
      }
    } else if (!strcmp(what, "exec")) {
      int fd = open(path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        printf("open %s: %s\n", path, strerror(errno));
        continue;
      }
      void* p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
      printf("mmap PROT_EXEC %s: %s\n", path, result(p == MAP_FAILED));
      void* q = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
      printf("mprotect PROT_EXEC %s: %s\n", path, q == MAP_FAILED ? strerror(errno) : result(mprotect(q, 4096, PROT_READ | PROT_EXEC) != 0));
      close(fd);
    }
  }
  return 0;
}
