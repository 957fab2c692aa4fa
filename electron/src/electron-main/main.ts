// The desktop app's main process: a thin shell over the host-side modules. One instance; one
// window showing the dashboard (served in-process, bridged to the VM's engine socket); a tray
// icon with start / stop / status; the VM started on launch and stopped cleanly on quit.
import path from 'node:path';

import { BrowserWindow, Menu, Tray, app, ipcMain, nativeImage, shell } from 'electron';

import { startDashboard, type Dashboard } from '../node/dashboard/server.js';
import { HostAgent, type AgentStatus } from '../node/host/agent.js';
import { berthPaths, imageDir } from '../node/host/paths.js';
import { loadSettings } from '../node/host/settings.js';
import { QemuProvider } from '../node/vm/qemu-provider.js';

const paths = berthPaths();
let agent: HostAgent | undefined;
let dashboard: Dashboard | undefined;
let window: BrowserWindow | undefined;
let tray: Tray | undefined;
let vmState: AgentStatus['state'] = 'stopped';

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  window?.webContents.send('berth:log', line);
}

async function startVm(): Promise<void> {
  if (agent) return;
  vmState = 'starting';
  refreshTray();
  const settings = await loadSettings(paths.settings);
  agent = new HostAgent(paths, settings, new QemuProvider(), imageDir(), log, () => {
    agent = undefined;
    vmState = 'stopped';
    refreshTray();
  });
  try {
    await agent.run();
    vmState = 'running';
  } catch (err) {
    log(`the VM did not start: ${err instanceof Error ? err.message : String(err)}`);
    agent = undefined;
    vmState = 'stopped';
  }
  refreshTray();
}

async function stopVm(): Promise<void> {
  const current = agent;
  agent = undefined;
  vmState = 'stopping';
  refreshTray();
  await current?.stop();
  vmState = 'stopped';
  refreshTray();
}

function refreshTray(): void {
  if (!tray) return;
  tray.setToolTip(`Berth: ${vmState}`);
  tray.setContextMenu(Menu.buildFromTemplate([
    { label: `Berth is ${vmState}`, enabled: false },
    { type: 'separator' },
    { label: 'Start', enabled: vmState === 'stopped', click: () => void startVm() },
    { label: 'Stop', enabled: vmState === 'running', click: () => void stopVm() },
    { label: 'Open Dashboard', click: () => (window ? window.show() : void createWindow()) },
    { label: 'Docker documentation', click: () => void shell.openExternal('https://docs.docker.com/') },
    { type: 'separator' },
    { label: 'Quit Berth', click: () => app.quit() },
  ]));
}

async function createWindow(): Promise<void> {
  window = new BrowserWindow({
    width: 1200,
    height: 800,
    title: 'Berth',
    webPreferences: { preload: path.join(import.meta.dirname, 'preload.cjs'), contextIsolation: true, nodeIntegration: false, sandbox: true },
  });
  window.on('closed', () => (window = undefined));
  const rendererDir = app.isPackaged ? path.join(process.resourcesPath, 'renderer') : path.resolve(import.meta.dirname, '../../../renderer/dist');
  dashboard ??= await startDashboard({ engineSocket: paths.dockerSocket, rendererDir });
  await window.loadURL(dashboard.url);
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => window?.show());
  ipcMain.handle('berth:status', async () => (agent ? agent.status() : { state: vmState }));
  ipcMain.handle('berth:start', () => startVm());
  ipcMain.handle('berth:stop', () => stopVm());
  ipcMain.handle('berth:launch-at-login', (_event, enabled: boolean) => app.setLoginItemSettings({ openAtLogin: Boolean(enabled) }));
  void app.whenReady().then(async () => {
    tray = new Tray(nativeImage.createEmpty());
    refreshTray();
    await createWindow();
    await startVm();
  });
  let quitting = false;
  app.on('before-quit', (event) => {
    if (quitting) return;
    quitting = true;
    event.preventDefault();
    void stopVm().finally(() => {
      dashboard?.close();
      app.exit(0);
    });
  });
  // Closing the window keeps Berth running in the tray, as Docker Desktop does.
  app.on('window-all-closed', () => undefined);
}
