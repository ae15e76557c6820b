// elf-interp.test.ts under musl's loader: argv, /proc/self/exe, AT_EXECFN,
// AT_BASE and /proc/self/cmdline as the program sees them.
#include <fcntl.h>
#include <stdio.h>
#include <sys/auxv.h>
#include <unistd.h>

int main(int argc, char **argv) {
  char b[4096] = {0};
  for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
  readlink("/proc/self/exe", b, sizeof b - 1);
  printf("exe=%s\nexecfn=%s\nAT_BASE set=%d\ncmdline=", b, (char *)getauxval(AT_EXECFN), getauxval(AT_BASE) != 0);
  int fd = open("/proc/self/cmdline", O_RDONLY);
  ssize_t n = read(fd, b, sizeof b);
  for (ssize_t i = 0; i < n; i++) putchar(b[i] ? b[i] : '|');
  putchar('\n');
  return 5;
}
