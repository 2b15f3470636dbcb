// WCAG 2 contrast between two colours: what a legend's swatches must reach (3:1, success
// criterion 1.4.11) against whatever touches them, so people with low vision can tell them apart.

export type Rgb = readonly [number, number, number];

/** Relative luminance of an 8-bit sRGB colour, as WCAG 2 defines it (0 black to 1 white). */
export function relativeLuminance([r, g, b]: Rgb): number {
  const linear = (channel: number) => {
    const s = channel / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
}

/** (L1 + 0.05) / (L2 + 0.05), the lighter colour over the darker: 1 (none) to 21 (black on white). */
export function contrastRatio(a: Rgb, b: Rgb): number {
  const [high, low] = [relativeLuminance(a), relativeLuminance(b)].sort((x, y) => y - x);
  return (high + 0.05) / (low + 0.05);
}
