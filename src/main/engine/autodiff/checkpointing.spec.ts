// Gradient checkpointing in differentiate: the same gradients as without it (float64 reference
// interpreter and ONNX Runtime), and a graph in which no backward node reads a value a segment
// computes inside itself, so those values die with the forward.
import { describe, expect, it } from 'vitest';
import type { Graph } from '../graph/ir';
import { runReference, tensor64, type Tensor64 } from '../graph/reference';
import { randomTensor, relativeError, rng } from '../testing/gradcheck';
import { batchInputs, dpoForward, preferenceBatch, runInSession, tinyDecoder, tinyDims } from '../testing/tiny-decoder';
import { defaultLoraConfig } from '../train/lora';
import { buildLossGraph, LOSS } from '../train/train-step';
import { differentiate } from './differentiate';

const layers = 3;
const segments = Array.from({ length: layers }, (_, l) => `/layers.${l}/`);

function setup() {
  const lg = buildLossGraph(dpoForward(tinyDecoder(5, { ...tinyDims, layers }), { loss: 'sigmoid', beta: 0.1, labelSmoothing: 0 }), { ...defaultLoraConfig, r: 2, alpha: 4 });
  const rand = rng(13);
  const feeds: Record<string, Tensor64> = {
    ...preferenceBatch([{ prompt: [1, 2, 3], chosen: [4, 5], rejected: [6, 7, 8] }, { prompt: [2, 9], chosen: [8, 9, 1], rejected: [10] }]),
    [batchInputs.refChosen]: tensor64('float32', [2], [-8, -7]), [batchInputs.refRejected]: tensor64('float32', [2], [-6, -9]),
  };
  for (const p of lg.params) feeds[p] = randomTensor(rand, 'float32', lg.graph.values.get(p)!.shape as number[]);
  return { lg, feeds };
}

/** Values a segment's own nodes compute and only its own nodes should read (not what leaves it). */
function internalValues(graph: Graph, prefix: string, forward: Graph): Set<string> {
  const inside = forward.nodes.filter((n) => n.name.startsWith(prefix));
  const produced = new Set(inside.flatMap((n) => n.outputs));
  const leaving = new Set(forward.nodes.filter((n) => !n.name.startsWith(prefix)).flatMap((n) => n.inputs).filter((i) => produced.has(i)));
  for (const o of forward.outputs) leaving.delete(o.name);
  return new Set([...produced].filter((v) => !leaving.has(v) && graph.values.has(v)));
}

describe('gradient checkpointing', () => {
  const { lg, feeds } = setup();
  const plain = differentiate(lg.graph, { loss: LOSS, wrt: lg.params });
  const checkpointed = differentiate(lg.graph, { loss: LOSS, wrt: lg.params, checkpoints: segments });

  it('gives the gradients of the plain backward, in float64 and in ONNX Runtime', async () => {
    const want = runReference(plain, feeds);
    const got = runReference(checkpointed, feeds);
    for (const o of plain.outputs) expect(relativeError(got[o.name].data, want[o.name].data, 1e-12, 1e-14), o.name).toBeLessThanOrEqual(1);
    // In float32 (ORT): as near the float64 gradients as the plain graph's own run, whose float32
    // error is up to ~1e-3 relative on the small entries of the first layer's factors.
    const [ortPlain, ortCheckpointed] = [await runInSession(plain, feeds), await runInSession(checkpointed, feeds)];
    for (const o of plain.outputs) {
      const plainError = relativeError(ortPlain[o.name], want[o.name].data, 1e-3, 1e-5);
      expect(relativeError(ortCheckpointed[o.name], want[o.name].data, 1e-3, 1e-5), o.name).toBeLessThanOrEqual(Math.max(1, 2 * plainError));
    }
  });

  it("reads no segment's inner values after the forward: its backward reads a recomputed copy", () => {
    const forwardNodes = new Set(lg.graph.nodes.map((n) => n.name));
    for (const prefix of segments) {
      const internal = internalValues(checkpointed, prefix, lg.graph);
      expect(internal.size).toBeGreaterThan(20);
      const readers = checkpointed.nodes.filter((n) => !forwardNodes.has(n.name) && n.inputs.some((i) => internal.has(i)));
      expect(readers.map((n) => n.name)).toEqual([]);
    }
    // Without checkpoints the backward does read them: the check above can fail.
    const internal = internalValues(plain, segments[1], lg.graph);
    expect(plain.nodes.some((n) => !forwardNodes.has(n.name) && n.inputs.some((i) => internal.has(i)))).toBe(true);
  });
});
