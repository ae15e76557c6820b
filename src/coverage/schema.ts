// The coverage report's JSON schema (docs/coverage-schema.md): the types every
// output (terminal, JSON, HTML, Markdown, seccomp profile, diff) reads, and
// a validator for reports read back from files. Field names are stable within
// a schema version; a change that removes or renames a field bumps it.

export const SCHEMA_VERSION = 3;

/** syscall-tables/' disposition; 'by argument' when its rules decide per call (see the row's classes) */
export type Disposition = 'passthrough' | 'emulate' | 'deny' | 'by argument';
/** tsvisor's support level (syscall-tables/syscalls.json) */
export type Support = 'full' | 'partial' | 'none';
/** gVisor's published status (syscall-tables/gvisor.json); 'unknown' for a number gVisor's table does not name */
export type GvisorStatus = 'full' | 'partial' | 'unsupported' | 'unimplemented' | 'unknown';

/** What the calls of a row did. */
export interface Outcome {
  calls: number;
  /** calls that returned an error */
  errors: number;
  /** errno name -> calls that failed with it */
  errnos: Record<string, number>;
  /**
   * Nanoseconds spent in the calls of `timed`: for a passthrough call the
   * host kernel's time (raw_syscalls entry to exit), for a call the Sentry
   * answered its time in the Sentry as the guest saw it (trap to answer).
   */
  timeNs: number;
  /** how many of `calls` were timed (calls denied by the filter, exit, exit_group and execs are not) */
  timed: number;
}

/** One argument of a class: `(args[index] & mask) == value` (a seccomp SCMP_CMP_MASKED_EQ condition). */
export interface ArgCondition {
  index: number;
  value: number;
  mask: number;
}

/** The calls of one syscall with one argument class, for the calls whose support depends on an argument. */
export interface ArgClassRow extends Outcome {
  /** what the class is: 'request' (ioctl), 'command' (fcntl, prctl, arch_prctl), 'flags' (clone, open, openat), 'family/type/protocol' (socket, socketpair), 'advice' (madvise), 'level/option' (setsockopt, getsockopt) */
  kind: string;
  /** decoded, e.g. 'TCGETS', 'AF_INET/SOCK_STREAM/0', 'O_RDONLY|O_DIRECTORY' */
  name: string;
  /** the argument values that make the class: every call of the class satisfies all of them */
  args: ArgCondition[];
  /** what tsvisor does with calls of this class (the table's rules applied) */
  disposition: 'passthrough' | 'emulate' | 'deny';
  tsvisor: Support;
  /** the rule of syscall-tables/ that decided, when one did: its `why` */
  rule?: string;
}

export interface SyscallRow extends Outcome {
  name: string;
  nr: number;
  disposition: Disposition;
  tsvisor: Support;
  gvisor: GvisorStatus;
  /** tsvisor's note on the call (syscall-tables/' notes) */
  note: string;
  /** the calls split by argument class (calls whose support depends on an argument only); their sum is the row's */
  classes?: ArgClassRow[];
}

export interface ExecutableReport extends Outcome {
  path: string;
  processes: number;
  syscalls: SyscallRow[];
}

export interface ProcessReport extends Outcome {
  /** pid in the sandbox (-1: unknown) */
  pid: number;
  parentPid: number | null;
  /** the executables the process ran, in order */
  executables: string[];
  syscalls: SyscallRow[];
}

/** Something the program used that a runtime does not support, or supports partially. */
export interface VerdictItem {
  syscall: string;
  nr: number;
  /** the argument class's name, when support depends on it */
  class?: string;
  /** the runtime's support of the call (or class) */
  support: 'partial' | 'none' | 'unsupported' | 'unimplemented' | 'unknown';
  calls: number;
  errors: number;
  errnos: Record<string, number>;
  /** what happened in this run, in one sentence, e.g. '12 calls, every one failed (ENOSYS 12); the program still exited 0' */
  observed: string;
  /** why: tsvisor's note or rule; for gVisor its status and what gVisor leaves out (syscall-tables/gvisor.json's note, in tsvisor's words) */
  note: string;
  /** for gVisor: its compatibility page's entry for the call */
  link?: string;
  /** how much it matters, higher first: not supported above partial, then more calls (log scale) above fewer */
  weight: number;
}

/** A call (or argument class) the audited profile would have refused (audit.ts). */
export interface AuditItem extends Outcome {
  syscall: string;
  nr: number;
  /** the argument class, when the report splits the call by one */
  class?: string;
  /** 'blocked': the profile refuses these calls; 'depends': it refuses some calls of the kind, by arguments coverage does not record */
  verdict: 'blocked' | 'depends';
  /** what the calls would have got, e.g. 'EPERM', 'SIGSYS', 'process killed'; for 'depends' the possible answers, 'allowed' among them */
  answer: string;
}

/** --audit PROFILE: the calls of the run the profile would have refused (none was refused). */
export interface Audit {
  /** the profile, as the user named it (and how it was read) */
  profile: string;
  /** blocked items first, then by calls */
  items: AuditItem[];
}

export interface Verdict {
  /** 'yes': everything used is fully supported; 'partial': some of it partially; 'no': something used is not supported */
  answer: 'yes' | 'partial' | 'no';
  /** one line for people */
  summary: string;
  /** ranked, most important first */
  items: VerdictItem[];
}

export interface Report {
  schema: typeof SCHEMA_VERSION;
  tool: { name: 'tsvisor'; version: string; gvisorTable: string };
  command: string[];
  exitStatus: number;
  /** a bound was reached (distinct rows, processes, execs of a process): some calls are missing or not attributed */
  truncated: boolean;
  totals: Outcome;
  /** all processes' calls by syscall, most calls first */
  syscalls: SyscallRow[];
  executables: ExecutableReport[];
  processes: ProcessReport[];
  verdicts: { gvisor: Verdict; tsvisor: Verdict };
  /** the --audit result; null without --audit */
  audit: Audit | null;
}

type Check = (v: unknown, at: string, out: string[]) => void;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const num: Check = (v, at, out) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) out.push(`${at}: not a number`);
};
const count: Check = (v, at, out) => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) out.push(`${at}: not a count`);
};
const str: Check = (v, at, out) => {
  if (typeof v !== 'string') out.push(`${at}: not a string`);
};
const bool: Check = (v, at, out) => {
  if (typeof v !== 'boolean') out.push(`${at}: not a boolean`);
};
const oneOf = (...xs: unknown[]): Check => (v, at, out) => {
  if (!xs.includes(v)) out.push(`${at}: not one of ${xs.join(', ')}`);
};
const optional = (c: Check): Check => (v, at, out) => {
  if (v !== undefined) c(v, at, out);
};
const nullable = (c: Check): Check => (v, at, out) => {
  if (v !== null) c(v, at, out);
};
const arrayOf = (c: Check): Check => (v, at, out) => {
  if (!Array.isArray(v)) out.push(`${at}: not an array`);
  else v.forEach((x, i) => c(x, `${at}[${i}]`, out));
};
const recordOf = (c: Check): Check => (v, at, out) => {
  if (!isObj(v)) out.push(`${at}: not an object`);
  else for (const [k, x] of Object.entries(v)) c(x, `${at}.${k}`, out);
};
/** An object with exactly these fields (optional ones may be absent): an unknown field is an error, so the schema stays documented. */
const object = (fields: Record<string, Check>): Check => (v, at, out) => {
  if (!isObj(v)) {
    out.push(`${at}: not an object`);
    return;
  }
  for (const [k, c] of Object.entries(fields)) c(v[k], `${at}.${k}`, out);
  for (const k of Object.keys(v)) if (!(k in fields)) out.push(`${at}.${k}: not in the schema`);
};

const outcome = { calls: count, errors: count, errnos: recordOf(count), timeNs: count, timed: count };
const support = oneOf('full', 'partial', 'none');
/** Each object's own fields (the ones marked "Outcome plus" also have Outcome's). */
const argClassOwn = {
  kind: str,
  name: str,
  args: arrayOf(object({ index: count, value: num, mask: num })),
  disposition: oneOf('passthrough', 'emulate', 'deny'),
  tsvisor: support,
  rule: optional(str),
};
const syscallOwn = {
  name: str,
  nr: num,
  disposition: oneOf('passthrough', 'emulate', 'deny', 'by argument'),
  tsvisor: support,
  gvisor: oneOf('full', 'partial', 'unsupported', 'unimplemented', 'unknown'),
  note: str,
  classes: optional(arrayOf(object({ ...outcome, ...argClassOwn }))),
};
const syscallRow = object({ ...outcome, ...syscallOwn });
const executableOwn = { path: str, processes: count, syscalls: arrayOf(syscallRow) };
const processOwn = { pid: num, parentPid: nullable(num), executables: arrayOf(str), syscalls: arrayOf(syscallRow) };
const verdictItem = {
  syscall: str,
  nr: num,
  class: optional(str),
  support: oneOf('partial', 'none', 'unsupported', 'unimplemented', 'unknown'),
  calls: count,
  errors: count,
  errnos: recordOf(count),
  observed: str,
  note: str,
  link: optional(str),
  weight: num,
};
const verdictOwn = { answer: oneOf('yes', 'partial', 'no'), summary: str, items: arrayOf(object(verdictItem)) };
const verdict = object(verdictOwn);
const auditItem = {
  syscall: str,
  nr: num,
  class: optional(str),
  verdict: oneOf('blocked', 'depends'),
  answer: str,
};
const auditOwn = { profile: str, items: arrayOf(object({ ...outcome, ...auditItem })) };
const reportOwn = {
  schema: oneOf(SCHEMA_VERSION),
  tool: object({ name: oneOf('tsvisor'), version: str, gvisorTable: str }),
  command: arrayOf(str),
  exitStatus: num,
  truncated: bool,
  totals: object(outcome),
  syscalls: arrayOf(syscallRow),
  executables: arrayOf(object({ ...outcome, ...executableOwn })),
  processes: arrayOf(object({ ...outcome, ...processOwn })),
  verdicts: object({ gvisor: verdict, tsvisor: verdict }),
  audit: nullable(object(auditOwn)),
};
const report = object(reportOwn);

/** The field names of each object of the schema, for the test that docs/coverage-schema.md documents every one. */
export const SCHEMA_FIELDS: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  Object.entries({
    Report: reportOwn, Outcome: outcome, SyscallRow: syscallOwn, ArgClassRow: argClassOwn,
    ExecutableReport: executableOwn, ProcessReport: processOwn, Verdict: verdictOwn, VerdictItem: verdictItem,
    Audit: auditOwn, AuditItem: auditItem,
  }).map(([k, v]) => [k, Object.keys(v)]),
);

/** Where `v` departs from the schema: one message per problem, none for a valid report. */
export function validateReport(v: unknown): string[] {
  const out: string[] = [];
  if (isObj(v) && typeof v.schema === 'number' && v.schema !== SCHEMA_VERSION) return [`schema version ${v.schema}: this tsvisor reads version ${SCHEMA_VERSION}`];
  report(v, 'report', out);
  return out;
}
