// Whether ONNX Runtime's WebGPU provider finds an adapter here (a GPU's Vulkan, Metal or Direct3D 12
// driver, or Mesa's lavapipe): exits 0 if a session opens on it, else 1 with the reason. Run in a
// process of its own, as vitest.config.ts does, so a driver that crashes takes only this process down.
import { whyNotOn } from '../src/main/engine/testing/accelerators';

const reason = await whyNotOn('webgpu');
if (reason !== null) {
  console.log(reason);
  process.exit(1);
}
