// docs/coverage-schema.md documents the schema the validator checks
// (src/coverage/schema.ts): every field of every object is named in its
// section, and every field a section's tables name exists.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SCHEMA_FIELDS, SCHEMA_VERSION } from '../src/coverage/schema.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const doc = fs.readFileSync(path.join(root, 'docs/coverage-schema.md'), 'utf8');
/** Sections by their "## " heading. */
const sections = doc.split(/\n(?=## )/).map((s) => ({ heading: s.split('\n')[0]!, text: s }));
/** The section documenting an object: its heading names it (VerdictItem is in Verdict's). */
const sectionOf = (name: string) => sections.find((s) => new RegExp(`^## .*\\b${name === 'VerdictItem' ? 'Verdict' : name}\\b`).test(s.heading));

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
