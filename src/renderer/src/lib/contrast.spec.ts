import { describe, expect, it } from 'vitest';
import { contrastRatio, relativeLuminance } from './contrast';

describe('WCAG 2 contrast', () => {
  it('gives the relative luminance of sRGB colours', () => {
    expect(relativeLuminance([0, 0, 0])).toBe(0);
    expect(relativeLuminance([255, 255, 255])).toBeCloseTo(1, 12);
    // The channels' weights: green counts most, blue least.
    expect(relativeLuminance([255, 0, 0])).toBeCloseTo(0.2126, 4);
    expect(relativeLuminance([0, 255, 0])).toBeCloseTo(0.7152, 4);
    expect(relativeLuminance([0, 0, 255])).toBeCloseTo(0.0722, 4);
    // Mid grey is far darker than half: the sRGB curve is undone first.
    expect(relativeLuminance([128, 128, 128])).toBeCloseTo(0.2158, 3);
  });

  it('measures contrast as the published checkers do, whichever colour comes first', () => {
    expect(contrastRatio([0, 0, 0], [255, 255, 255])).toBeCloseTo(21, 10);
    expect(contrastRatio([255, 255, 255], [0, 0, 0])).toBeCloseTo(21, 10);
    expect(contrastRatio([119, 119, 119], [119, 119, 119])).toBe(1);
    // #767676 is the lightest grey with 4.5:1 on white; #777777 just misses it (4.48).
    expect(contrastRatio([0x76, 0x76, 0x76], [255, 255, 255])).toBeCloseTo(4.54, 2);
    expect(contrastRatio([0x77, 0x77, 0x77], [255, 255, 255])).toBeCloseTo(4.48, 2);
    // Pure red on white: 4.0.
    expect(contrastRatio([255, 0, 0], [255, 255, 255])).toBeCloseTo(4.0, 2);
  });
});
