// src/testrun/diff.ts: the edit script turns the old lines into the new ones
// and is a shortest one (checked against the longest common subsequence by
// dynamic programming), past its bounds it is still valid, and unified
// hunks count their lines as patch(1) reads them.
import { describe, expect, it } from 'vitest';
import { type Edit, diffLines, splitLines, unifiedHunks } from '../src/testrun/diff.js';

/** A small deterministic generator (xorshift), so a failure repeats. */
function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

function lcs(a: string[], b: string[]): number {
  const t = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = 1; i <= a.length; i++) for (let j = 1; j <= b.length; j++) t[i]![j] = a[i - 1] === b[j - 1] ? t[i - 1]![j - 1]! + 1 : Math.max(t[i - 1]![j]!, t[i]![j - 1]!);
  return t[a.length]![b.length]!;
}

const sides = (edits: Edit[]) => ({
  before: edits.filter((e) => e.op !== '+').map((e) => e.line),
  after: edits.filter((e) => e.op !== '-').map((e) => e.line),
});

describe('line diff', () => {
  it('gives a shortest edit script between random texts', () => {
    const r = rng(12345);
    for (let n = 0; n < 300; n++) {
      const lines = (len: number) => Array.from({ length: len }, () => `${'abcd'[Math.floor(r() * 4)]}\n`);
      const a = lines(Math.floor(r() * 30));
      const b = lines(Math.floor(r() * 30));
      const edits = diffLines(a, b);
      expect(sides(edits)).toEqual({ before: a, after: b });
      expect(edits.filter((e) => e.op !== ' ').length).toBe(a.length + b.length - 2 * lcs(a, b));
    }
  });

  it('past its edit limit still turns the old text into the new one', () => {
    const a = Array.from({ length: 5000 }, (_, i) => `a${i}\n`);
    const b = Array.from({ length: 5000 }, (_, i) => (i % 2 ? `a${i}\n` : `b${i}\n`));
    expect(sides(diffLines(a, b))).toEqual({ before: a, after: b });
    // Many lines with many differences: the search gives up early (lines × edits bounded).
    const big = Array.from({ length: 200_000 }, (_, i) => `${i}\n`);
    const changed = big.map((l, i) => (i % 3 ? l : `x${l}`));
    expect(sides(diffLines(big, changed))).toEqual({ before: big, after: changed });
  });

  it('keeps a last line without a newline apart, and counts hunk lines', () => {
    expect(splitLines('x\ny')).toEqual(['x\n', 'y']);
    expect(splitLines('x\n')).toEqual(['x\n']);
    const text = Array.from({ length: 20 }, (_, i) => `${i}\n`).join('');
    const changed = text.replace('3\n', 'three\n').replace('16\n', 'sixteen\n') + 'end';
    expect(unifiedHunks(diffLines(splitLines(text), splitLines(changed)))).toBe(
      '@@ -1,7 +1,7 @@\n 0\n 1\n 2\n-3\n+three\n 4\n 5\n 6\n' +
        '@@ -14,7 +14,8 @@\n 13\n 14\n 15\n-16\n+sixteen\n 17\n 18\n 19\n+end\n\\ No newline at end of file\n',
    );
    expect(unifiedHunks(diffLines([], ['a\n']))).toBe('@@ -0,0 +1,1 @@\n+a\n');
    expect(unifiedHunks(diffLines(['a\n'], ['a\n']))).toBe('');
  });
});
