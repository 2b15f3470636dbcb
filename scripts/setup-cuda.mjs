// Opt-in GPU support: fetch onnxruntime-node's CUDA 12 execution-provider binaries, which are too
// large for the npm registry and so are skipped at install (package.json's allowScripts denies
// onnxruntime-node's postinstall, which would download them).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const ortDir = dirname(require.resolve('onnxruntime-node/package.json'));
// ONNXRUNTIME_NODE_INSTALL=true forces the download of what the platform's package leaves out (CUDA 12
// on Linux x64): the script reads the environment first, and onnxruntime-node 1.30 reads a named value
// such as `cuda12` as unset.
const result = spawnSync(process.execPath, [join(ortDir, 'script', 'install.js')], {
  cwd: ortDir,
  stdio: 'inherit',
  env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'true' },
});
if (result.status !== 0) {
  console.error('setup:cuda: the CUDA binaries could not be installed (see above); the studio still runs on CPU.');
}
process.exit(result.status ?? 1);
