// Typed view of syscall-tables/: the single source of truth for every x86_64
// system call (number, name, argument signature, tsvisor's disposition and
// support) and gVisor's published status for comparison. The schema is
// described in syscall-tables/README.md.
//
// This module must stay free of the native addon: it only reads JSON.
import type { FileOp } from '../sentry/spec.js';
import { NUMBERS, readTable } from './numbers.js';

export { NUMBERS };

export type Disposition = 'passthrough' | 'emulate' | 'deny';
export type Trap = 'none' | 'notify' | 'trace';
export type Support = 'full' | 'partial' | 'none';
export type RuleAction = 'allow' | 'notify' | 'trace' | 'deny';
export type GvisorStatus = 'full' | 'partial' | 'unsupported' | 'unimplemented';
/** What a path call reports to an access observer (src/sentry/spec.ts FileOp); 'open': by its flags and outcome. */
export type AccessOp = FileOp | 'open';
/** Every AccessOp, for checking the table. */
export const ACCESS_OPS: readonly AccessOp[] = ['open', 'read', 'write', 'create', 'delete', 'rename', 'attr', 'stat', 'list', 'readlink', 'access', 'exec'];

/**
 * An argument condition checked by the BPF program before the disposition
 * applies (first match wins). `mask` matches when `(arg & mask) != 0`;
 * `equals` matches when `arg == equals` (64-bit compare); `notIn` (32-bit
 * arguments only) matches when `arg` is none of the values, which makes an
 * allow-list. Exactly one of the three is present.
 */
export interface Rule {
  arg: number;
  mask?: number;
  equals?: number;
  notIn?: number[];
  action: RuleAction;
  /** errno name, for action 'deny' */
  errno?: string;
  /** what a matching call gets when it is not the row's (a Sentry handler that always refuses it: none); default none for deny, else the row's */
  support?: Support;
  why: string;
}

export interface SyscallEntry {
  nr: number;
  name: string;
  /** the kernel's SYSCALL_DEFINE parameters as C declarations, e.g. "int dfd" */
  args: string[];
  disposition: Disposition;
  /** how the Sentry sees the call; defaulted when the JSON omits it */
  trap: Trap;
  /** for 'deny': the errno name returned */
  errno?: string;
  /** for a call that names a path (or lists a directory): what it reports as a FileAccess */
  access?: AccessOp;
  rules?: Rule[];
  support: Support;
  notes: string;
  /** test files (from the repository root) comparing the call against Linux */
  tests: string[];
}


/** The trap a disposition implies when an entry does not name one. */
export function defaultTrap(disposition: Disposition): Trap {
  return disposition === 'emulate' ? 'notify' : 'none';
}

type RawEntry = Omit<SyscallEntry, 'trap'> & { trap?: Trap };

function freezeEntry(raw: RawEntry): SyscallEntry {
  const e: SyscallEntry = { ...raw, trap: raw.trap ?? defaultTrap(raw.disposition) };
  Object.freeze(e.args);
  Object.freeze(e.tests);
  if (e.rules) {
    e.rules.forEach((r) => {
      if (r.notIn) Object.freeze(r.notIn);
      Object.freeze(r);
    });
    Object.freeze(e.rules);
  }
  return Object.freeze(e);
}

/** Every syscall of syscall-tables/syscalls.json, sorted by number. */
export const SYSCALLS: readonly SyscallEntry[] = Object.freeze(
  (readTable('syscalls.json') as RawEntry[]).map(freezeEntry).sort((a, b) => a.nr - b.nr),
);

/** Entries by syscall name. */
export const byName: ReadonlyMap<string, SyscallEntry> = new Map(SYSCALLS.map((e) => [e.name, e]));

/** Entries indexed by syscall number (holes are undefined). */
export const byNumber: readonly (SyscallEntry | undefined)[] = (() => {
  const a: (SyscallEntry | undefined)[] = [];
  for (const e of SYSCALLS) a[e.nr] = e;
  // fill holes explicitly so that iteration sees them as undefined
  for (let i = 0; i < a.length; i++) if (!(i in a)) a[i] = undefined;
  return Object.freeze(a);
})();

interface GvisorFile {
  source: string;
  amd64: Record<string, GvisorStatus>;
  /** what gVisor leaves out of each partial or unsupported call, in tsvisor's words (gvisor-notes.json) */
  notes: Record<string, string>;
}

let gvisor: GvisorFile | null | undefined;

function loadGvisor(): GvisorFile | null {
  if (gvisor === undefined) {
    try {
      gvisor = readTable('gvisor.json') as GvisorFile;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      gvisor = null;
    }
  }
  return gvisor;
}

/** The gVisor revision gvisor.json was read from, or undefined without it. */
export function gvisorSource(): string | undefined {
  return loadGvisor()?.source;
}

/**
 * gVisor's published amd64 status for a syscall: 'full' (Supported),
 * 'partial' (PartiallySupported), 'unsupported' (returns an error) or
 * 'unimplemented' (absent from gVisor's table, or unknown here).
 */
export function gvisorStatus(name: string): GvisorStatus {
  const g = loadGvisor();
  if (!g) return 'unimplemented';
  return Object.prototype.hasOwnProperty.call(g.amd64, name) ? g.amd64[name]! : 'unimplemented';
}

/** What gVisor leaves out of a call it supports partially or not at all (syscall-tables/gvisor-notes.json), or undefined. */
export function gvisorNote(name: string): string | undefined {
  const g = loadGvisor();
  return g && Object.prototype.hasOwnProperty.call(g.notes, name) ? g.notes[name] : undefined;
}

/** gVisor's compatibility page for amd64; a call's entry is its anchor. */
export const GVISOR_PAGE = 'https://gvisor.dev/docs/user_guide/compatibility/linux/amd64/';

/** The call's entry on gVisor's compatibility page, for a call gVisor's table lists (not an unimplemented one). */
export function gvisorLink(name: string): string | undefined {
  const s = gvisorStatus(name);
  return s === 'unimplemented' ? undefined : `${GVISOR_PAGE}#${name}`;
}
