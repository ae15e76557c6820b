// Consistency of syscall-tables/ (see syscall-tables/README.md): numbers.json
// against the kernel header, syscalls.json against numbers.json and its
// schema, gvisor.json against numbers.json, and the typed loader.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERRNO, errnoName } from '../src/abi/errno.js';
import { EXEC_REWRITE_MAGIC } from '../src/abi/linux.js';
import { ACCESS_OPS, GVISOR_PAGE, SYSCALLS, byName, byNumber, gvisorLink, gvisorNote, gvisorStatus } from '../src/syscalls/table.js';
import { renderSyscalls } from '../src/cli/commands/syscalls.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tables = path.join(root, 'syscall-tables');
const readJson = (f: string): unknown => JSON.parse(fs.readFileSync(path.join(tables, f), 'utf8'));

const HEADER = '/usr/include/x86_64-linux-gnu/asm/unistd_64.h';
const numbers = readJson('numbers.json') as Record<string, number>;
const raw = readJson('syscalls.json') as Record<string, unknown>[];
const gvisorPath = path.join(tables, 'gvisor.json');

const DISPOSITIONS = ['passthrough', 'emulate', 'deny'];
const TRAPS = ['none', 'notify', 'trace'];
const SUPPORT = ['full', 'partial', 'none'];
const ACTIONS = ['allow', 'notify', 'trace', 'deny'];
const GVISOR = ['full', 'partial', 'unsupported', 'unimplemented'];
const KEYS = ['nr', 'name', 'args', 'disposition', 'trap', 'access', 'errno', 'rules', 'support', 'notes', 'tests'];
const RULE_KEYS = ['arg', 'mask', 'equals', 'notIn', 'action', 'errno', 'support', 'why'];
const isErrno = (s: unknown): boolean => typeof s === 'string' && Object.prototype.hasOwnProperty.call(ERRNO, s);

describe('numbers.json', () => {
  it.skipIf(!fs.existsSync(HEADER))('matches the kernel header', () => {
    const want: [string, number][] = [];
    for (const line of fs.readFileSync(HEADER, 'utf8').split('\n')) {
      const m = /^\s*#\s*define\s+__NR_(\w+)\s+(\d+)\s*$/.exec(line);
      if (m) want.push([m[1]!, Number(m[2])]);
    }
    want.sort((a, b) => a[1] - b[1]);
    expect(Object.entries(numbers)).toEqual(want);
  });

  it('is sorted by number, with distinct numbers', () => {
    const nrs = Object.values(numbers);
    expect(nrs).toEqual([...nrs].sort((a, b) => a - b));
    expect(new Set(nrs).size).toBe(nrs.length);
    for (const n of nrs) expect(Number.isInteger(n) && n >= 0 && n < 0x40000000).toBe(true);
  });
});

describe('syscalls.json', () => {
  it('has exactly one entry per syscall number and agrees on names', () => {
    const seen = new Map<number, string>();
    for (const e of raw) {
      expect(seen.has(e.nr as number), `duplicate nr ${String(e.nr)}`).toBe(false);
      seen.set(e.nr as number, e.name as string);
    }
    for (const [name, nr] of Object.entries(numbers)) expect(seen.get(nr), `entry for ${name} (${nr})`).toBe(name);
    expect(seen.size).toBe(Object.keys(numbers).length);
  });

  it('is sorted by number', () => {
    const nrs = raw.map((e) => e.nr as number);
    expect(nrs).toEqual([...nrs].sort((a, b) => a - b));
  });

  it('follows the schema', () => {
    for (const e of raw) {
      const where = `${String(e.name)}`;
      for (const k of Object.keys(e)) expect(KEYS, `${where}: unknown key ${k}`).toContain(k);
      expect(Number.isInteger(e.nr), where).toBe(true);
      expect(typeof e.name, where).toBe('string');
      expect(Array.isArray(e.args), where).toBe(true);
      const args = e.args as unknown[];
      expect(args.length, where).toBeLessThanOrEqual(6);
      for (const a of args) {
        expect(typeof a, where).toBe('string');
        // a C declaration: a type then a name
        expect(a as string, where).toMatch(/^[A-Za-z_][\w *]*[\s*][A-Za-z_]\w*$/);
        expect(a as string, where).not.toContain('__user');
      }
      expect(DISPOSITIONS, where).toContain(e.disposition);
      if (e.trap !== undefined) expect(TRAPS, where).toContain(e.trap);
      expect(SUPPORT, where).toContain(e.support);
      expect(typeof e.notes, where).toBe('string');
      expect((e.notes as string).trim().length, `${where}: notes`).toBeGreaterThan(0);
      expect(Array.isArray(e.tests), where).toBe(true);
      for (const t of e.tests as unknown[]) expect(typeof t, where).toBe('string');
    }
  });

  it('gives every emulated call that names a path its FileOp for access observers, and no other call one', () => {
    // A path parameter by the kernel's own names (readlink's buffer is not one).
    const PATH_ARG = /char \*(filename|pathname|path|oldname|newname)$/;
    for (const e of raw) {
      const where = String(e.name);
      if (e.access !== undefined) {
        expect(ACCESS_OPS, `${where}: access ${String(e.access)}`).toContain(e.access);
        expect(e.disposition, `${where}: access on a call the Sentry never sees`).toBe('emulate');
      }
      const namesPath = (e.args as string[]).some((a) => PATH_ARG.test(a));
      if (e.disposition === 'emulate' && namesPath) expect(e.access, `${where}: a path call without access`).toBeDefined();
    }
  });

  it('gives every deny a known errno and support none, and no errno elsewhere', () => {
    for (const e of raw) {
      if (e.disposition === 'deny') {
        expect(isErrno(e.errno), `${String(e.name)}: errno ${String(e.errno)}`).toBe(true);
        expect(e.support, String(e.name)).toBe('none');
        expect(e.trap ?? 'none', String(e.name)).toBe('none');
        expect(e.rules, `${String(e.name)}: rules on a denied call never apply`).toBeUndefined();
      } else {
        expect(e.errno, `${String(e.name)}: errno without deny`).toBeUndefined();
      }
    }
  });

  it('has well-formed rules', () => {
    for (const e of raw) {
      if (e.rules === undefined) continue;
      const where = String(e.name);
      expect(Array.isArray(e.rules), where).toBe(true);
      const rules = e.rules as Record<string, unknown>[];
      expect(rules.length, where).toBeGreaterThan(0);
      for (const r of rules) {
        for (const k of Object.keys(r)) expect(RULE_KEYS, `${where}: unknown rule key ${k}`).toContain(k);
        expect(Number.isInteger(r.arg) && (r.arg as number) >= 0 && (r.arg as number) <= 5, `${where}: arg`).toBe(true);
        const kinds = [r.mask, r.equals, r.notIn].filter((x) => x !== undefined);
        expect(kinds.length, `${where}: exactly one of mask/equals/notIn`).toBe(1);
        const values = (r.notIn ?? [r.mask ?? r.equals]) as number[];
        expect(Array.isArray(values) && values.length > 0 && values.length <= 255, `${where}: 1..255 values`).toBe(true);
        for (const v of values) {
          const max = r.notIn ? 2 ** 32 : 2 ** 53;
          expect(Number.isInteger(v) && v >= 0 && v < max, `${where}: value ${v} out of range`).toBe(true);
        }
        const v = values[0]!;
        if (r.mask !== undefined) expect(v, `${where}: an empty mask never matches`).toBeGreaterThan(0);
        expect(ACTIONS, where).toContain(r.action);
        if (r.action === 'deny') expect(isErrno(r.errno), `${where}: rule errno ${String(r.errno)}`).toBe(true);
        else expect(r.errno, `${where}: errno on a non-deny rule`).toBeUndefined();
        if (r.support !== undefined) expect(['full', 'partial', 'none'], `${where}: rule support ${String(r.support)}`).toContain(r.support);
        expect(typeof r.why === 'string' && r.why.trim().length > 0, `${where}: why`).toBe(true);
      }
    }
  });

  it('claims full support only with tests that exist and exercise the call', () => {
    // A test id is "FILE > NAME": a vitest file and the name of a test in it.
    // The conformance programs' tests (test/e2e/calls.test.ts > calls-X) also
    // prove at run time that the native run made the call and that tsvisor
    // gave the same results; a full row must name at least one of them.
    const CALLS = 'test/e2e/calls.test.ts';
    for (const e of raw) {
      const name = String(e.name);
      const tests = e.tests as string[];
      if (e.support === 'full') {
        expect(tests.some((t) => t.startsWith(`${CALLS} > `)), `${name}: full support needs a ${CALLS} test`).toBe(true);
      }
      for (const t of tests) {
        const m = /^(\S+\.test\.ts) > (.+)$/.exec(t);
        expect(m, `${name}: test id ${t} is "FILE > NAME"`).not.toBeNull();
        const [, file, test] = m!;
        expect(fs.existsSync(path.join(root, file!)), `${name}: ${file} exists`).toBe(true);
        if (file === CALLS) {
          const prog = path.join(root, 'test/programs', `${test}.c`);
          expect(fs.existsSync(prog), `${name}: ${prog} exists`).toBe(true);
          // a case macro for the call: T(name, ...), TOK(name, ...) or N(name, ...)
          expect(fs.readFileSync(prog, 'utf8'), `${test}.c has cases for ${name}`).toMatch(new RegExp(`\\b(T|TOK|N)\\(${name}, "`));
        } else {
          const src = fs.readFileSync(path.join(root, file!), 'utf8');
          expect(src, `${file} has a test named ${test}`).toContain(test);
          expect(src, `${file} names ${name}`).toContain(name);
        }
      }
    }
  });

  it('is what tsvisor syscalls prints: support and evidence for each call', () => {
    const out = execFileSync(path.join(root, 'bin/tsvisor'), ['syscalls'], { encoding: 'utf8' }).split('\n');
    expect(out[0]).toMatch(/^ +NR +NAME +DISPOSITION +TRAP +TSVISOR +GVISOR +EVIDENCE$/);
    const row = (name: string): string[] => out.find((l) => l.split(/ +/)[2] === name)!.trim().split(/ +/);
    for (const e of raw) {
      const cols = row(String(e.name));
      expect(cols[4], String(e.name)).toBe(e.disposition === 'deny' ? `none:${String(e.errno)}` : e.support);
      const shown = (e.tests as string[]).map((t) => t.replace(/^test\/e2e\/calls\.test\.ts > /, '')).join(', ') || '-';
      expect(cols.slice(6).join(' '), String(e.name)).toBe(shown);
    }
    const full = raw.filter((e) => e.support === 'full').length;
    expect(out.find((l) => l.includes('calls full.'))).toMatch(new RegExp(`^${full} of ${raw.length} calls full\\. `));
    for (const column of ['DISPOSITION', 'TRAP', 'TSVISOR', 'GVISOR']) expect(out.some((l) => l.startsWith(`${column} `)), `legend of ${column}`).toBe(true);
  });

  it('tsvisor syscalls NAME|NUMBER...: those rows in that order, with their notes; an unknown name is a usage error', () => {
    const out = execFileSync(path.join(root, 'bin/tsvisor'), ['syscalls', 'openat', '0'], { encoding: 'utf8' }).split('\n');
    expect(out[1]).toMatch(/^ +257 +openat /);
    expect(out[2]).toMatch(/^ +0 +read /);
    expect(out[3]).toBe('');
    for (const name of ['openat', 'read']) expect(out).toContain(`${name}: ${String(raw.find((e) => e.name === name)!.notes)}`);
    // gVisor supports both fully: no gVisor line; for one it does not, what gVisor leaves out, with its page
    expect(out.filter((l) => l.startsWith('gVisor ('))).toEqual([]);
    const madvise = execFileSync(path.join(root, 'bin/tsvisor'), ['syscalls', 'madvise'], { encoding: 'utf8' }).split('\n');
    expect(madvise).toContain(`gVisor (partial): ${gvisorNote('madvise')} ${GVISOR_PAGE}#madvise`);
    const bad = spawnSync(path.join(root, 'bin/tsvisor'), ['syscalls', 'opneat'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^tsvisor: no system call "opneat" on x86_64/);
  });

  it('is what docs/syscalls.md shows (regenerate it with tsvisor syscalls --format markdown)', () => {
    expect(fs.readFileSync(path.join(root, 'docs/syscalls.md'), 'utf8')).toBe(renderSyscalls('markdown'));
  });

  it('never passes through a call that takes a path', () => {
    const pathArg = /\bchar \*(filename|pathname|path|oldname|newname|library|specialfile|dev_name|dir_name|new_root|put_old|from_pathname|to_pathname)$/;
    for (const e of raw) {
      if (e.disposition !== 'passthrough') continue;
      for (const a of e.args as string[]) expect(a, `${String(e.name)} takes a path`).not.toMatch(pathArg);
    }
  });

  it('marks the rewritten execveat with the Sentry\'s marker', () => {
    const rules = byName.get('execveat')!.rules ?? [];
    expect(rules).toContainEqual(expect.objectContaining({ arg: 5, equals: EXEC_REWRITE_MAGIC, action: 'notify' }));
    expect(EXEC_REWRITE_MAGIC).toBe(0x7473766973);
  });
});

describe('syscall table loader', () => {
  it('loads every entry with a trap', () => {
    expect(SYSCALLS.length).toBe(Object.keys(numbers).length);
    for (const e of SYSCALLS) {
      expect(TRAPS).toContain(e.trap);
      const r = raw.find((x) => x.nr === e.nr)!;
      if (r.trap === undefined) expect(e.trap).toBe(e.disposition === 'emulate' ? 'notify' : 'none');
      else expect(e.trap).toBe(r.trap);
    }
  });

  it('indexes by name and number', () => {
    for (const [name, nr] of Object.entries(numbers)) {
      expect(byName.get(name)?.nr).toBe(nr);
      expect(byNumber[nr]?.name).toBe(name);
    }
    expect(byNumber[335]).toBeUndefined();
    expect(byName.get('openat')?.args).toEqual(['int dfd', 'const char *filename', 'int flags', 'umode_t mode']);
  });

  it('maps errno numbers back to names', () => {
    expect(ERRNO.EPERM).toBe(1);
    expect(ERRNO.ENOSYS).toBe(38);
    expect(errnoName(11)).toBe('EAGAIN');
    expect(errnoName(-2)).toBe('ENOENT');
    expect(errnoName(35)).toBe('EDEADLK');
  });
});

describe('gvisor.json', () => {
  it.skipIf(!fs.existsSync(gvisorPath))('names only known syscalls, with valid statuses', () => {
    const g = readJson('gvisor.json') as { source: string; amd64: Record<string, string> };
    expect(g.source).toMatch(/^google\/gvisor [0-9a-f]{40} \S+ pkg\/sentry\/syscalls\/linux\/linux64\.go$/);
    for (const [name, status] of Object.entries(g.amd64)) {
      expect(numbers, `gvisor.json names ${name}`).toHaveProperty(name);
      expect(GVISOR).toContain(status);
      expect(gvisorStatus(name)).toBe(status);
    }
  });

  it('has a note, in a sentence of tsvisor\'s, for every call gVisor supports partially or not at all, and for no other', () => {
    const g = readJson('gvisor.json') as { amd64: Record<string, string>; notes: Record<string, string> };
    const needs = Object.keys(g.amd64).filter((n) => g.amd64[n] === 'partial' || g.amd64[n] === 'unsupported');
    expect(needs.length).toBeGreaterThan(100);
    expect(Object.keys(g.notes).sort()).toEqual(needs.sort());
    for (const name of needs) {
      expect(g.notes[name], name).toMatch(/^[A-Z_].{8,200}\.$/);
      expect(gvisorNote(name)).toBe(g.notes[name]);
      expect(gvisorLink(name)).toBe(`${GVISOR_PAGE}#${name}`);
    }
    for (const name of Object.keys(g.amd64).filter((n) => !needs.includes(n))) expect(gvisorNote(name), name).toBeUndefined();
    // no link to a call gVisor's table (and page) does not list
    for (const name of Object.keys(g.amd64).filter((n) => g.amd64[n] === 'unimplemented')) expect(gvisorLink(name), name).toBeUndefined();
  });

  it('holds gvisor-notes.json\'s notes as gen-gvisor.mjs merges them, and the generator refuses a missing or stray note', async () => {
    const { mergeNotes } = await import('../syscall-tables/gen-gvisor.mjs');
    const g = readJson('gvisor.json') as { amd64: Record<string, string>; notes: Record<string, string> };
    const hand = (readJson('gvisor-notes.json') as { notes: Record<string, string> }).notes;
    expect(mergeNotes(g.amd64, hand)).toEqual(g.notes);
    const { madvise: _, ...withoutOne } = hand;
    expect(() => mergeNotes(g.amd64, withoutOne)).toThrow('gvisor-notes.json has no note for madvise (partial or unsupported in gVisor)');
    expect(() => mergeNotes(g.amd64, { ...hand, read: 'Fine.' })).toThrow('gvisor-notes.json has notes for read (full): only partial and unsupported calls take one');
  });
});
