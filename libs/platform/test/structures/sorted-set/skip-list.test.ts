import { seededRandom } from '@sysdesign/testkit';
import { describe, expect, it } from 'vitest';
import { compareMembers, utf8ByteLength } from '../../../src/index.js';
import { MAX_LEVEL, NIL, type ScoreRange, SkipList } from '../../../src/structures/sorted-set/skip-list.js';

/** The skip list against the simplest model there is: a sorted array of (score, member). */

interface Entry {
  score: number;
  member: string;
}

function byScoreThenBytes(a: Entry, b: Entry): number {
  if (a.score !== b.score) return a.score < b.score ? -1 : 1;
  return Buffer.compare(Buffer.from(a.member), Buffer.from(b.member));
}

function inRange(score: number, range: ScoreRange): boolean {
  const aboveMin = range.minExclusive ? score > range.min : score >= range.min;
  const belowMax = range.maxExclusive ? score < range.max : score <= range.max;
  return aboveMin && belowMax;
}

const ALPHABET = ['a', 'b', 'Z', '\u00e9', '\uff61', '\ud83d\ude00', '\u0000'];

function randomMember(random: () => number): string {
  let member = '';
  const length = Math.floor(random() * 4);
  for (let index = 0; index < length; index++) member += ALPHABET[Math.floor(random() * ALPHABET.length)];
  return member;
}

function randomRange(random: () => number): ScoreRange {
  const a = Math.floor(random() * 12) - 1;
  const b = Math.floor(random() * 12) - 1;
  return {
    min: Math.min(a, b),
    max: Math.max(a, b),
    minExclusive: random() < 0.5,
    maxExclusive: random() < 0.5,
  };
}

describe('SkipList', () => {
  it('agrees with a sorted array on every rank after 6,000 random inserts, deletes and score updates', () => {
    // Scores 0..9 with short members from a small alphabet: many ties, decided by member bytes.
    const random = seededRandom(42);
    const list = new SkipList(seededRandom(43));
    const model = new Map<string, number>();
    const nodes = new Map<string, ReturnType<SkipList['insert']>>();
    for (let step = 1; step <= 6_000; step++) {
      const member = randomMember(random);
      const score = Math.floor(random() * 10);
      const roll = random();
      if (!model.has(member) && roll < 0.6) {
        nodes.set(member, list.insert(score, member));
        model.set(member, score);
      } else if (model.has(member) && roll < 0.8) {
        expect(list.delete(model.get(member)!, member)).toBe(true);
        model.delete(member);
        nodes.delete(member);
      } else if (model.has(member)) {
        nodes.set(member, list.updateScore(nodes.get(member)!, score));
        model.set(member, score);
      }
      if (step % 500 !== 0) continue;
      list.assertConsistent();
      const sorted = [...model].map(([entryMember, entryScore]) => ({
        member: entryMember,
        score: entryScore,
      }));
      sorted.sort(byScoreThenBytes);
      expect(list.length).toBe(sorted.length);
      sorted.forEach((entry, index) => {
        expect(list.rankOf(entry.score, entry.member)).toBe(index + 1);
        expect(list.memberOf(list.byRank(index + 1))).toBe(entry.member);
      });
      expect(list.byRank(0)).toBe(NIL);
      expect(list.byRank(sorted.length + 1)).toBe(NIL);
      for (let probe = 0; probe < 50; probe++) {
        const range = randomRange(random);
        const { first, last } = list.rankBounds(range);
        const matching = sorted.flatMap((entry, index) => (inRange(entry.score, range) ? [index + 1] : []));
        expect(Math.max(0, last - first + 1)).toBe(matching.length);
        if (matching.length > 0) expect([first, last]).toEqual([matching[0], matching.at(-1)]);
      }
    }
  });

  it('removes exactly the score range, and exactly the rank range, that the sorted array would', () => {
    // Proves the span repairs of range deletions: the list stays consistent and equal to the model.
    const random = seededRandom(7);
    for (let round = 0; round < 40; round++) {
      const list = new SkipList(seededRandom(round));
      let model: Entry[] = [];
      for (let index = 0; index < 300; index++) {
        const entry = { score: Math.floor(random() * 10), member: `m${index}` };
        list.insert(entry.score, entry.member);
        model.push(entry);
      }
      model.sort(byScoreThenBytes);
      const removed: string[] = [];
      if (round % 2 === 0) {
        const range = randomRange(random);
        list.deleteRangeByScore(range, (member) => removed.push(member));
        expect(removed).toEqual(
          model.filter((entry) => inRange(entry.score, range)).map((entry) => entry.member),
        );
        model = model.filter((entry) => !inRange(entry.score, range));
      } else {
        const start = 1 + Math.floor(random() * 300);
        const end = start + Math.floor(random() * (301 - start));
        list.deleteRangeByRank(start, end, (member) => removed.push(member));
        expect(removed).toEqual(model.slice(start - 1, end).map((entry) => entry.member));
        model.splice(start - 1, end - start + 1);
      }
      list.assertConsistent();
      for (const [index, entry] of model.entries())
        expect(list.rankOf(entry.score, entry.member)).toBe(index + 1);
    }
  });

  it('draws node heights with p = 1/4, as Redis does', () => {
    // 200,000 nodes: the share at height >= h is 4^-(h-1) (within 10 % of it while samples are many),
    // the mean height 4/3, and no node passes the 32 levels.
    const list = new SkipList(seededRandom(2026));
    for (let index = 0; index < 200_000; index++) list.insert(index, `m${index}`);
    const heights = list.heights();
    const mean = heights.reduce((sum, height) => sum + height, 0) / heights.length;
    expect(mean).toBeGreaterThan(1.31);
    expect(mean).toBeLessThan(1.36);
    for (let height = 2; height <= 6; height++) {
      const share = heights.filter((value) => value >= height).length / heights.length;
      expect(share / 0.25 ** (height - 1)).toBeGreaterThan(0.9);
      expect(share / 0.25 ** (height - 1)).toBeLessThan(1.1);
    }
    expect(heights.reduce((highest, height) => Math.max(highest, height), 0)).toBeLessThanOrEqual(MAX_LEVEL);
  });
});

describe('member order', () => {
  it('orders members by their UTF-8 bytes (memcmp), not by UTF-16 code units', () => {
    // U+FF61 is above the emoji's high surrogate as a code unit, but below its UTF-8 lead byte.
    expect('\uff61' > '\ud83d\ude00').toBe(true);
    expect(compareMembers('\uff61', '\ud83d\ude00')).toBeLessThan(0);
    const random = seededRandom(99);
    for (let trial = 0; trial < 20_000; trial++) {
      const a = randomMember(random);
      const b = randomMember(random);
      expect(Math.sign(compareMembers(a, b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(
        Buffer.compare(Buffer.from(a), Buffer.from(b)),
      );
    }
  });

  it('measures UTF-8 bytes as Buffer does, and refuses lone surrogates', () => {
    for (const text of ['', 'abc', '\u00e9', '\u0800', '\uffff', '\ud83d\ude00', 'ключ 🔑']) {
      expect(utf8ByteLength(text)).toBe(Buffer.byteLength(text));
    }
    for (const text of ['\ud83d', '\ude00', 'a\ud83db', '\ude00\ud83d'])
      expect(utf8ByteLength(text)).toBe(-1);
  });
});
