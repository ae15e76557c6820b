/*
 * tsvisor-control: one request to a container's control socket, for
 * bin/tsvisor to answer a command without starting Node (~70 ms here).
 *
 *   tsvisor-control DIR REQUEST EXPECTED
 *
 * Connects to DIR/control.sock (from inside DIR: Docker's state paths are
 * longer than sun_path), sends REQUEST and a newline, reads one reply line
 * and exits 0 if it is exactly EXPECTED. Any other outcome (no socket,
 * nothing listening, another reply, no reply within 10 s) exits 1 without a
 * word: the caller then runs the Node command, which reports the error as
 * the clients expect. The protocol is src/oci/control.ts's; this program
 * only carries bytes.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_REPLY 4096
#define TIMEOUT_MS 10000

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 4 || chdir(argv[1]) < 0) return 1;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 1;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strcpy(addr.sun_path, "control.sock");
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) return 1;
  if (write_all(fd, argv[2], strlen(argv[2])) < 0 || write_all(fd, "\n", 1) < 0) return 1;

  char reply[MAX_REPLY];
  size_t len = 0;
  for (;;) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, TIMEOUT_MS) != 1) return 1;
    ssize_t r = read(fd, reply + len, sizeof reply - len);
    if (r <= 0) return 1;
    len += (size_t)r;
    char *nl = memchr(reply, '\n', len);
    if (nl) return (size_t)(nl - reply) == strlen(argv[3]) && memcmp(reply, argv[3], strlen(argv[3])) == 0 ? 0 : 1;
    if (len == sizeof reply) return 1;
  }
}
