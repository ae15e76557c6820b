/*
 * System V IPC: shared memory, semaphores and message queues, made with
 * IPC_PRIVATE (ids differ between runs and are printed only as "ok").
 * Case lines as test/programs/calls.h says. Everything made is removed.
 *
 *   calls-ipc DIR   (DIR: a scratch directory; unused here)
 */
#include "calls.h"
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

union semun {
  int val;
  struct semid_ds *buf;
  unsigned short *array;
};

static void shm(void) {
  long page = sysconf(_SC_PAGESIZE);
  long id = TOK(shmget, "IPC_PRIVATE, 2 pages", IPC_PRIVATE, 2 * page, IPC_CREAT | 0600);
  T(shmget, "size 0 for a new segment", IPC_PRIVATE, 0, IPC_CREAT | 0600);
  T(shmget, "a key that does not exist, no IPC_CREAT", 0x7473760b, page, 0600);
  T(shmget, "larger than SHMMAX", IPC_PRIVATE, ~0UL, IPC_CREAT | 0600);
  long k = TOK(shmget, "a key, IPC_CREAT|IPC_EXCL", 0x7473760c, page, IPC_CREAT | IPC_EXCL | 0600);
  T(shmget, "the same key, IPC_CREAT|IPC_EXCL again", 0x7473760c, page, IPC_CREAT | IPC_EXCL | 0600);
  T(shmget, "the same key, larger than the segment", 0x7473760c, 4 * page, 0600);
  char *p = (char *)TOK(shmat, "at an address the kernel picks", id, NULL, 0);
  strcpy(p, "shared");
  char *q = (char *)TOK(shmat, "again, read-only", id, NULL, SHM_RDONLY);
  N(shmat, "both attachments see the same memory", "%s", q);
  pid_t c = fork_flushed();
  if (c == 0) {
    p[0] = 'S';
    _exit(0);
  }
  reap(c);
  N(shmat, "inherited by fork, shared", "%s", q);
  T(shmat, "an unknown id", 0x7fffffff, NULL, 0);
  T(shmat, "an unaligned address without SHM_RND", id, (void *)0x10001, 0);
  struct shmid_ds ds;
  memset(&ds, 0, sizeof ds);
  T(shmctl, "IPC_STAT", id, IPC_STAT, &ds);
  N(shmctl, "IPC_STAT values", "size %zu nattch %lu mode %o", ds.shm_segsz, (unsigned long)ds.shm_nattch, ds.shm_perm.mode & 0777);
  ds.shm_perm.mode = 0640;
  T(shmctl, "IPC_SET mode 0640", id, IPC_SET, &ds);
  syscall(SYS_shmctl, id, IPC_STAT, &ds);
  N(shmctl, "mode after", "%o", ds.shm_perm.mode & 0777);
  T(shmctl, "an unknown command", id, 99, &ds);
  T(shmctl, "an unknown id", 0x7fffffff, IPC_STAT, &ds);
  T(shmctl, "IPC_STAT to a bad address", id, IPC_STAT, BADPTR);
  T(shmdt, "the read-only attachment", q);
  T(shmdt, "it again", q);
  T(shmdt, "an address that is not attached", &ds);
  T(shmctl, "IPC_RMID while attached", id, IPC_RMID, NULL);
  N(shmat, "the memory stays until detached", "%s", p);
  T(shmdt, "the last attachment", p);
  T(shmctl, "IPC_STAT after removal", id, IPC_STAT, &ds);
  T(shmctl, "IPC_RMID the keyed one", k, IPC_RMID, NULL);
  long own = syscall(SYS_shmget, IPC_PRIVATE, page, IPC_CREAT | 0600);
  c = fork_flushed();
  if (c == 0) {
    if (setresuid(65534, 65534, 65534) < 0) _exit(1);
    T(shmat, "a 0600 segment of root's, unprivileged", own, NULL, 0);
    T(shmctl, "IPC_RMID of root's segment, unprivileged", own, IPC_RMID, NULL);
    _exit(0);
  }
  reap(c);
  syscall(SYS_shmctl, own, IPC_RMID, NULL);
}

static void sem(void) {
  long id = TOK(semget, "IPC_PRIVATE, 2 semaphores", IPC_PRIVATE, 2, IPC_CREAT | 0600);
  T(semget, "a negative count", IPC_PRIVATE, -1, IPC_CREAT | 0600);
  T(semget, "more than SEMMSL", IPC_PRIVATE, 1 << 20, IPC_CREAT | 0600);
  T(semget, "a key that does not exist, no IPC_CREAT", 0x7473760d, 1, 0600);
  union semun arg = {.val = 2};
  T(semctl, "SETVAL 2", id, 0, SETVAL, arg);
  T(semctl, "GETVAL", id, 0, GETVAL, arg);
  arg.val = -1;
  T(semctl, "SETVAL -1", id, 0, SETVAL, arg);
  arg.val = 0;
  T(semctl, "GETVAL of a semaphore out of range", id, 5, GETVAL, arg);
  T(semctl, "an unknown command", id, 0, 99, arg);
  T(semctl, "an unknown id", 0x7fffffff, 0, GETVAL, arg);
  struct sembuf down = {0, -1, 0}, nb = {0, -5, IPC_NOWAIT}, up = {1, 3, 0}, bad = {7, 1, 0};
  T(semop, "down by 1", id, &down, 1);
  T(semctl, "GETVAL after", id, 0, GETVAL, arg);
  T(semop, "down by 5, IPC_NOWAIT", id, &nb, 1);
  T(semop, "up the second by 3", id, &up, 1);
  T(semctl, "GETVAL of the second", id, 1, GETVAL, arg);
  T(semop, "a semaphore out of range", id, &bad, 1);
  T(semop, "no operations", id, &down, 0);
  T(semop, "a bad address", id, BADPTR, 1);
  N(semctl, "GETPID is the last operator, the caller", "%s", syscall(SYS_semctl, id, 0, GETPID, arg) == getpid() ? "yes" : "no");
  struct timespec t = {0, 20000000};
  struct sembuf wait0 = {0, -9, 0};
  T(semtimedop, "a wait that times out", id, &wait0, 1, &t);
  struct timespec badt = {0, 1000000000};
  T(semtimedop, "an invalid timeout", id, &wait0, 1, &badt);
  T(semtimedop, "a timeout at a bad address", id, &wait0, 1, BADPTR);
  /* a blocked semop wakes when a child raises the semaphore */
  struct sembuf two = {0, -2, 0};
  pid_t c = fork_flushed();
  if (c == 0) {
    msleep(30);
    struct sembuf u = {0, 2, 0};
    _exit(syscall(SYS_semop, id, &u, 1) == 0 ? 0 : 1);
  }
  T(semop, "blocks until a child raises it", id, &two, 1);
  N(semop, "the child", "%s", reap(c));
  unsigned short vals[2] = {9, 9};
  arg.array = vals;
  T(semctl, "GETALL", id, 0, GETALL, arg);
  N(semctl, "GETALL values", "%u %u", vals[0], vals[1]);
  struct semid_ds ds;
  arg.buf = &ds;
  T(semctl, "IPC_STAT", id, 0, IPC_STAT, arg);
  N(semctl, "IPC_STAT values", "nsems %lu mode %o", (unsigned long)ds.sem_nsems, ds.sem_perm.mode & 0777);
  T(semctl, "IPC_RMID", id, 0, IPC_RMID, arg);
  T(semop, "on a removed set", id, &up, 1);
}

struct msg {
  long type;
  char text[32];
};

static void msg(void) {
  long id = TOK(msgget, "IPC_PRIVATE", IPC_PRIVATE, IPC_CREAT | 0600);
  T(msgget, "a key that does not exist, no IPC_CREAT", 0x7473760e, 0600);
  struct msg m = {2, "second type"}, one = {1, "first type"}, r;
  T(msgsnd, "type 2", id, &m, 12, 0);
  T(msgsnd, "type 1", id, &one, 11, 0);
  m.type = 0;
  T(msgsnd, "type 0", id, &m, 4, 0);
  T(msgsnd, "a negative size", id, &one, -1, 0);
  T(msgsnd, "larger than MSGMAX", id, &one, 1 << 20, 0);
  T(msgsnd, "a bad address", id, BADPTR, 4, 0);
  T(msgsnd, "an unknown id", 0x7fffffff, &one, 4, 0);
  memset(&r, 0, sizeof r);
  T(msgrcv, "type 1", id, &r, sizeof r.text, 1, 0);
  N(msgrcv, "the message", "%ld %s", r.type, r.text);
  T(msgrcv, "into a buffer too small", id, &r, 4, 0, IPC_NOWAIT);
  memset(&r, 0, sizeof r);
  T(msgrcv, "into a buffer too small, MSG_NOERROR", id, &r, 6, 0, IPC_NOWAIT | MSG_NOERROR);
  N(msgrcv, "truncated", "%ld %s", r.type, r.text);
  T(msgrcv, "an empty queue, IPC_NOWAIT", id, &r, sizeof r.text, 0, IPC_NOWAIT);
  T(msgrcv, "a negative size", id, &r, -1, 0, IPC_NOWAIT);
  T(msgrcv, "an unknown id", 0x7fffffff, &r, sizeof r.text, 0, IPC_NOWAIT);
  struct msqid_ds ds;
  T(msgctl, "IPC_STAT", id, IPC_STAT, &ds);
  N(msgctl, "IPC_STAT values", "qnum %lu mode %o", (unsigned long)ds.msg_qnum, ds.msg_perm.mode & 0777);
  ds.msg_qbytes = 100;
  T(msgctl, "IPC_SET qbytes 100", id, IPC_SET, &ds);
  struct msg big = {1, "0123456789012345678901234567890"};
  for (int i = 0; i < 3; i++) syscall(SYS_msgsnd, id, &big, 32, IPC_NOWAIT);
  T(msgsnd, "a full queue, IPC_NOWAIT", id, &big, 32, IPC_NOWAIT);
  T(msgctl, "an unknown command", id, 99, &ds);
  T(msgctl, "IPC_STAT to a bad address", id, IPC_STAT, BADPTR);
  pid_t c = fork_flushed();
  if (c == 0) {
    struct msg w;
    _exit(syscall(SYS_msgrcv, id, &w, sizeof w.text, 7, 0) == 4 && w.type == 7 ? 0 : 1);
  }
  msleep(30);
  struct msg seven = {7, "777"};
  syscall(SYS_msgrcv, id, &r, sizeof r.text, 0, IPC_NOWAIT);
  syscall(SYS_msgrcv, id, &r, sizeof r.text, 0, IPC_NOWAIT);
  syscall(SYS_msgrcv, id, &r, sizeof r.text, 0, IPC_NOWAIT);
  T(msgsnd, "type 7 to a child blocked in msgrcv", id, &seven, 4, 0);
  N(msgrcv, "the blocked child got it", "%s", reap(c));
  T(msgctl, "IPC_RMID", id, IPC_RMID, NULL);
  T(msgrcv, "a removed queue", id, &r, sizeof r.text, 0, IPC_NOWAIT);
}

int main(int argc, char **argv) {
  (void)argv;
  if (argc < 2) {
    fprintf(stderr, "usage: calls-ipc DIR\n");
    return 2;
  }
  shm();
  sem();
  msg();
  return 0;
}
