// How the engine uses the machine, the same for every ONNX Runtime session it opens (the vision
// tower, the decoder, training's graphs): how many threads an op may use, the device, the inference
// graphs' precision, and where optimised graphs are kept. Read from
// the environment, which `isr-studio --threads N --device D` sets and every engine process inherits,
// so the CLI, `serve`, the app and their engine processes all follow one setting.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ApiError } from '../../shared/errors';

export const engineDevices = ['cpu', 'cuda', 'webgpu'] as const;
export type EngineDevice = (typeof engineDevices)[number];

export const enginePrecisions = ['auto', 'float32', 'float16'] as const;
export type EnginePrecision = (typeof enginePrecisions)[number];

export interface EngineSettings {
  /** Threads inside one op (ONNX Runtime's intra-op pool, one per session); 0: ONNX Runtime's own
   *  choice, one per physical core. */
  threads: number;
  /** cuda: the CUDA provider where onnxruntime-node has it (`npm run setup:cuda`); webgpu: the WebGPU
   *  provider onnxruntime-node bundles (Dawn over Vulkan, Metal or Direct3D 12), which also keeps the
   *  KV cache on the device; CPU behind either for what it does not run; without it, CPU with one
   *  line saying why. */
  device: EngineDevice;
  /** The inference graphs' arithmetic (graph/float16.ts): auto is float16 on an accelerator and float32
   *  on CPU, where ONNX Runtime would mostly cast float16 back; float32 or float16 force one everywhere. */
  precision: EnginePrecision;
  /** Where CPU sessions keep the graphs ONNX Runtime optimised, to skip optimising them again
   *  (graph/graph-cache.ts); null: no cache. */
  graphCache: string | null;
}

export const engineSettingVariables = { threads: 'ISR_THREADS', device: 'ISR_DEVICE', precision: 'ISR_PRECISION', graphCache: 'ISR_GRAPH_CACHE' } as const;

/** The studio's folder in the user's cache: ~/Library/Caches on macOS, %LOCALAPPDATA% on Windows, else as XDG says (~/.cache unless XDG_CACHE_HOME names another). */
function defaultGraphCache(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): string {
  const base = platform === 'darwin' ? join(homedir(), 'Library', 'Caches')
    : platform === 'win32' ? env.LOCALAPPDATA?.trim() || join(homedir(), 'AppData', 'Local')
      : env.XDG_CACHE_HOME?.trim() || join(homedir(), '.cache');
  return join(base, 'isr-studio', 'graphs');
}

/** The settings in `env`, or an error naming the variable and what it takes. */
export function engineSettings(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): EngineSettings {
  const threadsText = env[engineSettingVariables.threads]?.trim() || '0';
  const threads = Number(threadsText);
  if (!(/^\d+$/.test(threadsText) && Number.isSafeInteger(threads))) {
    throw new ApiError('bad_input', `${engineSettingVariables.threads} (--threads) must be a whole number of threads, 0 for ONNX Runtime's choice; got "${threadsText}"`);
  }
  const device = (env[engineSettingVariables.device]?.trim() || 'cpu') as EngineDevice;
  if (!engineDevices.includes(device)) {
    throw new ApiError('bad_input', `${engineSettingVariables.device} (--device) must be ${engineDevices.slice(0, -1).join(', ')} or ${engineDevices.at(-1)}; got "${device}"`);
  }
  const precision = (env[engineSettingVariables.precision]?.trim() || 'auto') as EnginePrecision;
  if (!enginePrecisions.includes(precision)) {
    throw new ApiError('bad_input', `${engineSettingVariables.precision} (--precision) must be ${enginePrecisions.join(', ')}; got "${precision}"`);
  }
  const cacheText = env[engineSettingVariables.graphCache]?.trim() || defaultGraphCache(env, platform);
  return { threads, device, precision, graphCache: cacheText === 'off' ? null : resolve(cacheText) };
}
