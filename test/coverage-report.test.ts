// The verdict "runs on gVisor?" carries, for each call gVisor supports
// partially or not at all, what gVisor leaves out (syscall-tables/gvisor.json's
// notes) and a link to the call on gVisor's compatibility page, in every
// format: JSON, terminal, HTML, Markdown. Reports are built from counts as
// the collector gives them, one per call of each gVisor status.
import { describe, expect, it } from 'vitest';
import type { CallCount, ProcessInfo } from '../src/coverage/collector.js';
import { renderHtml } from '../src/coverage/html.js';
import { renderMarkdown } from '../src/coverage/markdown.js';
import { buildReport, formatReport } from '../src/coverage/report.js';
import { validateReport } from '../src/coverage/schema.js';
import { GVISOR_PAGE, NUMBERS, gvisorNote, gvisorStatus } from '../src/syscalls/table.js';

const processes = new Map<number, ProcessInfo>([[100, { tgid: 100, pid: 1, parent: null, exes: ['/bin/prog'] }]]);
const count = (name: string, calls: number, errno = 0): CallCount => ({ tgid: 100, gen: 0, nr: NUMBERS[name]!, errno, cls: null, calls, ns: 0, timed: 0 });

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
