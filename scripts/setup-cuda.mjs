// Opt-in GPU support: fetch onnxruntime-node's CUDA 12 execution-provider binaries, which are too
// large for the npm registry and so are skipped at install (.npmrc: onnxruntime-node-install=skip).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const ortDir = dirname(require.resolve('onnxruntime-node/package.json'));
const result = spawnSync(process.execPath, [join(ortDir, 'script', 'install.js'), '--onnxruntime-node-install=cuda12'], {
  cwd: ortDir,
  stdio: 'inherit',
});
if (result.status !== 0) {
  console.error('setup:cuda: the CUDA binaries could not be installed (see above); the studio still runs on CPU.');
}
process.exit(result.status ?? 1);
