// The sandboxed preload: exposes the contract's one bridge on window.studio and nothing else.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { ipcChannels, mediaScheme, type StudioBridge } from '../shared/bridge';
import type { StudioEvent } from '../shared/contract';

const bridge: StudioBridge = {
  call: (method, input) => ipcRenderer.invoke(ipcChannels.call, method, input),
  onEvent(listener) {
    const relay = (_: IpcRendererEvent, event: StudioEvent) => listener(event);
    ipcRenderer.on(ipcChannels.event, relay);
    return () => ipcRenderer.removeListener(ipcChannels.event, relay);
  },
  mediaUrl: (key) => `${mediaScheme}://media/${encodeURIComponent(key)}`,
  pickFile: (filters) => ipcRenderer.invoke(ipcChannels.pickFile, filters),
};

contextBridge.exposeInMainWorld('studio', bridge);
