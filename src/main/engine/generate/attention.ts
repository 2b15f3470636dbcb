// Where a model looks: attention probabilities (LanguageModel.attention) reduced to one
// distribution over the prompt's tokens, then folded onto each video frame's patch grid.

/**
 * The attention of the query rows `queryRows` over all keys, averaged over heads, layers and those
 * rows: length seq, sums to 1 (every softmax row does). `layers` are [heads, rows, seq] each: every
 * position's rows ([heads, seq, seq], queryRows the query positions), or only the queries' rows
 * (LanguageModel.attention with those queries, queryRows 0..queries-1).
 */
export function attentionOverKeys(layers: readonly Float32Array[], heads: number, seq: number, queryRows: readonly number[]): Float32Array {
  if (layers.length === 0) throw new Error('attentionOverKeys: no layers given');
  if (queryRows.length === 0) throw new Error('attentionOverKeys: no query positions given');
  const rows = layers[0].length / (heads * seq);
  const wrong = layers.findIndex((l) => !Number.isInteger(rows) || l.length !== heads * rows * seq);
  if (wrong >= 0) throw new Error(`attentionOverKeys: layer ${wrong} has ${layers[wrong].length} values, expected ${heads}x${Number.isInteger(rows) ? rows : 'rows'}x${seq}`);
  const bad = queryRows.find((q) => !(Number.isInteger(q) && q >= 0 && q < rows));
  if (bad !== undefined) throw new Error(`attentionOverKeys: query position ${bad} is outside 0..${rows - 1}`);
  // Summed in float64: a long prompt averages many rows of small probabilities.
  const sum = new Float64Array(seq);
  for (const probs of layers) {
    for (let h = 0; h < heads; h++) {
      for (const q of queryRows) {
        const row = (h * rows + q) * seq;
        for (let k = 0; k < seq; k++) sum[k] += probs[row + k];
      }
    }
  }
  const n = layers.length * heads * queryRows.length;
  return Float32Array.from(sum, (v) => v / n);
}

/**
 * Splits per-key attention into one rows x cols map per frame (frame f's cell (r, c) is key
 * frameStarts[f] + r * cols + c) and the share of attention on all those visual tokens (0..1).
 * Tokens outside the frame grids (text, LLaVA-OneVision's trailing image_newline) are not visual here.
 */
export function foldVisual(perKey: Float32Array, layout: { frameStarts: readonly number[]; rows: number; cols: number }): { maps: Float32Array[]; visualShare: number } {
  const cells = layout.rows * layout.cols;
  let visualShare = 0;
  const maps = layout.frameStarts.map((start, f) => {
    if (!(Number.isInteger(start) && start >= 0 && start + cells <= perKey.length)) {
      throw new Error(`foldVisual: frame ${f} (tokens ${start}..${start + cells - 1}) lies outside the ${perKey.length} keys`);
    }
    const map = perKey.slice(start, start + cells);
    for (const v of map) visualShare += v;
    return map;
  });
  return { maps, visualShare: Math.min(1, Math.max(0, visualShare)) };
}
