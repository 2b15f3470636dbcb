import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { engineSettings } from './engine-settings';

describe('engineSettings', () => {
  const home = join(homedir(), '.cache', 'isr-studio', 'graphs');

  it('defaults to ONNX Runtime choosing the threads, on CPU, with optimised graphs kept in the user\'s cache folder', () => {
    expect(engineSettings({}, 'linux')).toEqual({ threads: 0, device: 'cpu', precision: 'auto', graphCache: home });
    expect(engineSettings({ ISR_THREADS: ' ', ISR_DEVICE: '', ISR_PRECISION: ' ', ISR_GRAPH_CACHE: '' }, 'linux')).toEqual({ threads: 0, device: 'cpu', precision: 'auto', graphCache: home });
    expect(engineSettings({ XDG_CACHE_HOME: '/var/cache/me' }, 'linux').graphCache).toBe('/var/cache/me/isr-studio/graphs');
    expect(engineSettings({}, 'darwin').graphCache).toBe(join(homedir(), 'Library', 'Caches', 'isr-studio', 'graphs'));
    expect(engineSettings({ LOCALAPPDATA: 'C:/Users/me/AppData/Local' }, 'win32').graphCache).toBe(resolve(join('C:/Users/me/AppData/Local', 'isr-studio', 'graphs')));
  });

  it('reads the threads, the device, the precision and the graph cache from the environment', () => {
    expect(engineSettings({ ISR_THREADS: '1', ISR_DEVICE: 'cuda', ISR_PRECISION: 'float32', ISR_GRAPH_CACHE: '/tmp/g' })).toEqual({ threads: 1, device: 'cuda', precision: 'float32', graphCache: '/tmp/g' });
    expect(engineSettings({ ISR_PRECISION: 'float16' }).precision).toBe('float16');
    expect(engineSettings({ ISR_THREADS: ' 8 ' })).toMatchObject({ threads: 8, device: 'cpu' });
    expect(engineSettings({ ISR_GRAPH_CACHE: 'off' }).graphCache).toBeNull();
    expect(engineSettings({ ISR_GRAPH_CACHE: 'rel/dir' }).graphCache).toBe(resolve('rel/dir'));
  });

  it('refuses what is not a whole number of threads, a known device or a known precision, naming the variable and the flag', () => {
    for (const bad of ['-1', '1.5', 'two', '1e3', '0x2']) {
      expect(() => engineSettings({ ISR_THREADS: bad }), bad).toThrow(`ISR_THREADS (--threads) must be a whole number of threads, 0 for ONNX Runtime's choice; got "${bad}"`);
    }
    expect(() => engineSettings({ ISR_DEVICE: 'CUDA' })).toThrow('ISR_DEVICE (--device) must be cpu, cuda or webgpu; got "CUDA"');
    expect(() => engineSettings({ ISR_PRECISION: 'fp16' })).toThrow('ISR_PRECISION (--precision) must be auto, float32, float16; got "fp16"');
  });
});
