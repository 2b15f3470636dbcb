import { spawnSync } from 'node:child_process';
import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

const shared = { testTimeout: 60_000, hookTimeout: 60_000 };

// The engine's specs once more on ONNX Runtime's WebGPU provider, where this machine has an adapter:
// a GPU, or Mesa's lavapipe (Vulkan on the CPU; Debian's mesa-vulkan-drivers from bookworm-backports
// or later: Dawn refuses 22.x). Float32, so the specs' tolerances hold. Left out: the specs of CPU
// sessions themselves (weights fed from their arrays, the optimised-graph cache).
const webgpu = spawnSync(process.execPath, ['--import', 'tsx', 'test/webgpu-adapter.ts'], { encoding: 'utf8', env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' } });
const webgpuLane = webgpu.status === 0
  ? [{
      test: {
        ...shared,
        name: 'webgpu',
        include: ['src/main/engine/**/*.spec.ts'],
        exclude: ['src/main/engine/graph/session.spec.ts', 'src/main/engine/graph/graph-cache.spec.ts', 'src/main/engine/engine-settings.spec.ts'],
        environment: 'node',
        env: { ISR_DEVICE: 'webgpu', ISR_PRECISION: 'float32' },
      },
    }]
  : [];
if (webgpuLane.length === 0) console.log(`vitest: no WebGPU adapter, so the engine's specs run on CPU only (${webgpu.stdout.trim().split('\n').pop() ?? webgpu.stderr.trim()})`);

export default defineConfig({
  test: {
    // Two cores on CI, and native ONNX Runtime and ffmpeg bring threads of their own.
    maxWorkers: 2,
    globalSetup: ['test/scratch-dir.ts'],
    projects: [
      {
        test: {
          ...shared,
          name: 'node',
          include: ['src/main/**/*.spec.ts', 'src/shared/**/*.spec.ts', 'test/**/*.spec.ts'],
          environment: 'node',
        },
      },
      {
        plugins: [svelte()],
        // Svelte's client runtime (mount, effects) is what the renderer runs.
        resolve: { conditions: ['browser'] },
        test: {
          ...shared,
          name: 'renderer',
          include: ['src/renderer/**/*.spec.ts'],
          environment: 'jsdom',
        },
      },
      ...webgpuLane,
    ],
  },
});
