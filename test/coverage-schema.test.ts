// docs/coverage-schema.md documents the schema the validator checks
// (src/coverage/schema.ts): every field of every object is named in its
// section, and every field a section's tables name exists.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type Report, SCHEMA_FIELDS, SCHEMA_VERSION, validateReport } from '../src/coverage/schema.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const doc = fs.readFileSync(path.join(root, 'docs/coverage-schema.md'), 'utf8');
/** Sections by their "## " heading. */
const sections = doc.split(/\n(?=## )/).map((s) => ({ heading: s.split('\n')[0]!, text: s }));
/** Objects documented in another's section: VerdictItem in Verdict's, AuditItem in Audit's. */
const IN_SECTION: Record<string, string> = { VerdictItem: 'Verdict', AuditItem: 'Audit' };
/** The section documenting an object: its heading names it. */
const sectionOf = (name: string) => sections.find((s) => new RegExp(`^## .*\\b${IN_SECTION[name] ?? name}\\b`).test(s.heading));

describe('docs/coverage-schema.md', () => {
  it('names this version', () => {
    expect(doc.split('\n')[0]).toBe(`# Coverage report JSON schema (version ${SCHEMA_VERSION})`);
  });

  it.each(Object.entries(SCHEMA_FIELDS))('documents every field of %s', (name, fields) => {
    const section = sectionOf(name);
    expect(section, name).toBeDefined();
    const missing = fields.filter((f) => !section!.text.includes(`\`${f}\``));
    expect(missing).toEqual([]);
  });

  it('documents no field the schema does not have', () => {
    for (const s of sections) {
      const names = Object.keys(SCHEMA_FIELDS).filter((n) => sectionOf(n) === s);
      if (!names.length) continue;
      const known = new Set(names.flatMap((n) => SCHEMA_FIELDS[n]!));
      // rows of the tables headed "| field |": their first column's names
      const tables = s.text.split(/\n(?=\| field \|)/).slice(1).map((t) => t.split(/\n(?!\|)/)[0]!);
      if (!tables.length) continue;
      const documented = tables.flatMap((t) => t.split('\n').slice(2).flatMap((row) => [...(row.split('|')[1] ?? '').matchAll(/`(\w+)`/g)].map((m) => m[1]!)));
      expect(documented.length, s.heading).toBeGreaterThan(0);
      expect(documented.filter((f) => !known.has(f)), s.heading).toEqual([]);
    }
  });
});

describe('validateReport', () => {
  const outcome = { calls: 3, errors: 1, errnos: { EPERM: 1 }, timeNs: 0, timed: 0 };
  const verdict = { answer: 'yes', summary: 'every call used is fully supported', items: [] };
  const report = (audit: unknown): Report => ({
    schema: SCHEMA_VERSION, tool: { name: 'tsvisor', version: '0', gvisorTable: 'none' }, command: ['true'], exitStatus: 0, truncated: false,
    totals: outcome, syscalls: [], executables: [], processes: [], verdicts: { gvisor: verdict, tsvisor: verdict }, audit,
  } as Report);

  it('takes a report without an audit (null) and one with blocked and depends items', () => {
    expect(validateReport(report(null))).toEqual([]);
    expect(validateReport(report({
      profile: 'p.json',
      items: [
        { syscall: 'openat', nr: 257, class: 'O_RDONLY|O_DIRECTORY', verdict: 'blocked', answer: 'EPERM', ...outcome },
        { syscall: 'write', nr: 1, verdict: 'depends', answer: 'EPERM or allowed', ...outcome },
      ],
    }))).toEqual([]);
  });

  it('refuses a report without the audit field, a bad verdict, an item without its counts, an unknown field, or version 2', () => {
    const { audit: _, ...noAudit } = report(null);
    expect(validateReport(noAudit)).toEqual(['report.audit: not an object']);
    const item = { syscall: 'pipe2', nr: 293, verdict: 'refused', answer: 'EPERM', ...outcome };
    expect(validateReport(report({ profile: 'p.json', items: [item] }))).toEqual(['report.audit.items[0].verdict: not one of blocked, depends']);
    const { calls: __, ...noCalls } = { ...item, verdict: 'blocked' };
    expect(validateReport(report({ profile: 'p.json', items: [noCalls] }))).toEqual(['report.audit.items[0].calls: not a count']);
    expect(validateReport(report({ profile: 'p.json', items: [], extra: 1 }))).toEqual(['report.audit.extra: not in the schema']);
    expect(validateReport({ ...report(null), schema: 2 })).toEqual([`schema version 2: this tsvisor reads version ${SCHEMA_VERSION}`]);
  });
});
