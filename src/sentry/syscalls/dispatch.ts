// The Sentry's dispatch table, generated from syscall-tables/: every syscall
// the table marks `emulate` with a `notify` trap gets the handler of the same
// name from one of the family files. A missing handler is a start-up error,
// and so is a handler for a call the table does not route to the Sentry.
import { ERRNO } from '../../abi/errno.js';
import { CONTINUE, REPLIED, type SyscallArgs } from '../../platform/notif.js';
import { type SyscallEntry, byNumber } from '../../syscalls/table.js';
import { errnoValue, isWideArg, ruleMatches } from '../../bpf/filter.js';
import type { AccessLog } from '../access.js';
import type { FileOp } from '../spec.js';
import { SysErr } from '../errors.js';
import type { Kernel } from '../kernel.js';
import { readBytes } from '../memory.js';
import type { Task } from '../task.js';
import { attrHandlers } from './attr.js';
import { dirHandlers } from './dir.js';
import { execHandlers, fixLoaderExecFn } from './exec.js';
import { fdctlHandlers } from './fdctl.js';
import { fileHandlers } from './file.js';
import { inotifyHandlers } from './inotify.js';
import { linkHandlers } from './link.js';
import { nsHandlers } from './ns.js';
import { prctlHandlers } from './prctl.js';
import { ioprioHandlers, priorityHandlers } from './priority.js';
import { socketHandlers } from './socket.js';
import { statHandlers } from './stat.js';
import { sysinfoHandlers } from './sysinfo.js';
import { utsHandlers } from './uts.js';
import { xattrHandlers } from './xattr.js';

/** Returns the syscall result (>= 0), -errno, CONTINUE or REPLIED; may throw SysErr. */
export type Handler = (k: Kernel, t: Task, a: SyscallArgs) => number;

export const HANDLERS: Readonly<Record<string, Handler>> = {
  ...fileHandlers,
  ...statHandlers,
  ...dirHandlers,
  ...linkHandlers,
  ...nsHandlers,
  ...prctlHandlers,
  ...priorityHandlers,
  ...ioprioHandlers,
  ...attrHandlers,
  ...xattrHandlers,
  ...execHandlers,
  ...fdctlHandlers,
  ...utsHandlers,
  ...sysinfoHandlers,
  ...socketHandlers,
  ...inotifyHandlers,
};

/** The handler table by syscall number; throws if the table and the handlers disagree. */
export function buildTable(entries: readonly SyscallEntry[]): (Handler | undefined)[] {
  const table: (Handler | undefined)[] = [];
  const routed = new Set<string>();
  for (const e of entries) {
    const notified = e.trap === 'notify' || e.rules?.some((r) => r.action === 'notify');
    if (!notified) continue;
    const h = HANDLERS[e.name];
    if (!h) throw new Error(`syscall-tables routes ${e.name} to the Sentry but no handler exists`);
    table[e.nr] = h;
    routed.add(e.name);
  }
  for (const name of Object.keys(HANDLERS)) {
    if (!routed.has(name)) throw new Error(`handler ${name} exists but syscall-tables does not route it to the Sentry`);
  }
  return table;
}

/** A call refused to every guest, as the table says, for reporting it (SandboxSpec.access). */
interface Refusal {
  /** the errno the filter gives the whole call; 0: its rules decide */
  errno: number;
  entry: SyscallEntry;
}

export class Dispatcher {
  private readonly table: (Handler | undefined)[];
  /** by number, with an access observer: each path call's FileOp (syscall-tables `access`) */
  private readonly accessOps: (FileOp | undefined)[] = [];
  /** by number, with an access observer: the calls the table denies, whole or by a rule (they trap then: guestFilter's `observed`) */
  private readonly refusals: (Refusal | undefined)[] = [];

  constructor(
    private readonly k: Kernel,
    entries: readonly SyscallEntry[],
  ) {
    this.table = buildTable(entries);
    if (!k.access) return;
    for (const e of entries) {
      // An open starts as a read; its handler says what it was (common.ts noteOpen).
      if (e.access) this.accessOps[e.nr] = e.access === 'open' ? 'read' : e.access;
      if (e.disposition === 'deny') this.refusals[e.nr] = { errno: errnoValue(e.errno!), entry: e };
      else if (e.rules?.some((r) => r.action === 'deny' || r.support === 'none')) this.refusals[e.nr] = { errno: 0, entry: e };
    }
  }

  /**
   * With an access observer: a call the table refuses to every guest. Returns
   * the errno to answer for a call the filter would have denied (it trapped
   * instead), else null; either way the call is marked refused
   * (AccessLog.refuse) and reported once it fails, so one only the Sentry's
   * handler refuses (a rule of support none) is reported too.
   */
  private refused(nr: number, a: SyscallArgs): number | null {
    const acc = this.k.access!;
    const r = this.refusals[nr];
    const entry = r?.entry ?? byNumber[nr];
    if (!entry) {
      acc.refuse(`syscall ${nr}`);
      return ERRNO.ENOSYS;
    }
    if (!r) return null;
    if (r.errno) {
      acc.refuse(entry.name);
      return r.errno;
    }
    const rule = entry.rules!.find((x) => ruleMatches(x, isWideArg(entry.args[x.arg]), a.u32(x.arg), a.hi(x.arg)));
    if (!rule || (rule.action !== 'deny' && rule.support !== 'none')) return null;
    acc.refuse(`${entry.name} (${rule.why.length <= 80 ? rule.why : `argument ${rule.arg}: 0x${a.u32(rule.arg).toString(16)}`})`);
    return rule.action === 'deny' ? errnoValue(rule.errno!) : null;
  }

  /** Called synchronously by the native poll callback for each notification. */
  onNotif(): void {
    const k = this.k;
    const ch = k.channel;
    const a = ch.args;
    const nr = a.nr;
    let r: number;
    let t: Task | undefined;
    let cls: bigint | null = null;
    const st = k.strace;
    const ev = k.spec.events;
    const acc = k.access;
    const t0 = ev ? process.hrtime.bigint() : 0n;
    try {
      t = k.task(a.tid);
      if (t.proc.execFnFix) fixLoaderExecFn(t);
      const task = t;
      if (ev) cls = ev.classOf(nr, a, (addr, len) => readBytes(task, addr, len));
      k.current = t;
      if (st) st.enter(t, a);
      const h = this.table[nr];
      if (acc) {
        // The markers its caller wrote before this call are in the channel now; later ones are not this call's.
        k.testChannel?.drain();
        k.inTrappedCall = true;
        acc.begin(this.accessOps[nr] ?? null);
      }
      const refusedWith = acc && (!h || this.refusals[nr]) ? this.refused(nr, a) : null;
      k.inotify.flush();
      r = refusedWith !== null ? -refusedWith : h ? h(k, t, a) : -ERRNO.ENOSYS;
      // A call already answered (ADDFD) may be followed by the guest's own
      // closes before we get here: those are not the Sentry's to drop.
      if (r !== REPLIED) k.inotify.settle();
    } catch (e) {
      if (e instanceof SysErr) {
        r = -e.errno;
      } else if (outOfFds(e)) {
        // The Sentry's own fds ran out (a Node fs call): the guest sees a full file table.
        r = -ERRNO.ENFILE;
      } else {
        // A Sentry bug must not take the sandbox down: fail the call and say so.
        k.log.error({ err: e, nr, tid: a.tid }, 'syscall handler failed');
        r = -ERRNO.EIO;
      }
    }
    k.current = undefined;
    if (acc && t && r !== CONTINUE) this.reportAccess(acc, t, nr, r);
    k.inTrappedCall = false;
    if (st && t) st.exit(t, a, r);
    // A call continued on the host is timed there, by the kernel. (Before the reply: the channel then holds the next call.)
    if (ev && t && r !== CONTINUE) ev.onEmulated(t.proc.tgid, nr, Number(process.hrtime.bigint() - t0), cls);
    ch.setReply(r);
  }

  /** Reports the call that just ended (result `r`, REPLIED: answered with an fd) to the access observer. */
  private reportAccess(acc: AccessLog, t: Task, nr: number, r: number): void {
    const errno = r < 0 && r !== REPLIED ? -r : 0;
    acc.end(t, byNumber[nr]?.name ?? `syscall ${nr}`, errno);
  }
}

export { CONTINUE, REPLIED };

function outOfFds(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}
