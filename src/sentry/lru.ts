// A Map bounded to the most recently used entries: the Sentry's caches and
// records that must not grow with guest behaviour (docs/design.md "Bounds").

/**
 * At most `max` entries, least recently used first. A Map iterates in
 * insertion order, so a use moves the entry to the end and past the bound the
 * first entry goes, handed to `evicted` (which releases what it held).
 */
export class BoundedLru<K, V> {
  private readonly map = new Map<K, V>();

  constructor(
    /** the most entries kept; lowering it evicts on the next set */
    public max: number,
    private readonly evicted: (key: K, value: V) => void = () => {},
  ) {}

  get size(): number {
    return this.map.size;
  }

  /** The value of `key`, which counts as a use. */
  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  /** The value of `key`, not a use. */
  peek(key: K): V | undefined {
    return this.map.get(key);
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /** Sets `key` as the most recently used; past the bound the least recently used go. */
  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.max) this.evictOldest();
  }

  /** Changes the value of `key` where it stands (not a use); a new key is set as by set. */
  replace(key: K, value: V): void {
    if (this.map.has(key)) this.map.set(key, value);
    else this.set(key, value);
  }

  /** Forgets `key` without `evicted`: the caller releases what it held. */
  delete(key: K): boolean {
    return this.map.delete(key);
  }

  /** Evicts the least recently used entry; false when empty. */
  evictOldest(): boolean {
    const first = this.map.entries().next();
    if (first.done) return false;
    const [key, value] = first.value;
    this.map.delete(key);
    this.evicted(key, value);
    return true;
  }

  clear(): void {
    this.map.clear();
  }

  keys(): IterableIterator<K> {
    return this.map.keys();
  }

  entries(): IterableIterator<[K, V]> {
    return this.map.entries();
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.map.entries();
  }
}
