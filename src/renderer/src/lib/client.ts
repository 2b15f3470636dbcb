// The renderer's one client: the contract's StudioApi over whichever transport this page has,
// Electron's preload bridge or `isr-studio serve`'s HTTP + WebSocket.
import type { StudioBridge } from '../../../shared/bridge';
import { methodNames, type CallResult, type StudioApi, type StudioEvent } from '../../../shared/contract';
import { ApiError } from '../../../shared/errors';
import type { MediaKey } from '../../../shared/types';

export interface Client {
  api: StudioApi;
  onEvent(listener: (event: StudioEvent) => void): () => void;
  mediaUrl(key: MediaKey): string;
  /** Present only where a native file dialog exists (Electron). */
  pickFile?: StudioBridge['pickFile'];
}

/** A typed API whose every method unwraps the transport's CallResult, throwing ApiError on failure. */
export function createClient(bridge: StudioBridge, options: { nativeDialog: boolean }): Client {
  const api = Object.fromEntries(
    methodNames.map((name) => [
      name,
      async (input: unknown) => {
        const result = await bridge.call(name, input ?? {});
        if (!result.ok) throw ApiError.from(result.error);
        return result.value;
      },
    ]),
  ) as StudioApi;
  return {
    api,
    onEvent: (listener) => bridge.onEvent(listener),
    mediaUrl: (key) => bridge.mediaUrl(key),
    pickFile: options.nativeDialog ? (filters) => bridge.pickFile(filters) : undefined,
  };
}

/** The bridge for a page served by `isr-studio serve`: POST /api/<method>, events on /api/events. */
export function httpBridge(origin: string, token: string, socketFactory = (url: string) => new WebSocket(url)): StudioBridge {
  const listeners = new Set<(event: StudioEvent) => void>();
  let socket: WebSocket | null = null;
  const connect = () => {
    socket = socketFactory(`${origin.replace(/^http/, 'ws')}/api/events?token=${encodeURIComponent(token)}`);
    socket.onmessage = (message) => {
      const event = JSON.parse(String(message.data)) as StudioEvent;
      for (const listener of listeners) listener(event);
    };
    // The server going away (restart) should not leave the page deaf: retry while anyone listens.
    socket.onclose = () => {
      socket = null;
      if (listeners.size > 0) setTimeout(() => listeners.size > 0 && !socket && connect(), 1000);
    };
  };
  return {
    async call(method, input) {
      let response: Response;
      try {
        response = await fetch(`${origin}/api/${method}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
          body: JSON.stringify(input),
        });
      } catch (err) {
        return { ok: false, error: { code: 'internal', message: `cannot reach the studio server: ${(err as Error).message}` } };
      }
      return (await response.json()) as CallResult<unknown>;
    },
    onEvent(listener) {
      listeners.add(listener);
      if (!socket) connect();
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) socket?.close();
      };
    },
    mediaUrl: (key) => `${origin}/media/${encodeURIComponent(key)}?token=${encodeURIComponent(token)}`,
    pickFile: async () => null,
  };
}

/** The token a served page was opened with; kept for reloads and then removed from the address bar. */
export function tokenFromLocation(location: Location, storage: Storage, history: History): string {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    storage.setItem('isr-studio-token', fromUrl);
    url.searchParams.delete('token');
    history.replaceState(null, '', url.toString());
    return fromUrl;
  }
  return storage.getItem('isr-studio-token') ?? '';
}

/** The client for this page: Electron's bridge if the preload put one there, else HTTP. */
export function connect(): Client {
  if (window.studio) return createClient(window.studio, { nativeDialog: true });
  const token = tokenFromLocation(window.location, window.sessionStorage, window.history);
  return createClient(httpBridge(window.location.origin, token), { nativeDialog: false });
}
