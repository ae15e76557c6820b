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
import { CAP_SYS_NICE, PRIO_PGRP, PRIO_PROCESS, PRIO_USER } from '../../abi/linux.js';
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
});

/**
 * The threads getpriority and setpriority can name, as Linux finds them:
 * live ones, and zombies (their leaders) until their parent reaps them.
 */
function* candidates(k: Kernel): Generator<Target> {
  for (const task of k.tasks.values()) if (!task.proc.exited) yield live(task);
  for (const p of k.liveZombies()) {
    const creds = readCreds(p.tgid);
    if (creds) yield { tid: p.tgid, nsTid: p.pid, tgid: p.tgid, creds, holder: p };
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
