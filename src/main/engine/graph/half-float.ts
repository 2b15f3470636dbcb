// IEEE half precision and bfloat16 as raw 16-bit patterns (Node 20 has no Float16Array): exact
// widening to float32 and round-to-nearest-even narrowing, as numpy and torch do. Used by the
// safetensors reader and writer and by the reference interpreter.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Widens IEEE half-precision bit patterns to float32 exactly (subnormals, inf and NaN included). */
export function f16BitsToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0x1f) outBits[i] = sign | 0x7f800000 | (mant << 13);
    else if (exp !== 0) outBits[i] = sign | ((exp + 112) << 23) | (mant << 13);
    else out[i] = (sign ? -1 : 1) * mant * 2 ** -24; // zero or subnormal: exact in float32
  }
  return out;
}

/** BF16 is the top half of a float32, so widening is a shift. */
export function bf16BitsToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) outBits[i] = bits[i] << 16;
  return out;
}

/** Rounds float32 values to half precision, to nearest with ties to even (as numpy and torch do). */
export function float32ToF16Bits(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i];
    const x = u32[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    const mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0); // inf, or a quiet NaN
      continue;
    }
    const e = exp - 112; // re-biased exponent for half precision
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00; // overflow to infinity
    } else if (e <= 0) {
      // Subnormal half (or zero): shift the mantissa with its implicit bit into place, then round.
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      const full = mant | 0x800000;
      const shift = 14 - e;
      out[i] = sign | roundShift(full, shift);
    } else {
      // Rounding can carry into the exponent, and from the top exponent into infinity: both right.
      out[i] = sign | ((e << 10) + roundShift(mant, 13));
    }
  }
  return out;
}

/** Rounds float32 values to bfloat16, to nearest with ties to even; NaN stays NaN. */
export function float32ToBF16Bits(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i];
    const x = u32[0];
    if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) out[i] = (x >>> 16) | 0x40;
    else out[i] = roundShift(x, 16);
  }
  return out;
}

/** x >> shift, rounded to nearest with ties to even. */
function roundShift(x: number, shift: number): number {
  const kept = x >>> shift;
  const rest = x - kept * 2 ** shift;
  const half = 2 ** (shift - 1);
  return rest > half || (rest === half && (kept & 1) === 1) ? kept + 1 : kept;
}
