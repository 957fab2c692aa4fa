// The one bridge between the sandboxed renderer and the main process: the typed host API
// (electron/src/common/host-api.ts), carried over IPC. The renderer speaks the same protocol to
// the dashboard's WebSocket in a browser; here nothing listens on the network for it.
import { contextBridge, ipcRenderer } from 'electron';

import type { HostMessage, HostRequest } from '../common/host-api.js';

const CHANNEL = 'berth:host-api';

contextBridge.exposeInMainWorld('berth', {
  hostApi: {
    send: (request: HostRequest) => ipcRenderer.send(CHANNEL, request),
    onMessage: (listener: (message: HostMessage) => void) => {
      const handler = (_event: unknown, message: HostMessage) => listener(message);
      ipcRenderer.on(CHANNEL, handler);
      return () => ipcRenderer.removeListener(CHANNEL, handler);
    },
  },
});
