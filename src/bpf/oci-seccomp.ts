// Compiles a container's own seccomp profile (OCI linux.seccomp, such as
// Docker's default profile) into a classic BPF program. The launcher stacks
// it on tsvisor's filter right before exec (native/launcher.c); the kernel
// runs both and keeps the more restrictive answer, so the profile can only
// take calls away, never reach past tsvisor's filter.
//
// The semantics are runc's (which builds the filter with libseccomp):
//  * an entry whose action equals the default action is dropped, and names
//    the syscall table does not know are skipped;
//  * an entry's argument conditions all have to hold; if two of them test
//    the same argument, each becomes a rule of its own (any one suffices);
//  * for one syscall, an unconditional rule wins over conditional ones (the
//    first unconditional one, whatever the order); otherwise the first rule
//    whose conditions hold decides, and the default action when none does;
//  * comparisons are on the full 64-bit argument; SCMP_CMP_MASKED_EQ is
//    (arg & value) == (valueTwo & value);
//  * unless the default action lets calls through (ALLOW, LOG, TRACE),
//    numbers above the highest one the profile names get ENOSYS, so that
//    programs fall back from calls newer than the profile as on an old kernel.
// Two differences, both because the guest runs under tsvisor:
//  * SCMP_ACT_TRACE answers ENOSYS: that is what Linux does when nobody
//    traces the process, and nothing in the sandbox can (guest ptrace is
//    refused); the Sentry's own ptrace is not the guest's tracer;
//  * an execveat carrying the Sentry's rewrite marker is allowed: it is the
//    second half of an execve or execveat the profile has already let
//    through (docs/design.md, "execve"). A forged marker gains nothing: the
//    Sentry refuses a marked call it did not rewrite (EPERM).
import { ERRNO } from '../abi/errno.js';
import {
  EXEC_REWRITE_MAGIC,
  SECCOMP_DATA_ARGS,
  SECCOMP_FILTER_FLAG_LOG,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_DATA,
  SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS,
  SECCOMP_RET_KILL_THREAD,
  SECCOMP_RET_LOG,
  SECCOMP_RET_TRACE,
  SECCOMP_RET_TRAP,
} from '../abi/linux.js';
import type { LinuxSeccomp, SeccompAction, SeccompArg } from '../oci/spec.js';
import type { SeccompProfile } from '../sentry/spec.js';
import { byName } from '../syscalls/table.js';
import {
  BPF_ALU_AND_K,
  BPF_JMP_JEQ_K,
  BPF_JMP_JGE_K,
  BPF_JMP_JGT_K,
  BPF_LD_W_ABS,
  BPF_RET_K,
  type Insn,
  type Above,
  type NrAction,
  compile,
  encode,
  insn,
} from './filter.js';

/** A rule for one syscall: every condition must hold for `ret` to apply. */
export interface Rule {
  conditions: SeccompArg[];
  ret: number;
}

/**
 * The action as libseccomp encodes it: the kernel's return value, errno or
 * trace data included. runc compares rules with the default in this form.
 */
function actionValue(action: SeccompAction, errnoRet: number | undefined): number {
  switch (action) {
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return SECCOMP_RET_KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS':
      return SECCOMP_RET_KILL_PROCESS;
    case 'SCMP_ACT_TRAP':
      return SECCOMP_RET_TRAP;
    case 'SCMP_ACT_ERRNO':
      return (SECCOMP_RET_ERRNO | (errnoRet ?? ERRNO.EPERM)) >>> 0;
    case 'SCMP_ACT_TRACE':
      return (SECCOMP_RET_TRACE | (errnoRet ?? ERRNO.EPERM)) >>> 0;
    case 'SCMP_ACT_LOG':
      return SECCOMP_RET_LOG;
    case 'SCMP_ACT_ALLOW':
      return SECCOMP_RET_ALLOW;
  }
}

/** What the program returns for an action value (TRACE: see the top of the file). */
function kernelRet(value: number): number {
  return (value & ~SECCOMP_RET_DATA) >>> 0 === SECCOMP_RET_TRACE ? (SECCOMP_RET_ERRNO | ERRNO.ENOSYS) >>> 0 : value;
}

/** A MASKED_EQ whose mask is 0 holds for every argument (libseccomp drops it too). */
const alwaysHolds = (c: SeccompArg) => c.op === 'SCMP_CMP_MASKED_EQ' && c.value === 0;

/** An entry's conditions as rules: one rule, or one per condition when two test the same argument. */
function entryRules(args: readonly SeccompArg[], ret: number): Rule[] {
  const split = new Set(args.map((c) => c.index)).size < args.length;
  const groups = split ? args.map((c) => [c]) : [args];
  return groups.map((g) => ({ conditions: g.filter((c) => !alwaysHolds(c)), ret }));
}

/** [high, low] 32-bit halves of a value below 2^53. */
function halves(v: number): [number, number] {
  return [Math.floor(v / 2 ** 32) >>> 0, v >>> 0];
}

/** Stands for "jump to the next rule" until the rule's length is known. */
const NEXT_RULE = -1;

const ld = (off: number) => insn(BPF_LD_W_ABS, off);

/** One condition; falls through when it holds, jumps to NEXT_RULE when not. */
function condition(c: SeccompArg): Insn[] {
  const lo = SECCOMP_DATA_ARGS + 8 * c.index;
  const hi = lo + 4;
  const [vh, vl] = halves(c.value);
  switch (c.op) {
    case 'SCMP_CMP_EQ':
      return [ld(hi), insn(BPF_JMP_JEQ_K, vh, 0, NEXT_RULE), ld(lo), insn(BPF_JMP_JEQ_K, vl, 0, NEXT_RULE)];
    case 'SCMP_CMP_NE':
      // high words differ: holds (skip the low test)
      return [ld(hi), insn(BPF_JMP_JEQ_K, vh, 0, 2), ld(lo), insn(BPF_JMP_JEQ_K, vl, NEXT_RULE, 0)];
    case 'SCMP_CMP_GT':
    case 'SCMP_CMP_GE': {
      // high word above: holds; equal: the low words decide; below: fails
      const low = c.op === 'SCMP_CMP_GT' ? BPF_JMP_JGT_K : BPF_JMP_JGE_K;
      return [ld(hi), insn(BPF_JMP_JGT_K, vh, 3, 0), insn(BPF_JMP_JEQ_K, vh, 0, NEXT_RULE), ld(lo), insn(low, vl, 0, NEXT_RULE)];
    }
    case 'SCMP_CMP_LT':
    case 'SCMP_CMP_LE': {
      // high word above: fails; below: holds; equal: the low words decide
      const low = c.op === 'SCMP_CMP_LT' ? BPF_JMP_JGE_K : BPF_JMP_JGT_K;
      return [ld(hi), insn(BPF_JMP_JGT_K, vh, NEXT_RULE, 0), insn(BPF_JMP_JEQ_K, vh, 0, 2), ld(lo), insn(low, vl, NEXT_RULE, 0)];
    }
    case 'SCMP_CMP_MASKED_EQ': {
      const [dh, dl] = halves(c.valueTwo);
      const out: Insn[] = [];
      // A half whose mask is 0 always compares equal.
      if (vh) out.push(ld(hi), insn(BPF_ALU_AND_K, vh), insn(BPF_JMP_JEQ_K, (dh & vh) >>> 0, 0, NEXT_RULE));
      if (vl) out.push(ld(lo), insn(BPF_ALU_AND_K, vl), insn(BPF_JMP_JEQ_K, (dl & vl) >>> 0, 0, NEXT_RULE));
      return out;
    }
  }
}

/** A rule's conditions, then its return; NEXT_RULE resolved to the instruction after the return. */
function ruleCode(rule: Rule): Insn[] {
  // At most six conditions (one per argument) of at most six instructions: every jump fits in 8 bits.
  const out = [...rule.conditions.flatMap(condition), insn(BPF_RET_K, rule.ret)];
  return out.map((p, i) => {
    const next = out.length - 1 - i;
    return { ...p, jt: p.jt === NEXT_RULE ? next : p.jt, jf: p.jf === NEXT_RULE ? next : p.jf };
  });
}

/** The second half of an exec the Sentry rewrote (see the top of the file): checked before the profile's execveat rules. */
const REWRITTEN_EXEC: Rule = { conditions: [{ index: 5, op: 'SCMP_CMP_EQ', value: EXEC_REWRITE_MAGIC, valueTwo: 0 }], ret: SECCOMP_RET_ALLOW };

/**
 * A validated profile resolved per syscall number (the semantics at the top
 * of the file): for a number with rules, `ret` when none of `rules` holds
 * (the unconditional rule's, else the fallback) and the conditional rules,
 * first match wins; any other number gets `fallback(nr)`. Values are what
 * the kernel gets (kernelRet). The BPF program and coverage's audit
 * (src/coverage/audit.ts) both read it.
 */
export interface ResolvedProfile {
  rules: Map<number, { ret: number; rules: Rule[] }>;
  fallback(nr: number): number;
  defaultRet: number;
  above?: Above;
}

export function resolveProfile(profile: LinuxSeccomp): ResolvedProfile {
  const defaultValue = actionValue(profile.defaultAction, profile.defaultErrnoRet);
  const rules = new Map<number, Rule[]>();
  let highest = -1;
  for (const entry of profile.syscalls) {
    const value = actionValue(entry.action, entry.errnoRet);
    for (const name of entry.names) {
      const nr = byName.get(name)?.nr;
      if (nr === undefined) continue;
      highest = Math.max(highest, nr);
      if (value === defaultValue) continue;
      rules.set(nr, [...(rules.get(nr) ?? []), ...entryRules(entry.args, value)]);
    }
  }
  const lenient = ['SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_TRACE'].includes(profile.defaultAction);
  const above = lenient || highest < 0 ? undefined : { from: highest + 1, action: { ret: (SECCOMP_RET_ERRNO | ERRNO.ENOSYS) >>> 0 } };
  const defaultRet = kernelRet(defaultValue);
  const fallback = (nr: number) => (above && nr >= above.from ? above.action.ret : defaultRet);
  const resolved = new Map<number, { ret: number; rules: Rule[] }>();
  for (const [nr, list] of rules) {
    const unconditional = list.find((r) => r.conditions.length === 0);
    const ret = unconditional ? kernelRet(unconditional.ret) : fallback(nr);
    resolved.set(nr, { ret, rules: unconditional ? [] : list.map((r) => ({ ...r, ret: kernelRet(r.ret) })) });
  }
  return { rules: resolved, fallback, defaultRet, ...(above ? { above } : {}) };
}

/** The BPF program enforcing a validated profile on x86_64 calls. */
export function ociSeccompProgram(profile: LinuxSeccomp): Insn[] {
  const { rules, fallback, defaultRet, above } = resolveProfile(profile);
  const execveat = byName.get('execveat')!.nr;
  if (!rules.has(execveat)) rules.set(execveat, { ret: fallback(execveat), rules: [] });
  const actions = new Map<number, NrAction>();
  for (const [nr, { ret, rules: conditional }] of rules) {
    const checked = nr === execveat ? [REWRITTEN_EXEC, ...conditional] : conditional;
    if (checked.length === 0) actions.set(nr, { ret });
    else actions.set(nr, { ret, block: [...checked.flatMap(ruleCode), insn(BPF_RET_K, ret)] });
  }
  return compile(actions, { ret: defaultRet }, above);
}

/** The SECCOMP_FILTER_FLAG_* bits the profile asks for (TSYNC has nothing to do: the launcher has one thread). */
export function ociSeccompFlags(profile: LinuxSeccomp): number {
  let flags = 0;
  if (profile.flags.includes('SECCOMP_FILTER_FLAG_LOG')) flags |= SECCOMP_FILTER_FLAG_LOG;
  if (profile.flags.includes('SECCOMP_FILTER_FLAG_SPEC_ALLOW')) flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
  return flags;
}

/** The profile as the launcher installs it. */
export function compileOciSeccomp(profile: LinuxSeccomp): SeccompProfile {
  return { filter: encode(ociSeccompProgram(profile)), flags: ociSeccompFlags(profile) };
}
