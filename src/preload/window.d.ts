// What the preload adds to the renderer's window (absent in a browser page served by `isr-studio serve`).
import type { StudioBridge } from '../shared/bridge';

declare global {
  interface Window {
    studio?: StudioBridge;
  }
}
