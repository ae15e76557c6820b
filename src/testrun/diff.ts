// Line diffs for the writes report and the exported patch: Myers' O(ND)
// algorithm ("An O(ND) Difference Algorithm and Its Variations", 1986) over
// lines, and unified-diff hunks. Texts are latin1 strings, one character a
// byte, so any bytes go through unchanged.

/** One line of an edit script: kept, removed from the old text, added in the new. */
export interface Edit {
  op: ' ' | '-' | '+';
  /** the line with its newline (the last line may have none) */
  line: string;
}

/**
 * Past this many differing lines in the part between the common head and
 * tail, or past WORK_MAX line comparisons (about lines × edits), the part is
 * replaced whole: the search's time and trace stay bounded.
 */
const MAX_EDITS = 2000;
const WORK_MAX = 5e7;

/** A text's lines, each with its "\n" (so a last line without one differs from the same line with one). */
export function splitLines(text: string): string[] {
  const out: string[] = [];
  let from = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', from)) {
    out.push(text.slice(from, i + 1));
    from = i + 1;
  }
  if (from < text.length) out.push(text.slice(from));
  return out;
}

/** A shortest edit script from `a` to `b` (or, past the bounds, a valid longer one). */
export function diffLines(a: string[], b: string[]): Edit[] {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const am = a.slice(head, a.length - tail);
  const bm = b.slice(head, b.length - tail);
  const keep = (lines: string[]): Edit[] => lines.map((line) => ({ op: ' ', line }));
  const middle = myers(am, bm) ?? [...am.map((line): Edit => ({ op: '-', line })), ...bm.map((line): Edit => ({ op: '+', line }))];
  return [...keep(a.slice(0, head)), ...middle, ...keep(a.slice(a.length - tail))];
}

/** Myers' greedy forward search with its trace kept for the way back; null past the bounds. */
function myers(a: string[], b: string[]): Edit[] | null {
  const n = a.length;
  const m = b.length;
  const max = Math.min(n + m, MAX_EDITS, Math.floor(WORK_MAX / Math.max(1, n + m)));
  const off = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  for (let d = 0; d <= max; d++) {
    trace.push(v.slice(off - d - 1, off + d + 2));
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[off + k - 1]! < v[off + k + 1]!) ? v[off + k + 1]! : v[off + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) return backtrack(a, b, trace, d);
    }
  }
  return null;
}

/** The edit script from the trace: trace[d] holds V before step d, for k in [-d-1, d+1]. */
function backtrack(a: string[], b: string[], trace: Int32Array[], dEnd: number): Edit[] {
  const out: Edit[] = [];
  let x = a.length;
  let y = b.length;
  for (let d = dEnd; d > 0; d--) {
    const vd = trace[d]!;
    const at = (k: number): number => vd[k + d + 1]!;
    const k = x - y;
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1));
    const pk = down ? k + 1 : k - 1;
    const px = at(pk);
    const py = px - pk;
    while (x > px + (down ? 0 : 1) && y > py + (down ? 1 : 0)) out.push({ op: ' ', line: a[--x]! }), y--;
    if (down) out.push({ op: '+', line: b[--y]! });
    else out.push({ op: '-', line: a[--x]! });
  }
  while (x > 0) out.push({ op: ' ', line: a[--x]! }), y--;
  return out.reverse();
}

const CONTEXT = 3;

/** The hunks of a unified diff (from "@@" on) of an edit script, with 3 lines of context; "" when nothing changed. */
export function unifiedHunks(edits: Edit[]): string {
  const changed: number[] = [];
  edits.forEach((e, i) => e.op !== ' ' && changed.push(i));
  let out = '';
  let oldLine = 0;
  let newLine = 0;
  let pos = 0;
  for (let c = 0; c < changed.length; ) {
    let last = c;
    while (last + 1 < changed.length && changed[last + 1]! - changed[last]! <= 2 * CONTEXT) last++;
    const start = Math.max(0, changed[c]! - CONTEXT);
    const end = Math.min(edits.length, changed[last]! + CONTEXT + 1);
    for (; pos < start; pos++) oldLine++, newLine++;
    let body = '';
    let oldLen = 0;
    let newLen = 0;
    for (let i = start; i < end; i++) {
      const e = edits[i]!;
      if (e.op !== '+') oldLen++;
      if (e.op !== '-') newLen++;
      body += e.op + e.line;
      if (!e.line.endsWith('\n')) body += '\n\\ No newline at end of file\n';
    }
    const range = (line: number, len: number): string => `${len ? line + 1 : line},${len}`;
    out += `@@ -${range(oldLine, oldLen)} +${range(newLine, newLen)} @@\n${body}`;
    oldLine += oldLen;
    newLine += newLen;
    pos = end;
    c = last + 1;
  }
  return out;
}
