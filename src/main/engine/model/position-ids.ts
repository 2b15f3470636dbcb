// RoPE position ids of a padded batch, row-major [rows, seq]. One definition for training (right
// padding) and generation (left padding), so both place a prompt's tokens at the same positions.
//
// right: every slot of a row gets its index 0..seq-1, padding included (padding is masked and
//   carries no loss, so its positions only need to be valid).
// left: the real tokens get 0..len-1 and the padding before them 1, as transformers'
//   generation/utils.py does with position_ids = cumsum(mask) - 1 then masked_fill(mask == 0, 1).

/** Position ids of `lengths.length` rows padded to `seq` on the given side. */
export function positionIds(lengths: readonly number[], seq: number, padding: 'left' | 'right'): BigInt64Array {
  const positions = new BigInt64Array(lengths.length * seq);
  for (const [row, length] of lengths.entries()) {
    if (!Number.isInteger(length) || length < 0 || length > seq) throw new Error(`row ${row} has ${length} tokens, which does not fit a padded length of ${seq}`);
    const start = row * seq;
    if (padding === 'right') {
      for (let t = 0; t < seq; t++) positions[start + t] = BigInt(t);
    } else {
      const pad = seq - length;
      positions.fill(1n, start, start + pad);
      for (let t = 0; t < length; t++) positions[start + pad + t] = BigInt(t);
    }
  }
  return positions;
}
