// src/sentry/lru.ts: the bounded least-recently-used map the Sentry's caches share.
import { describe, expect, it } from 'vitest';
import { BoundedLru } from '../../src/sentry/lru.js';

function lru(max: number): { m: BoundedLru<string, number>; evicted: [string, number][] } {
  const evicted: [string, number][] = [];
  return { m: new BoundedLru<string, number>(max, (k, v) => evicted.push([k, v])), evicted };
}

describe('BoundedLru', () => {
  it('keeps at most max entries, evicting the least recently set first', () => {
    const { m, evicted } = lru(2);
    m.set('a', 1);
    m.set('b', 2);
    m.set('c', 3);
    expect([...m.keys()]).toEqual(['b', 'c']);
    expect(evicted).toEqual([['a', 1]]);
    expect(m.size).toBe(2);
  });

  it('counts get and set of a present key as a use, peek, has and replace not', () => {
    const { m, evicted } = lru(3);
    for (const [k, v] of [['a', 1], ['b', 2], ['c', 3]] as const) m.set(k, v);
    expect(m.get('a')).toBe(1);
    expect([...m.keys()]).toEqual(['b', 'c', 'a']);
    m.set('b', 20);
    expect([...m.entries()]).toEqual([['c', 3], ['a', 1], ['b', 20]]);
    expect(m.peek('c')).toBe(3);
    expect(m.has('c')).toBe(true);
    m.replace('c', 30);
    expect([...m]).toEqual([['c', 30], ['a', 1], ['b', 20]]);
    m.set('d', 4);
    expect(evicted).toEqual([['c', 30]]);
  });

  it('keeps falsy values and counts their get as a use', () => {
    const m = new BoundedLru<string, boolean>(2);
    m.set('x', false);
    m.set('y', true);
    expect(m.get('x')).toBe(false);
    m.set('z', true);
    expect([...m.keys()]).toEqual(['x', 'z']);
  });

  it('replace of a missing key sets it, within the bound', () => {
    const { m, evicted } = lru(1);
    m.set('a', 1);
    m.replace('b', 2);
    expect([...m]).toEqual([['b', 2]]);
    expect(evicted).toEqual([['a', 1]]);
  });

  it('delete and clear forget without evicted; evictOldest hands the entry over', () => {
    const { m, evicted } = lru(4);
    m.set('a', 1);
    m.set('b', 2);
    m.set('c', 3);
    expect(m.delete('a')).toBe(true);
    expect(m.delete('a')).toBe(false);
    expect(m.evictOldest()).toBe(true);
    expect(evicted).toEqual([['b', 2]]);
    m.clear();
    expect(m.size).toBe(0);
    expect(m.evictOldest()).toBe(false);
    expect(evicted).toEqual([['b', 2]]);
  });

  it('a lowered bound evicts down to it on the next set', () => {
    const { m, evicted } = lru(4);
    for (const [k, v] of [['a', 1], ['b', 2], ['c', 3], ['d', 4]] as const) m.set(k, v);
    m.max = 2;
    m.set('e', 5);
    expect([...m.keys()]).toEqual(['d', 'e']);
    expect(evicted.map(([k]) => k)).toEqual(['a', 'b', 'c']);
  });
});
