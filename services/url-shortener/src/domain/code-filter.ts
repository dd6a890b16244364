import { BloomFilter, type BloomSizing } from '@sysdesign/platform';

/**
 * The hash strategy's bloom filter over every code in use. "Not in the filter" means the code is
 * certainly free, so the candidate goes straight to the insert without a read; "maybe" costs one
 * read. A bloom filter never forgets, and tombstoned codes stay taken, so it only ever grows.
 *
 * It must never miss a code the store holds, or a free-looking candidate would hit an existing
 * one: the insert still refuses it (the store is the authority), but that costs a round trip and
 * says the filter is stale. So the filter is rebuilt from the store at every start, and each
 * instance adds what it inserts and every code an insert found taken (another instance's).
 */
export class CodeFilter {
  private filter: BloomFilter;
  /** Codes added while a rebuild scans the store; undefined when no rebuild runs. */
  private addedDuringRebuild: string[] | undefined;

  constructor(private readonly sizing: BloomSizing) {
    this.filter = BloomFilter.create(sizing);
  }

  /** Page through every code in the store into a fresh filter, then swap it in. */
  async rebuild(
    codesAfter: (after: string, limit: number) => Promise<string[]>,
    pageSize = 10_000,
  ): Promise<number> {
    const fresh = BloomFilter.create(this.sizing);
    const addedMeanwhile: string[] = [];
    this.addedDuringRebuild = addedMeanwhile;
    let count = 0;
    try {
      let after = '';
      for (;;) {
        const page = await codesAfter(after, pageSize);
        for (const code of page) fresh.add(code);
        count += page.length;
        if (page.length < pageSize) break;
        after = page.at(-1)!;
      }
    } finally {
      this.addedDuringRebuild = undefined;
    }
    // Codes inserted while the scan ran may sort before its cursor: keep them too.
    for (const code of addedMeanwhile) fresh.add(code);
    this.filter = fresh;
    return count;
  }

  add(code: string): void {
    this.filter.add(code);
    this.addedDuringRebuild?.push(code);
  }

  mightContain(code: string): boolean {
    return this.filter.mightContain(code);
  }

  get size(): number {
    return this.filter.size;
  }

  get expectedFalsePositiveRate(): number {
    return this.filter.expectedFalsePositiveRate;
  }
}
