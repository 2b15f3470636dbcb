import { describe, expect, it } from 'vitest';
import { bf16BitsToFloat32, float32ToBF16Bits } from './half-float';

/** The bfloat16 pattern nearest to x by definition: the two representable neighbours found by
 *  exponent and 8-bit significand in float64, the nearer kept, a tie going to the even significand. */
function nearestBf16(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === Infinity) return sign | 0x7f80;
  // Spacing of bfloat16 values around a: 2^(e-7) for normals, 2^-133 below the smallest normal 2^-126.
  const e = a === 0 ? -126 : Math.max(-126, Math.floor(Math.log2(a)));
  const ulp = 2 ** (e - 7);
  const below = Math.floor(a / ulp) * ulp;
  const above = below + ulp;
  const pick = a - below < above - a ? below : a - below > above - a ? above : (below / ulp) % 2 === 0 ? below : above;
  if (pick >= 2 ** 128) return sign | 0x7f80; // rounds past the largest finite value
  // Encode the chosen value: exponent and significand of a number known to be representable.
  if (pick === 0) return sign;
  const pe = Math.max(-126, Math.floor(Math.log2(pick)));
  const normal = pick >= 2 ** -126;
  const mant = normal ? pick / 2 ** pe - 1 : pick / 2 ** -126;
  return sign | ((normal ? pe + 127 : 0) << 7) | Math.round(mant * 128);
}

describe('float32ToBF16Bits', () => {
  it('rounds to the nearest bfloat16, ties to even, over representative float32 bit patterns', () => {
    // Every exponent, with low bits exercising below / exactly at / above the halfway point, odd and even kept bits.
    const lows = [0x0000, 0x0001, 0x7fff, 0x8000, 0x8001, 0xffff, 0x4000, 0xc000];
    const bits: number[] = [];
    for (let exp = 0; exp < 255; exp++) {
      for (const sign of [0, 1]) for (const kept of [0x00, 0x01, 0x7e, 0x7f]) for (const low of lows) bits.push(((sign << 31) | (exp << 23) | (kept << 16) | low) >>> 0);
    }
    const values = new Float32Array(new Uint32Array(bits).buffer);
    const got = float32ToBF16Bits(values);
    let checked = 0;
    for (let i = 0; i < values.length; i++) {
      expect(got[i], `0x${bits[i].toString(16)} (${values[i]})`).toBe(nearestBf16(values[i]));
      checked++;
    }
    expect(checked).toBe(255 * 2 * 4 * 8);
  });

  it('keeps infinities and NaN, and widens back exactly', () => {
    const got = float32ToBF16Bits(new Float32Array([Infinity, -Infinity, NaN, 1.5, -0]));
    expect([...got.slice(0, 2)]).toEqual([0x7f80, 0xff80]);
    expect(Number.isNaN(bf16BitsToFloat32(got.slice(2, 3))[0])).toBe(true);
    expect([...bf16BitsToFloat32(got.slice(3))]).toEqual([1.5, -0]);
  });
});
