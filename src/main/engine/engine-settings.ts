// How the engine uses the machine, the same for every ONNX Runtime session it opens (the vision
// tower, the decoder, training's graphs): how many threads an op may use, and the device. Read from
// the environment, which `isr-studio --threads N --device D` sets and every engine process inherits,
// so the CLI, `serve`, the app and their engine processes all follow one setting.
import { ApiError } from '../../shared/errors';

export const engineDevices = ['cpu', 'cuda'] as const;
export type EngineDevice = (typeof engineDevices)[number];

export interface EngineSettings {
  /** Threads inside one op (ONNX Runtime's intra-op pool, one per session); 0: ONNX Runtime's own
   *  choice, one per physical core. */
  threads: number;
  /** cuda: the CUDA provider where onnxruntime-node has it (`npm run setup:cuda`), CPU behind it
   *  for what it does not run; without it, CPU with one line saying why. */
  device: EngineDevice;
}

export const engineSettingVariables = { threads: 'ISR_THREADS', device: 'ISR_DEVICE' } as const;

/** The settings in `env`, or an error naming the variable and what it takes. */
export function engineSettings(env: NodeJS.ProcessEnv = process.env): EngineSettings {
  const threadsText = env[engineSettingVariables.threads]?.trim() || '0';
  const threads = Number(threadsText);
  if (!(/^\d+$/.test(threadsText) && Number.isSafeInteger(threads))) {
    throw new ApiError('bad_input', `${engineSettingVariables.threads} (--threads) must be a whole number of threads, 0 for ONNX Runtime's choice; got "${threadsText}"`);
  }
  const device = (env[engineSettingVariables.device]?.trim() || 'cpu') as EngineDevice;
  if (!engineDevices.includes(device)) {
    throw new ApiError('bad_input', `${engineSettingVariables.device} (--device) must be ${engineDevices.join(' or ')}; got "${device}"`);
  }
  return { threads, device };
}
