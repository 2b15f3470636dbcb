import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import type { onnx as P } from 'onnx-proto';
import { afterAll, describe, expect, it } from 'vitest';
import { createOrtSession, runOrt } from '../testing/ort-check';
import { GraphBuilder } from './builder';
import { OPSET } from './ir';
import { saveModel, serialize, serializeBound } from './onnx';
import { runReference, tensor64 } from './reference';

const { onnx } = onnxProto;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isr-onnx-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function smallGraph(hidden = 4) {
  const b = new GraphBuilder('tiny');
  const x = b.input('x', 'float32', ['batch', hidden]);
  const w = b.initializer('layer.weight', 'float32', [hidden, hidden], Float32Array.from({ length: hidden * hidden }, (_, i) => Math.sin(i)));
  const y = b.scope('layer', () => b.softmax(b.matmul(x, w), -1));
  b.output(b.reduceSum(y, [-1], false), 'total');
  b.output(y, 'probs');
  return b.build();
}

describe('ONNX serialisation', () => {
  it('round-trips through onnx-proto with the opset, names, shapes and initializers', () => {
    const g = smallGraph();
    const m = onnx.ModelProto.decode(serialize(g));
    expect(m.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', OPSET]]);
    expect(Number(m.irVersion)).toBe(8);
    const graph = m.graph as P.GraphProto;
    expect(graph.input.map((i) => i.name)).toEqual(['x']);
    expect((graph.input[0].type as P.TypeProto).tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue))).toEqual(['batch', 4]);
    expect(graph.output.map((o) => o.name)).toEqual(['total', 'probs']);
    expect(graph.node.map((n) => n.name)).toContain('/layer/MatMul');
    const w = graph.initializer.find((t) => t.name === 'layer.weight') as P.TensorProto;
    expect(w.dims.map(Number)).toEqual([4, 4]);
    const raw = w.rawData;
    expect(Array.from(new Float32Array(Uint8Array.from(raw).buffer))).toEqual(Array.from(g.initializers.get('layer.weight')!.data as Float32Array));
    const softmax = graph.node.find((n) => n.opType === 'Softmax') as P.NodeProto;
    expect(softmax.attribute.map((a) => [a.name, Number(a.i)])).toEqual([['axis', -1]]);
  });

  it('writes large weights to a side file that ONNX Runtime loads relative to the model', async () => {
    const g = smallGraph(64);
    const file = path.join(dir, 'model.onnx');
    const written = saveModel(g, file, { externalThreshold: 1024 });
    expect(written.data).toBe(path.join(dir, 'model.onnx.data'));
    expect(fs.statSync(written.data!).size).toBe(64 * 64 * 4);
    const m = onnx.ModelProto.decode(fs.readFileSync(file));
    const w = (m.graph as P.GraphProto).initializer.find((t) => t.name === 'layer.weight') as P.TensorProto;
    expect(w.dataLocation).toBe(onnx.TensorProto.DataLocation.EXTERNAL);
    expect(Object.fromEntries(w.externalData.map((e) => [e.key, e.value]))).toMatchObject({ location: 'model.onnx.data', length: String(64 * 64 * 4) });
    expect(fs.statSync(file).size).toBeLessThan(4096);

    const feeds = { x: tensor64('float32', [2, 64], Array.from({ length: 128 }, (_, i) => Math.cos(i))) };
    const got = await runOrt(await createOrtSession(file), g, feeds);
    const want = runReference(g, feeds);
    got.probs.data.forEach((v, i) => expect(v).toBeCloseTo(want.probs.data[i], 5));
  });

  it('leaves large float32 matrices out of the bytes as inputs to feed from the graph\'s own arrays', () => {
    const g = smallGraph(64); // layer.weight is 16 KiB
    const { model, bound } = serializeBound(g, 4096);
    expect(bound.map((w) => w.name)).toEqual(['layer.weight']);
    expect(bound[0].tensor).toBe(g.initializers.get('layer.weight')); // the graph's own array, not a copy
    const proto = onnx.ModelProto.decode(model).graph as P.GraphProto;
    expect(proto.input.map((i) => [i.name, (i.type as P.TypeProto).tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue))])).toEqual([['x', ['batch', 64]], ['layer.weight', [64, 64]]]);
    expect(proto.initializer.map((t) => t.name)).not.toContain('layer.weight');
    expect(serializeBound(g, 1 << 20).bound).toEqual([]);
  });
});
