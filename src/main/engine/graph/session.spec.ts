import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import * as ort from 'onnxruntime-node';
import onnxProto, { type onnx as Onnx } from 'onnx-proto';
import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from './builder';
import type { Graph } from './ir';
import { serialize } from './onnx';
import { GraphError, MATRIX_MIN_BYTES, Session, availableProviders } from './session';

const { onnx } = onnxProto;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'session-spec-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

type Dim = number | string;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const valueInfo = (name: string, dims: Dim[]): Onnx.IValueInfoProto => ({
  name,
  type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
});

/** y = a @ b (+ bias, a constant initializer, when given), built directly with onnx-proto. */
function matmulModel(a: Dim[], b: Dim[], bias?: Float32Array): Uint8Array {
  const node: Onnx.INodeProto[] = [{ opType: 'MatMul', input: ['a', 'b'], output: [bias ? 'ab' : 'y'], name: '/test/MatMul' }];
  const initializer: Onnx.ITensorProto[] = [];
  if (bias) {
    node.push({ opType: 'Add', input: ['ab', 'bias'], output: ['y'], name: '/test/Add' });
    initializer.push({ name: 'bias', dataType: FLOAT, dims: [bias.length], floatData: Array.from(bias) });
  }
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'session.spec',
    graph: { name: 'test', node, initializer, input: [valueInfo('a', a), valueInfo('b', b)], output: [valueInfo('y', ['m', 'n'])] },
  });
  return onnx.ModelProto.encode(model).finish();
}

function random(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1);
}

/** Reference product in float64. */
function matmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let sum = 0;
    for (let t = 0; t < k; t++) sum += a[i * k + t] * b[t * n + j];
    out.push(sum);
  }
  return out;
}

const tensor = (data: Float32Array, dims: number[]) => new ort.Tensor('float32', data, dims);
const dynamic = () => matmulModel(['m', 'k'], ['k', 'n']);

async function caught(p: Promise<unknown>): Promise<GraphError> {
  try {
    await p;
  } catch (err) {
    return err as GraphError;
  }
  throw new Error('expected a rejection');
}

describe('Session', () => {
  it('runs a MatMul on CPU and matches a float64 product', async () => {
    const lines: string[] = [];
    const session = await Session.create(dynamic(), { graphName: 'mm', intraOpThreads: 1, interOpThreads: 1, logger: (l) => lines.push(l) });
    try {
      expect(session.provider).toBe('cpu');
      expect(session.inputNames).toEqual(['a', 'b']);
      expect(session.outputNames).toEqual(['y']);
      const a = random(6, 1);
      const b = random(12, 2);
      const { y } = await session.run({ a: tensor(a, [2, 3]), b: tensor(b, [3, 4]) }, ['y']);
      expect(y.dims).toEqual([2, 4]);
      const expected = matmul(a, b, 2, 3, 4);
      Array.from(y.data as Float32Array).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
      expect(lines).toEqual([]);
    } finally {
      await session.release();
    }
  });

  it('passes the optimisation level through: MatMul+Add fuse into Gemm only when optimising', async () => {
    const bytes = matmulModel([2, 3], [3, 4], random(4, 3));
    const opsAt = async (level: 'disabled' | 'basic') => {
      const optimizedModelPath = path.join(root, `${level}.onnx`);
      const s = await Session.create(bytes, { graphName: 'fuse', optimizationLevel: level, optimizedModelPath });
      await s.release();
      return onnx.ModelProto.decode(fs.readFileSync(optimizedModelPath)).graph!.node!.map((n) => n.opType);
    };
    expect(await opsAt('disabled')).toEqual(['MatMul', 'Add']);
    expect(await opsAt('basic')).toEqual(['Gemm']);
  });

  it('loads a model from a path', async () => {
    const file = path.join(root, 'mm.onnx');
    fs.writeFileSync(file, dynamic());
    const session = await Session.create(file, { graphName: 'from-path' });
    const { y } = await session.run({ a: tensor(Float32Array.of(1, 2), [1, 2]), b: tensor(Float32Array.of(3, 4), [2, 1]) });
    expect(Array.from(y.data as Float32Array)).toEqual([11]);
    await session.release();
    const missing = path.join(root, 'absent.onnx');
    const err = await caught(Session.create(missing, { graphName: 'from-path' }));
    expect(err.message).toMatch(/^graph 'from-path': cannot create a session: /);
    expect(err.message).toContain(missing);
  });

  it('falls back to CPU with one log line when CUDA cannot be used', async () => {
    // The CUDA provider libraries come with `npm run setup:cuda`; without them ORT cannot load it.
    const binDir = path.dirname(createRequire(import.meta.url).resolve(`onnxruntime-node/bin/napi-v6/${process.platform}/${process.arch}/onnxruntime_binding.node`));
    const cudaInstalled = fs.readdirSync(binDir).some((f) => f.includes('providers_cuda'));
    const lines: string[] = [];
    const session = await Session.create(dynamic(), { graphName: 'decoder', providers: ['cuda', 'cpu'], logger: (l) => lines.push(l) });
    try {
      if (cudaInstalled) {
        expect(session.provider).toBe('cuda');
        expect(lines).toEqual([]);
      } else {
        expect(session.provider).toBe('cpu');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(/^graph 'decoder': execution provider cuda \(.+\) is unusable; running on cpu$/);
      }
      const { y } = await session.run({ a: tensor(Float32Array.of(2), [1, 1]), b: tensor(Float32Array.of(5), [1, 1]) });
      expect(Array.from(y.data as Float32Array)).toEqual([10]);
    } finally {
      await session.release();
    }
  });

  it.runIf(process.platform === 'linux')('falls back to CPU with one line naming why when WebGPU finds no adapter', () => {
    // With no Vulkan driver to load, Dawn finds no adapter (in a process of its own: a process finds its adapters once).
    const probe = spawnSync(process.execPath, ['--import', 'tsx', 'test/webgpu-adapter.ts'], { encoding: 'utf8', env: { ...process.env, VK_ICD_FILENAMES: '/nonexistent/icd.json', VK_DRIVER_FILES: '/nonexistent/icd.json' } });
    expect(probe.status).toBe(1);
    expect(probe.stdout.trim()).toBe("graph 'webgpu-probe': execution provider webgpu (Failed to get a WebGPU adapter: No supported adapters) is unusable; running on cpu");
  });

  it('names a provider this build lacks, and still falls back when CPU was not requested', async () => {
    const lacking = ['dml', 'coreml', 'qnn'].find((p) => !availableProviders().some((a) => a.name === p))!;
    const lines: string[] = [];
    const session = await Session.create(dynamic(), { graphName: 'vision', providers: [lacking], logger: (l) => lines.push(l) });
    expect(session.provider).toBe('cpu');
    expect(lines).toEqual([expect.stringMatching(new RegExp(`^graph 'vision': execution provider ${lacking} \\(not in this onnxruntime-node build, which has .*cpu.*\\) is unusable; running on cpu$`))]);
    await session.release();
  });

  it('never tries what comes after cpu in the list', async () => {
    const lines: string[] = [];
    const session = await Session.create(dynamic(), { graphName: 'cpu-first', providers: ['cpu', 'nonesuch'], logger: (l) => lines.push(l) });
    expect([session.provider, lines]).toEqual(['cpu', []]);
    await session.release();
  });

  it('turns a run-time shape error into one naming the graph and the node', async () => {
    const session = await Session.create(dynamic(), { graphName: 'attn' });
    const err = await caught(session.run({ a: tensor(new Float32Array(6), [2, 3]), b: tensor(new Float32Array(8), [4, 2]) }));
    expect(err).toBeInstanceOf(GraphError);
    expect(err.message).toMatch(/^graph 'attn': run failed at MatMul node '\/test\/MatMul': .*dimension mismatch/);
    expect([err.node, err.op, err.phase]).toEqual(['/test/MatMul', 'MatMul', 'run']);
    const missing = await caught(session.run({ a: tensor(new Float32Array(6), [2, 3]) }));
    expect(missing.message).toBe("graph 'attn': run failed: input 'b' is missing in 'feeds'.");
    await session.release();
    expect(() => session.inputNames).toThrow("graph 'attn': the session was released");
  });

  it('names the node when shapes that cannot multiply are known at load', async () => {
    const err = await caught(Session.create(matmulModel([2, 3], [4, 2]), { graphName: 'static' }));
    expect(err.message).toMatch(/^graph 'static': cannot create a session at MatMul node '\/test\/MatMul': \[ShapeInferenceError\]/);
    expect(err.node).toBe('/test/MatMul');
  });

  it('names the graph when the model bytes are corrupt, and the accelerators tried first', async () => {
    const corrupt = Uint8Array.of(1, 2, 3, 4, 5, 6, 7);
    const err = await caught(Session.create(corrupt, { graphName: 'broken' }));
    expect(err.message).toMatch(/^graph 'broken': cannot create a session: .*protobuf parsing failed/);
    expect(err.phase).toBe('create');
    const lines: string[] = [];
    const withEp = await caught(Session.create(corrupt, { graphName: 'broken', providers: ['nonesuch'], logger: (l) => lines.push(l) }));
    expect(withEp.message).toMatch(/protobuf parsing failed.*\(before CPU, tried nonesuch \(not in this onnxruntime-node build/);
    expect(lines).toEqual([]); // nothing ran, so nothing fell back
  });

  it('refuses thread counts ORT would misread', async () => {
    await expect(Session.create(dynamic(), { graphName: 'g', intraOpThreads: -1 })).rejects.toThrow(/graph 'g': intraOpThreads must be a whole number ≥ 0/);
  });

  it('lists the providers of this build, CPU among them', () => {
    expect(availableProviders()).toContainEqual({ name: 'cpu', bundled: true });
  });
});

/** y = softmax(x @ w1) @ w2 + bias: two matrices over MATRIX_MIN_BYTES and a vector, the arrays given. */
function twoLayer(w1: Float32Array, w2: Float32Array, bias: Float32Array, name = 'two_layer'): Graph {
  const b = new GraphBuilder(name);
  const x = b.input('x', 'float32', ['batch', 32]);
  const h = b.softmax(b.matmul(x, b.initializer('layer1.weight', 'float32', [32, 64], w1)), -1);
  b.output(b.add(b.matmul(h, b.initializer('layer2.weight', 'float32', [64, 32], w2)), b.initializer('layer2.bias', 'float32', [32], bias)), 'y');
  return b.build();
}

describe('Session from a builder graph', () => {
  const weights = () => ({ w1: random(32 * 64, 11), w2: random(64 * 32, 12), bias: random(32, 13) });
  const x = () => tensor(random(3 * 32, 14), [3, 32]);
  const run = async (s: Session) => Array.from((await s.run({ x: x() })).y.data as Float32Array);

  it('feeds shared matrices from their arrays and gives what the weights-inline session gives', async () => {
    expect(32 * 64 * 4).toBeGreaterThanOrEqual(MATRIX_MIN_BYTES);
    const { w1, w2, bias } = weights();
    const graph = twoLayer(w1, w2, bias);
    const inline = await Session.create(serialize(graph), { graphName: 'inline' });
    const shared = await Session.create(graph, { graphName: 'shared' });
    try {
      expect(shared.boundWeights).toEqual(['layer1.weight', 'layer2.weight']); // the bias vector stays inline
      expect(shared.inputNames).toEqual(['x']);
      const want = await run(inline);
      (await run(shared)).forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
    } finally {
      await Promise.all([inline.release(), shared.release()]);
    }
  });

  it('reads the one array in every session (a change shows in all), while a session from bytes keeps its copy', async () => {
    const { w1, w2, bias } = weights();
    const first = await Session.create(twoLayer(w1, w2, bias, 'first'), { graphName: 'first' });
    const second = await Session.create(twoLayer(w1, w2, bias, 'second'), { graphName: 'second' });
    const copied = await Session.create(serialize(twoLayer(w1, w2, bias, 'copied')), { graphName: 'copied' });
    try {
      const before = await run(first);
      expect(await run(second)).toEqual(before);
      w2.fill(0); // y becomes the bias alone, in every row, wherever w2 is read rather than copied
      const rows = Array.from({ length: 3 }, () => Array.from(bias)).flat();
      expect(await run(first)).toEqual(rows);
      expect(await run(second)).toEqual(rows);
      (await run(copied)).forEach((v, i) => expect(v).toBeCloseTo(before[i], 5));
    } finally {
      await Promise.all([first.release(), second.release(), copied.release()]);
    }
  });

  it('names the weight whose shared array lost its values, and refuses a feed of a weight', async () => {
    const { w1, w2, bias } = weights();
    const session = await Session.create(twoLayer(w1, w2, bias), { graphName: 'mlp' });
    const later = twoLayer(w1, w2, bias); // built before the array loses its values
    try {
      const misfed = await caught(session.run({ x: x(), 'layer1.weight': tensor(w1, [32, 64]) }));
      expect(misfed.message).toBe("graph 'mlp': run failed: 'layer1.weight' is a weight of the graph, not an input to feed");
      structuredClone(w2.buffer, { transfer: [w2.buffer] }); // detaches w2, as a transfer to a worker does
      const err = await caught(session.run({ x: x() }));
      expect(err).toBeInstanceOf(GraphError);
      expect(err.message).toMatch(/^graph 'mlp': run failed: weight 'layer2\.weight' \[64, 32\] has 0 of its 2048 values left in its array/);
      const again = await caught(Session.create(later, { graphName: 'mlp' }));
      expect(again.message).toMatch(/^graph 'mlp': cannot create a session: weight 'layer2\.weight' \[64, 32\] has 0 of its 2048 values/);
    } finally {
      await session.release();
    }
    expect(session.boundWeights).toEqual([]);
  });

});
