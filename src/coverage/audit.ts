// Audit mode (--audit PROFILE): the run is not restricted; afterwards every
// call it made is checked against a seccomp profile (the program's own, or
// one --seccomp-profile generated), with the semantics tsvisor enforces
// profiles with (resolveProfile, runc's), and each call the profile would
// have refused is reported with what it would have got.
//
// A profile's rule may test arguments. Coverage knows, of each call, the
// arguments of its class (arg-classes.ts): a condition on those is decided;
// one on any other argument is not, and the calls it covers are reported as
// "depends on arguments" rather than guessed. A class argument whose mask
// keeps all 32 low bits is an int-sized argument (request, command, level):
// its upper half is taken as 0, as the C library passes it.
import { errnoName } from '../abi/errno.js';
import { SECCOMP_RET_ALLOW, SECCOMP_RET_DATA, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_LOG, SECCOMP_RET_TRAP } from '../abi/linux.js';
import { type ResolvedProfile, type Rule, resolveProfile } from '../bpf/oci-seccomp.js';
import type { LinuxSeccomp, SeccompArg } from '../oci/spec.js';
import type { ArgCondition, Audit, AuditItem, Outcome, Report } from './schema.js';

const ALL = (1n << 64n) - 1n;
type Truth = 'yes' | 'no' | 'unknown';

function compare(op: SeccompArg['op'], a: bigint, b: bigint): boolean {
  switch (op) {
    case 'SCMP_CMP_EQ': return a === b;
    case 'SCMP_CMP_NE': return a !== b;
    case 'SCMP_CMP_LT': return a < b;
    case 'SCMP_CMP_LE': return a <= b;
    case 'SCMP_CMP_GT': return a > b;
    case 'SCMP_CMP_GE': return a >= b;
    case 'SCMP_CMP_MASKED_EQ': return false; // decided in condition()
  }
}

function condition(c: SeccompArg, known: ArgCondition[]): Truth {
  const a = known.find((k) => k.index === c.index);
  if (!a) return 'unknown';
  const knownBits = a.mask >>> 0 === 0xffffffff ? ALL : BigInt(a.mask >>> 0);
  const value = BigInt(a.value >>> 0);
  if (c.op === 'SCMP_CMP_MASKED_EQ') {
    const mask = BigInt(c.value);
    if ((value & mask & knownBits) !== (BigInt(c.valueTwo) & mask & knownBits)) return 'no';
    return (mask & ~knownBits & ALL) === 0n ? 'yes' : 'unknown';
  }
  if (knownBits !== ALL) return 'unknown';
  return compare(c.op, value, BigInt(c.value)) ? 'yes' : 'no';
}

function ruleHolds(r: Rule, known: ArgCondition[]): Truth {
  const truths = r.conditions.map((c) => condition(c, known));
  if (truths.includes('no')) return 'no';
  return truths.includes('unknown') ? 'unknown' : 'yes';
}

/** The answers the profile may give a call of `nr` with the `known` arguments (one, unless rules test unknown arguments). */
function answers(p: ResolvedProfile, nr: number, known: ArgCondition[]): Set<number> {
  const entry = p.rules.get(nr);
  if (!entry) return new Set([p.fallback(nr)]);
  const out = new Set<number>();
  for (const r of entry.rules) {
    const t = ruleHolds(r, known);
    if (t === 'no') continue;
    out.add(r.ret);
    if (t === 'yes') return out;
  }
  out.add(entry.ret);
  return out;
}

const allows = (ret: number) => ret === SECCOMP_RET_ALLOW || ret === SECCOMP_RET_LOG;

function describe(ret: number): string {
  if (allows(ret)) return 'allowed';
  const action = (ret & ~SECCOMP_RET_DATA) >>> 0;
  if (action === SECCOMP_RET_ERRNO) return errnoName(ret & SECCOMP_RET_DATA);
  if (action === SECCOMP_RET_TRAP) return 'SIGSYS';
  if (action === SECCOMP_RET_KILL_PROCESS) return 'process killed';
  if (action === SECCOMP_RET_KILL_THREAD) return 'thread killed';
  return `seccomp return ${ret.toString(16)}`;
}

/** The calls of the report the profile (named `where`) would have refused: blocked ones first, most calls first. */
export function audit(report: Report, profile: LinuxSeccomp, where: string): Audit {
  const p = resolveProfile(profile);
  const items: AuditItem[] = [];
  const check = (syscall: string, nr: number, o: Outcome, known: ArgCondition[], cls?: string) => {
    const rets = [...answers(p, nr, known)];
    if (rets.every(allows)) return;
    const outcome = { calls: o.calls, errors: o.errors, errnos: o.errnos, timeNs: o.timeNs, timed: o.timed };
    items.push({
      syscall, nr, ...(cls === undefined ? {} : { class: cls }), ...outcome,
      verdict: rets.some(allows) ? 'depends' : 'blocked',
      answer: [...new Set(rets.map(describe))].join(' or '),
    });
  };
  for (const row of report.syscalls) {
    if (row.classes?.length) for (const c of row.classes) check(row.name, row.nr, c, c.args, c.name);
    else check(row.name, row.nr, row, []);
  }
  items.sort((a, b) => (a.verdict === b.verdict ? b.calls - a.calls : a.verdict === 'blocked' ? -1 : 1));
  return { profile: where, items };
}

/** The terminal summary of an audit. */
export function formatAudit({ profile: where, items }: Audit): string {
  const blocked = items.filter((i) => i.verdict === 'blocked');
  const depends = items.filter((i) => i.verdict === 'depends');
  const calls = (xs: AuditItem[]) => xs.reduce((n, i) => n + i.calls, 0);
  if (items.length === 0) return `\naudit: ${where} allows every call the run made\n`;
  const lines = ['', `audit: ${where} would have refused ${calls(blocked)} call${calls(blocked) === 1 ? '' : 's'} of ${blocked.length} kind${blocked.length === 1 ? '' : 's'} (not refused in this run):`];
  const row = (i: AuditItem) => {
    const failed = i.errors ? ` (${Object.entries(i.errnos).map(([e, n]) => `${n} failed with ${e}`).join(', ')} in this run)` : '';
    return `  ${String(i.calls).padStart(8)}  ${i.syscall}${i.class ? ` ${i.class}` : ''}: ${i.answer}${failed}`;
  };
  lines.push(...blocked.map(row));
  if (depends.length) {
    lines.push(`and its rules test arguments coverage does not record for ${calls(depends)} call${calls(depends) === 1 ? '' : 's'} of ${depends.length} kind${depends.length === 1 ? '' : 's'}, which it may refuse:`);
    lines.push(...depends.map(row));
  }
  return `${lines.join('\n')}\n`;
}
