// --fail-on KIND,...: what turns a passing suite into a failing status.
import type { TestRunReport } from './report.js';

export const FAIL_ON_KINDS = ['writes-outside-allowed', 'network', 'secrets', 'denials', 'leaked-processes'] as const;
export type FailOnKind = (typeof FAIL_ON_KINDS)[number];

/**
 * tsvisor test's status when the suite passed but a --fail-on kind occurred
 * (a suite that failed keeps its own status: that failure comes first).
 * Chosen clear of test runners' own (pytest 0-5, make 2, 124-127 timeout's
 * and the shell's).
 */
export const FAIL_ON_STATUS = 120;

/** A --fail-on value that is not a list of known kinds. */
export class FailOnError extends Error {}

/** "network,secrets" (or "all") as kinds; throws FailOnError naming an unknown one. */
export function parseFailOn(values: readonly string[]): FailOnKind[] {
  const out = new Set<FailOnKind>();
  for (const v of values) {
    for (const raw of v.split(',')) {
      const k = raw.trim();
      if (k === '') continue;
      if (k === 'all') FAIL_ON_KINDS.forEach((x) => out.add(x));
      else if ((FAIL_ON_KINDS as readonly string[]).includes(k)) out.add(k as FailOnKind);
      else throw new FailOnError(`--fail-on ${v}: unknown kind "${k}" (kinds: ${FAIL_ON_KINDS.join(', ')}, or all)`);
    }
  }
  return [...out];
}

/** How many times `kind` occurred in the run, and one occurrence in words. */
export function occurrences(r: TestRunReport, kind: FailOnKind): { count: number; example: string } {
  switch (kind) {
    case 'writes-outside-allowed': {
      // What would have changed the host: the overlay's changes, or, before they are known, the events' writes kept in memory.
      const list = r.writes.changes ? r.writes.changes.map((c) => `${c.kind} ${c.path}`) : r.writes.paths.filter((w) => w.target === 'memory').map((w) => `wrote ${w.path}`);
      return { count: list.length, example: list[0] ?? '' };
    }
    case 'network': {
      const ext = r.network.filter((n) => n.scope === 'external');
      const n = ext[0];
      return { count: ext.length, example: n ? `${n.call} ${n.protocol} ${n.address}${n.port === null ? '' : `:${n.port}`} by ${n.process ?? `pid ${n.pid}`} (${n.outcome})` : '' };
    }
    case 'secrets': {
      const s = r.denials.filter((d) => d.secret);
      return { count: s.length, example: s[0] ? `${s[0].what} by ${s[0].process ?? `pid ${s[0].pid}`}` : '' };
    }
    case 'denials':
      return { count: r.denials.length, example: r.denials[0] ? `${r.denials[0].what} (${r.denials[0].rule})` : '' };
    case 'leaked-processes': {
      const l = r.processes.filter((p) => p.leaked);
      return { count: l.length, example: l[0] ? `pid ${l[0].pid} ${(l[0].argv ?? [l[0].exe ?? '?']).join(' ')}` : '' };
    }
  }
}

/**
 * Fills in r.failOn.triggered for `kinds` and returns tsvisor test's status:
 * the suite's own, or FAIL_ON_STATUS when it passed and a kind occurred.
 */
export function applyFailOn(r: TestRunReport, kinds: readonly FailOnKind[]): number {
  r.failOn = { kinds: [...kinds], triggered: [] };
  for (const kind of kinds) {
    const o = occurrences(r, kind);
    if (o.count > 0) r.failOn.triggered.push({ kind, ...o });
  }
  r.status = r.suite.status === 0 && r.failOn.triggered.length ? FAIL_ON_STATUS : r.status;
  return r.status;
}
