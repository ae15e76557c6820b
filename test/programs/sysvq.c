// System V message queues, to tell which IPC namespace a process is in
// (test/e2e/cri.test.ts: the containers of a pod share theirs).
//
//   sysvq put KEY TEXT   creates the queue KEY (a number) and queues TEXT
//   sysvq get KEY        takes a message from the queue KEY without waiting
//                        and prints it
//
// Exit status 0 on success; 2 when there is no queue KEY in this IPC
// namespace (ENOENT), or it holds no message (ENOMSG); 1 on any other error,
// with the reason on stderr.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>

struct message {
  long type;
  char text[256];
};

int main(int argc, char **argv) {
  if (argc < 3 || (strcmp(argv[1], "put") == 0 && argc != 4) || (strcmp(argv[1], "get") == 0 && argc != 3)) {
    fprintf(stderr, "usage: sysvq put KEY TEXT | sysvq get KEY\n");
    return 1;
  }
  key_t key = (key_t)strtol(argv[2], NULL, 0);
  struct message m = {1, {0}};
  if (strcmp(argv[1], "put") == 0) {
    int q = msgget(key, IPC_CREAT | 0600);
    if (q < 0) {
      perror("msgget");
      return 1;
    }
    snprintf(m.text, sizeof m.text, "%s", argv[3]);
    if (msgsnd(q, &m, strlen(m.text) + 1, IPC_NOWAIT) < 0) {
      perror("msgsnd");
      return 1;
    }
    return 0;
  }
  int q = msgget(key, 0);
  if (q < 0) {
    if (errno == ENOENT) return 2;
    perror("msgget");
    return 1;
  }
  if (msgrcv(q, &m, sizeof m.text, 0, IPC_NOWAIT) < 0) {
    if (errno == ENOMSG) return 2;
    perror("msgrcv");
    return 1;
  }
  printf("%s\n", m.text);
  return 0;
}
