import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FeatureCache, type FeatureKey } from './feature-cache';

const fresh = (name: string) => mkdtempSync(join(tmpdir(), `isr-${name}-`));
const key: FeatureKey = { video: 'a'.repeat(64), frames: 8, frameSize: 384, model: 'b'.repeat(64) };
const features = Float32Array.from({ length: 8 * 196 * 16 }, (_, i) => Math.sin(i) * 3);

/** The cache's one entry file (the folder holds nothing else in these tests). */
function entryOf(dir: string): string {
  const entries = readdirSync(dir).filter((n) => n.endsWith('.features'));
  expect(entries).toHaveLength(1);
  return join(dir, entries[0]);
}

describe('FeatureCache', () => {
  it('gives back what was put, bit for bit, across instances', () => {
    const dir = fresh('features');
    new FeatureCache(dir).put(key, features);
    const got = new FeatureCache(dir).get(key);
    expect(got).not.toBeNull();
    expect(Buffer.from(got!.buffer).equals(Buffer.from(features.buffer))).toBe(true);
    // No .partial is left behind.
    expect(readdirSync(dir)).toHaveLength(1);
  });

  it('misses for a key that differs in any field, and for a folder never written', () => {
    const dir = fresh('features');
    const cache = new FeatureCache(dir);
    expect(cache.get(key)).toBeNull();
    cache.put(key, features);
    for (const other of [{ video: 'c'.repeat(64) }, { frames: 16 }, { frameSize: 256 }, { model: 'd'.repeat(64) }]) {
      expect(cache.get({ ...key, ...other })).toBeNull();
    }
    expect(new FeatureCache(join(dir, 'absent')).get(key)).toBeNull();
  });

  it('ignores a truncated entry and a foreign file under the entry name', () => {
    const dir = fresh('features');
    const cache = new FeatureCache(dir);
    cache.put(key, features);
    const file = entryOf(dir);
    const whole = readFileSync(file);
    writeFileSync(file, whole.subarray(0, whole.length - 4));
    expect(cache.get(key)).toBeNull();
    writeFileSync(file, whole.subarray(0, 10));
    expect(cache.get(key)).toBeNull();
    writeFileSync(file, Buffer.from('not a feature file at all, but long enough to have a header'));
    expect(cache.get(key)).toBeNull();
    // An entry written for another key (a collision, or a file copied over) is not trusted either.
    const other = { ...key, frames: 4 };
    cache.put(other, features.subarray(0, 4 * 196 * 16));
    const otherFile = readdirSync(dir).map((n) => join(dir, n)).find((f) => f !== file)!;
    writeFileSync(file, readFileSync(otherFile));
    expect(cache.get(key)).toBeNull();
    expect(cache.get(other)).not.toBeNull();
  });

  it('ignores the leftover .partial of an interrupted write, and a later put still lands', () => {
    const dir = fresh('features');
    const cache = new FeatureCache(dir);
    cache.put(key, features);
    const file = entryOf(dir);
    // Writers (this process and another) that died before their rename leave only partial files, whole or cut short.
    const bytes = readFileSync(file);
    writeFileSync(`${file}.99999.partial`, bytes);
    writeFileSync(`${file}.${process.pid}.partial`, bytes.subarray(0, 100));
    rmSync(file);
    expect(cache.get(key)).toBeNull();
    cache.put(key, features);
    expect(cache.get(key)).toEqual(features);
    expect(readdirSync(dir).filter((n) => n.endsWith(`.${process.pid}.partial`))).toEqual([]);
  });
});
