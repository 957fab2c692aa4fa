// Content that an operation in progress has written but no image record names yet (a pull between
// its first blob and its image record). Garbage collection leaves leased keys alone.
export class Leases {
  private readonly counts = new Map<string, number>();

  acquire(keys: Iterable<string>): () => void {
    const held = [...keys];
    for (const key of held) this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const key of held) {
        const n = (this.counts.get(key) ?? 1) - 1;
        if (n <= 0) this.counts.delete(key);
        else this.counts.set(key, n);
      }
    };
  }

  has(key: string): boolean {
    return this.counts.has(key);
  }

  async with<T>(keys: Iterable<string>, fn: (extend: (more: Iterable<string>) => void) => Promise<T>): Promise<T> {
    const releases = [this.acquire(keys)];
    try {
      return await fn((more) => releases.push(this.acquire(more)));
    } finally {
      for (const release of releases) release();
    }
  }
}
