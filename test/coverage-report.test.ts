// The verdict "runs on gVisor?" carries, for each call gVisor supports
// partially or not at all, what gVisor leaves out (syscall-tables/gvisor.json's
// notes) and a link to the call on gVisor's compatibility page, in every
// format: JSON, terminal, HTML, Markdown. Reports are built from counts as
// the collector gives them, one per call of each gVisor status. clone3's and
// openat2's argument classes (read from memory) are named from their struct
// and give a generated seccomp profile no condition.
import { describe, expect, it } from 'vitest';
import { OPEN_CLASS_MASK, decodeClass, packClass } from '../src/coverage/arg-classes.js';
import type { CallCount, ProcessInfo } from '../src/coverage/collector.js';
import { seccompProfile } from '../src/coverage/seccomp-profile.js';
import { renderHtml } from '../src/coverage/html.js';
import { renderMarkdown } from '../src/coverage/markdown.js';
import { buildReport, formatReport } from '../src/coverage/report.js';
import { validateReport } from '../src/coverage/schema.js';
import { GVISOR_PAGE, NUMBERS, gvisorNote, gvisorStatus } from '../src/syscalls/table.js';

const processes = new Map<number, ProcessInfo>([[100, { tgid: 100, pid: 1, parent: null, exes: ['/bin/prog'] }]]);
const count = (name: string, calls: number, errno = 0, cls: bigint | null = null): CallCount => ({ tgid: 100, gen: 0, nr: NUMBERS[name]!, errno, cls, calls, ns: 0, timed: 0 });

/** The packed class of a call whose class is in a struct: `struct` holds the struct's u64 fields by offset. */
const memClass = (name: string, struct: Record<number, bigint>) => packClass(NUMBERS[name]!, () => 0, (_, off) => Number(BigInt.asUintN(32, (struct[off & ~7] ?? 0n) >> BigInt(8 * (off & 7)))))!;

/** Calls of each status gVisor gives: partial, unsupported (ENOSYS here), unimplemented, full. */
const USED = { madvise: 'partial', preadv2: 'partial', copy_file_range: 'unsupported', setfsuid: 'unsupported', openat2: 'unimplemented', read: 'full' } as const;

describe('gVisor\'s notes in the verdicts', () => {
  const report = buildReport(['/bin/prog'], 0, [count('madvise', 3), count('preadv2', 2), count('copy_file_range', 1, 38), count('setfsuid', 1, 38), count('openat2', 4), count('read', 9)], processes, false, 'test');
  const items = report.verdicts.gvisor.items;

  it('are in the JSON: a partial or unsupported call\'s item has its note and link; an unimplemented one neither link nor note; a full one no item', () => {
    for (const [name, status] of Object.entries(USED)) expect(gvisorStatus(name), name).toBe(status);
    expect(validateReport(report)).toEqual([]);
    expect(items.map((i) => i.syscall).sort()).toEqual(Object.keys(USED).filter((n) => n !== 'read').sort());
    for (const i of items.filter((x) => x.support === 'partial' || x.support === 'unsupported')) {
      expect(i.note).toBe(`gVisor: ${i.support === 'partial' ? 'partially supported' : 'returns an error'}: ${gvisorNote(i.syscall)}`);
      expect(i.link).toBe(`${GVISOR_PAGE}#${i.syscall}`);
    }
    expect(items.find((i) => i.syscall === 'openat2')).toMatchObject({ note: 'gVisor: not implemented (ENOSYS)', support: 'unimplemented' });
    expect(items.find((i) => i.syscall === 'openat2')).not.toHaveProperty('link');
  });

  it('are in the terminal summary, the HTML page and the Markdown comment', () => {
    const terminal = formatReport(report);
    const verdict = terminal.slice(terminal.indexOf('runs on gVisor?'), terminal.indexOf('runs on tsvisor?'));
    const html = renderHtml(report);
    const md = renderMarkdown(report);
    for (const i of items) {
      expect(verdict).toContain(`${i.syscall}: ${i.observed} (${i.note})`);
      expect(html).toContain(i.note.replace(/'/g, '&#39;'));
      expect(md).toContain(`(${i.support}): ${i.observed} — ${i.note}`);
      if (i.link) {
        expect(html).toContain(`<a href="${i.link}">gVisor's page</a>`);
        expect(md).toContain(`([gVisor](${i.link}))`);
      }
    }
    expect(verdict).toContain(`(gVisor's page for a call: ${GVISOR_PAGE}#NAME)`);
  });
});

describe('clone3\'s and openat2\'s argument classes', () => {
  it('are named from clone_args.flags (above bit 31 too) and open_how\'s flags and resolve, with no register condition', () => {
    const named = (name: string, struct: Record<number, bigint>) => decodeClass(NUMBERS[name]!, memClass(name, struct));
    expect(named('clone3', { 0: 0x3d0f00n })).toEqual({ kind: 'flags', name: 'CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID', args: [] });
    expect(named('clone3', { 0: 0x100000000n })?.name).toBe('CLONE_CLEAR_SIGHAND');
    expect(named('clone3', { 0: 0x200004000n })?.name).toBe('CLONE_VFORK|CLONE_INTO_CGROUP');
    expect(named('clone3', { 0: 0x400000000n })?.name).toBe('0x400000000');
    expect(named('clone3', {})?.name).toBe('0');
    // O_CLOEXEC and O_LARGEFILE are not part of the class, as for openat; mode (offset 8) is not either
    expect(named('openat2', { 0: 0x88000n, 8: 0o644n, 16: 0x4n })).toEqual({ kind: 'flags/resolve', name: 'O_RDONLY/RESOLVE_NO_SYMLINKS', args: [] });
    expect(named('openat2', { 0: 0x241n, 16: 0x18n })?.name).toBe('O_WRONLY|O_CREAT|O_TRUNC/RESOLVE_BENEATH|RESOLVE_IN_ROOT');
    expect(named('openat2', { 0: 0x10000n })?.name).toBe('O_RDONLY|O_DIRECTORY/0');
  });

  it('give a generated seccomp profile the call without conditions', () => {
    const r = buildReport(['/bin/prog'], 0, [
      count('clone3', 2, 0, memClass('clone3', { 0: 0x3d0f00n })), count('clone3', 1, 38, memClass('clone3', { 0: 0x100000000n })),
      count('openat2', 3, 0, memClass('openat2', { 0: 0x10000n })), count('openat', 1, 0, 0n),
    ], processes, false, 'test');
    expect(validateReport(r)).toEqual([]);
    expect(r.syscalls.find((s) => s.name === 'clone3')?.classes?.map((c) => [c.name, c.calls, c.args])).toEqual([['CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID', 2, []], ['CLONE_CLEAR_SIGHAND', 1, []]]);
    const { profile } = seccompProfile(r, 'none');
    const entries = (name: string) => profile.syscalls.filter((e) => e.names.includes(name));
    for (const name of ['clone3', 'openat2']) expect(entries(name).map((e) => e.args ?? [])).toEqual([[]]);
    // openat's class is in a register: a condition
    expect(entries('openat').map((e) => e.args)).toEqual([[{ index: 2, value: OPEN_CLASS_MASK, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }]]);
  });
});
