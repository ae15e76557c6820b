// getpriority and setpriority: nice values as the sandbox sees them.
//
// Linux lets a task raise its priority (a lower nice value) when it holds
// CAP_SYS_NICE or its RLIMIT_NICE allows it. The host checks that
// capability in its initial user namespace, where no guest is, so the
// sandbox's root could never raise its priority however privileged the
// sandbox made it. The Sentry makes Linux's checks with the guest's own
// credentials and limits and sets the value on the host itself, but never
// below the priority tsvisor was started with: a sandbox cannot take CPU
// from the host's other processes. A value below that floor is kept by the
// Sentry as the thread's nice value (getpriority, /proc/[pid]/stat) while
// the host runs the thread at the floor; it holds until the host's value
// changes by other means (sched_setattr), and children inherit it.
import os from 'node:os';
import fs from 'node:fs';
import { CAP_SYS_ADMIN, CAP_SYS_NICE, PRIO_PGRP, PRIO_PROCESS, PRIO_USER } from '../../abi/linux.js';
import { CONTINUE } from '../../platform/notif.js';
import { type Creds, hasCap, readCreds } from '../creds.js';
import { SysErr, fail, sysErr } from '../errors.js';
import { ERRNO } from '../../abi/errno.js';
import type { Kernel } from '../kernel.js';
import type { Task } from '../task.js';
import type { Handler } from './dispatch.js';

const NICE_MIN = -20;
const NICE_MAX = 19;
/** The host priority the sandbox started with: no guest thread runs above it. */
const FLOOR = os.getPriority();

/** A thread getpriority and setpriority can name: a live task, or a zombie its parent has yet to reap. */
interface Target {
  tid: number;
  /** sandbox tid */
  nsTid: number;
  /** thread group (host tgid) */
  tgid: number;
  creds: Creds;
  /** where the Sentry keeps its nice value: the task, or for a zombie its process */
  holder: { keptNice: KeptNice | undefined };
  /** the live task (none for a zombie) */
  task: Task | undefined;
}

/** A nice value the Sentry keeps for a thread the host runs at `host`. */
export interface KeptNice {
  nice: number;
  host: number;
}

/** The host's nice value of a thread; ESRCH when it is gone. */
function hostNice(tid: number): number {
  try {
    return os.getPriority(tid);
  } catch {
    throw sysErr(ERRNO.ESRCH);
  }
}

/** A thread's nice value as the sandbox sees it. */
function niceOf(t: Target): number {
  const host = hostNice(t.tid);
  const kept = t.holder.keptNice;
  if (kept && kept.host === host) return kept.nice;
  t.holder.keptNice = undefined;
  return host;
}

/** RLIMIT_NICE's soft limit of a thread (20 - the lowest nice value it may set itself). */
function niceLimit(t: Target): number {
  try {
    const soft = /^Max nice priority\s+(\S+)/m.exec(fs.readFileSync(`/proc/${t.tid}/limits`, 'latin1'))?.[1];
    return soft === undefined ? 0 : soft === 'unlimited' ? Infinity : Number(soft);
  } catch {
    return 0;
  }
}

/** The sandbox pid of a host pid, 0 for one the Sentry does not know. */
function sandboxId(k: Kernel, host: number): number {
  return k.tasks.get(host)?.nsTid ?? k.procs.get(host)?.pid ?? 0;
}

/** A process's group as the sandbox names it (field 5 of the host's stat). */
function pgrpOf(k: Kernel, tgid: number): number {
  try {
    const s = fs.readFileSync(`/proc/${tgid}/stat`, 'latin1');
    return sandboxId(k, Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[2]));
  } catch {
    return 0;
  }
}

const live = (task: Task): Target => ({
  tid: task.tid,
  nsTid: task.nsTid,
  tgid: task.proc.tgid,
  get creds() {
    return task.creds;
  },
  holder: task,
  task,
});

/**
 * The threads getpriority and setpriority can name, as Linux finds them:
 * live ones, and zombies (their leaders) until their parent reaps them.
 */
function* candidates(k: Kernel): Generator<Target> {
  for (const task of k.tasks.values()) if (!task.proc.exited) yield live(task);
  for (const p of k.liveZombies()) {
    const creds = readCreds(p.tgid);
    if (creds) yield { tid: p.tgid, nsTid: p.pid, tgid: p.tgid, creds, holder: p, task: undefined };
  }
}

/** The threads `which`/`who` name. */
function targets(k: Kernel, t: Task, which: number, who: number): Target[] {
  switch (which) {
    case PRIO_PROCESS: {
      if (who === 0) return [live(t)];
      for (const c of candidates(k)) if (c.nsTid === who) return [c];
      return [];
    }
    case PRIO_PGRP: {
      const pgrp = who === 0 ? pgrpOf(k, t.proc.tgid) : who;
      return [...candidates(k)].filter((c) => pgrpOf(k, c.tgid) === pgrp);
    }
    case PRIO_USER: {
      const uid = who === 0 ? t.creds.uid : who >>> 0;
      return [...candidates(k)].filter((c) => c.creds.uid === uid);
    }
    default:
      fail('EINVAL');
  }
}

/** set_one_prio: may `t` give `target` the nice value `nice`; sets it, or throws the errno. */
function setOne(t: Task, target: Target, nice: number): void {
  const c = t.creds;
  const tc = target.creds;
  const privileged = hasCap(c, CAP_SYS_NICE);
  if (tc.uid !== c.euid && tc.euid !== c.euid && !privileged) fail('EPERM');
  if (nice < niceOf(target) && !privileged && 20 - nice > niceLimit(target)) fail('EACCES');
  const want = Math.max(nice, FLOOR);
  try {
    os.setPriority(target.tid, want);
  } catch {
    // The host refused the Sentry (it may not lower a value it once raised): the host's value stays.
  }
  const host = hostNice(target.tid);
  target.holder.keptNice = host === nice ? undefined : { nice, host };
}

export const priorityHandlers: Record<string, Handler> = {
  getpriority: (k, t, a) => {
    const found = targets(k, t, a.int(0), a.int(1));
    let best = -1;
    for (const target of found) {
      try {
        best = Math.max(best, 20 - niceOf(target));
      } catch {
        // gone meanwhile
      }
    }
    if (best < 0) fail('ESRCH');
    return best;
  },

  setpriority: (k, t, a) => {
    const found = targets(k, t, a.int(0), a.int(1));
    const nice = Math.min(Math.max(a.int(2), NICE_MIN), NICE_MAX);
    let error: number = ERRNO.ESRCH;
    for (const target of found) {
      try {
        setOne(t, target, nice);
        if (error === ERRNO.ESRCH) error = 0;
      } catch (e) {
        if (!(e instanceof SysErr)) throw e;
        // A thread gone meanwhile was not found; a refusal is the result unless a later one replaces it.
        if (e.errno !== ERRNO.ESRCH) error = e.errno;
      }
    }
    return -error;
  },
};

// ioprio_set and ioprio_get. The real-time I/O class, like a raised nice
// value, needs CAP_SYS_NICE or CAP_SYS_ADMIN where the host checks them, in
// its initial user namespace. A guest holding either gets Linux's answers:
// the class is kept by the Sentry for the thread (ioprio_get reports it,
// children inherit it) while the host schedules the thread's I/O in the
// class it had. Every other class goes to the host, which replaces what
// the Sentry kept.

const IOPRIO_CLASS_SHIFT = 13;
const IOPRIO_CLASS_RT = 1;
/** ioprio's bits below the class: the level (0-7) and, since Linux 6.5, hints */
const IOPRIO_DATA_MASK = (1 << IOPRIO_CLASS_SHIFT) - 1;
const IOPRIO_NR_LEVELS = 8;
/** IOPRIO_WHO_PROCESS, _PGRP, _USER as getpriority's which */
const IOPRIO_WHO: Readonly<Record<number, number>> = { 1: PRIO_PROCESS, 2: PRIO_PGRP, 3: PRIO_USER };

function ioTargets(k: Kernel, t: Task, which: number, who: number): Target[] {
  const prio = IOPRIO_WHO[which];
  if (prio === undefined) fail('EINVAL');
  return targets(k, t, prio, who);
}

/** Linux's set_task_ioprio permission: the target's uid is the caller's uid or euid, or CAP_SYS_NICE. */
function mayIoprio(t: Task, target: Target): boolean {
  const c = t.creds;
  return target.creds.uid === c.euid || target.creds.uid === c.uid || hasCap(c, CAP_SYS_NICE);
}

export const ioprioHandlers: Record<string, Handler> = {
  ioprio_set: (k, t, a) => {
    const ioprio = a.int(2);
    const found = ioTargets(k, t, a.int(0), a.int(1));
    if (ioprio >>> IOPRIO_CLASS_SHIFT !== IOPRIO_CLASS_RT) {
      // The host sets it (and checks it); what the Sentry kept gives way.
      for (const target of found) if (target.task && mayIoprio(t, target)) target.task.keptIoprio = undefined;
      return CONTINUE;
    }
    if (!hasCap(t.creds, CAP_SYS_NICE) && !hasCap(t.creds, CAP_SYS_ADMIN)) fail('EPERM');
    if ((ioprio & IOPRIO_DATA_MASK) >= IOPRIO_NR_LEVELS) fail('EINVAL');
    if (found.length === 0) fail('ESRCH');
    for (const target of found) {
      if (!mayIoprio(t, target)) fail('EPERM');
      if (target.task) target.task.keptIoprio = ioprio;
    }
    return 0;
  },

  ioprio_get: (k, t, a) => {
    const kept = ioTargets(k, t, a.int(0), a.int(1))
      .map((target) => target.task?.keptIoprio)
      .filter((v): v is number => v !== undefined);
    // A real-time class is the best there is: with one kept, the host's values do not matter.
    return kept.length > 0 ? Math.min(...kept) : CONTINUE;
  },
};
