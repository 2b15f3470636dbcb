// Whether ONNX Runtime's WebGPU provider finds an adapter here (a GPU's Vulkan, Metal or Direct3D 12
// driver, or Mesa's lavapipe): exits 0 if a session opens on it, else 1 with the reason. Run in a
// process of its own, as vitest.config.ts does, so a driver that crashes takes only this process down.
import { GraphBuilder } from '../src/main/engine/graph/builder';
import { Session } from '../src/main/engine/graph/session';

const b = new GraphBuilder('webgpu-probe');
b.output(b.add(b.input('x', 'float32', [2]), 1), 'y');
const reasons: string[] = [];
const session = await Session.create(b.build(), { graphName: 'webgpu-probe', providers: ['webgpu', 'cpu'], logger: (line) => reasons.push(line) });
await session.release();
if (session.provider !== 'webgpu') {
  console.log(reasons.join('\n'));
  process.exit(1);
}
