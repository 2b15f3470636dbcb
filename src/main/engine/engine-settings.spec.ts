import { describe, expect, it } from 'vitest';
import { engineSettings } from './engine-settings';

describe('engineSettings', () => {
  it('defaults to ONNX Runtime choosing the threads, on CPU', () => {
    expect(engineSettings({})).toEqual({ threads: 0, device: 'cpu' });
    expect(engineSettings({ ISR_THREADS: ' ', ISR_DEVICE: '' })).toEqual({ threads: 0, device: 'cpu' });
  });

  it('reads the threads and the device from the environment', () => {
    expect(engineSettings({ ISR_THREADS: '1', ISR_DEVICE: 'cuda' })).toEqual({ threads: 1, device: 'cuda' });
    expect(engineSettings({ ISR_THREADS: ' 8 ' })).toEqual({ threads: 8, device: 'cpu' });
  });

  it('refuses what is not a whole number of threads or a known device, naming the variable and the flag', () => {
    for (const bad of ['-1', '1.5', 'two', '1e3', '0x2']) {
      expect(() => engineSettings({ ISR_THREADS: bad }), bad).toThrow(`ISR_THREADS (--threads) must be a whole number of threads, 0 for ONNX Runtime's choice; got "${bad}"`);
    }
    expect(() => engineSettings({ ISR_DEVICE: 'CUDA' })).toThrow('ISR_DEVICE (--device) must be cpu or cuda; got "CUDA"');
  });
});
