// The one bridge between the sandboxed renderer and the main process: the VM's lifecycle. Engine
// calls go through the dashboard's WebSocket host API, the same in the app and in a browser.
import { contextBridge, ipcRenderer } from 'electron';

contextBridge.exposeInMainWorld('berth', {
  status: () => ipcRenderer.invoke('berth:status'),
  start: () => ipcRenderer.invoke('berth:start'),
  stop: () => ipcRenderer.invoke('berth:stop'),
  setLaunchAtLogin: (enabled: boolean) => ipcRenderer.invoke('berth:launch-at-login', enabled),
  onLog: (listener: (line: string) => void) => {
    const handler = (_event: unknown, line: string) => listener(line);
    ipcRenderer.on('berth:log', handler);
    return () => ipcRenderer.removeListener('berth:log', handler);
  },
});
