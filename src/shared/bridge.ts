// What the Electron preload puts on `window.studio`; the renderer's client uses it when present and
// falls back to HTTP + WebSocket (isr-studio serve) when not. Declared once, here.
import type { CallResult, StudioEvent } from './contract';
import type { MediaKey } from './types';

export interface StudioBridge {
  call(method: string, input: unknown): Promise<CallResult<unknown>>;
  /** Subscribes to events from main; returns the unsubscribe function. */
  onEvent(listener: (event: StudioEvent) => void): () => void;
  /** The URL the renderer may load a media key from (a custom protocol in Electron). */
  mediaUrl(key: MediaKey): string;
  /** Native open-file dialog; resolves null when the user cancels. */
  pickFile(filters: { name: string; extensions: string[] }[]): Promise<string | null>;
}

/** IPC channel names, shared by main and preload so neither can drift. */
export const ipcChannels = { call: 'studio:call', event: 'studio:event', pickFile: 'studio:pick-file' } as const;

/** The custom protocol Electron serves thumbnails and frames on (never file://). */
export const mediaScheme = 'studio-media';
