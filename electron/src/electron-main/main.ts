// The desktop app's main process: a thin shell over the host-side modules. One instance; one
// window showing the dashboard (served in-process, bridged to the VM's engine socket); a tray
// icon with start / stop / status and "Start Berth at login"; the application menu; the VM
// started on launch and stopped cleanly on quit. The menus and the login-item logic are plain
// modules (menus.ts, start-at-login.ts) so they are tested without Electron.
import { createWriteStream, mkdirSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';

import { BrowserWindow, Menu, Tray, app, ipcMain, nativeImage, powerMonitor, shell, type WebContents } from 'electron';

import { startDashboard, type Dashboard } from '../node/dashboard/server.js';
import { HostAgent, type AgentStatus } from '../node/host/agent.js';
import type { VmControl } from '../node/host/agent-process.js';
import { berthPaths, imageDir } from '../node/host/paths.js';
import { loadSettings } from '../node/host/settings.js';
import { QemuProvider } from '../node/vm/qemu-provider.js';
import { applicationMenuTemplate, dashboardUrlAt, trayMenuTemplate } from './menus.js';
import { applyXdgAutostart, linuxLoginExecutable, saveAutoStart } from './start-at-login.js';

const paths = berthPaths();
let agent: HostAgent | undefined;
let dashboard: Dashboard | undefined;
let window: BrowserWindow | undefined;
let tray: Tray | undefined;
let vmState: AgentStatus['state'] = 'stopped';
/** The `autoStart` setting as last applied to the operating system. */
let startAtLogin: boolean | undefined;
let settingsWatcher: FSWatcher | undefined;

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// The packaged app carries the guest image in its resources folder (electron/electron-builder.ts),
// where paths.ts's checkout-relative default does not look. Setting the documented override here,
// rather than passing a path around, also covers whatever the host side spawns (the agent) and any
// other caller of imageDir(). An explicit $BERTH_IMAGE_DIR still wins.
if (app.isPackaged && !process.env.BERTH_IMAGE_DIR) process.env.BERTH_IMAGE_DIR = path.join(process.resourcesPath, 'vm-image');

// The same log file as the CLI's background agent: Troubleshoot's diagnostics bundle reads it.
mkdirSync(path.dirname(paths.agentLog), { recursive: true });
const agentLog = createWriteStream(paths.agentLog, { flags: 'a' });

function log(line: string): void {
  const stamped = `${new Date().toISOString()} ${line}\n`;
  process.stdout.write(stamped);
  agentLog.write(stamped);
}

async function startVm(): Promise<void> {
  if (agent) return;
  vmState = 'starting';
  refreshTray();
  const settings = await loadSettings(paths.settings);
  agent = new HostAgent(paths, settings, new QemuProvider(), imageDir(settings.arch), log, () => {
    agent = undefined;
    vmState = 'stopped';
    refreshTray();
  });
  try {
    await agent.run();
    vmState = 'running';
  } catch (err) {
    log(`the VM did not start: ${message(err)}`);
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

/**
 * The VM as the dashboard drives it in the app: the agent runs in this process, so the window's
 * Start / Stop / Restart and the tray act on the same one.
 */
const vmControl: VmControl = {
  status: async () => (agent ? agent.status() : undefined),
  start: async (progress) => {
    progress('Booting the VM…');
    const begin = Date.now();
    await startVm();
    if (vmState !== 'running') throw new Error('the VM did not start (Troubleshoot → Collect diagnostics has the log)');
    progress(`Engine ready in ${((Date.now() - begin) / 1000).toFixed(1)} s.`);
  },
  stop: async (progress) => {
    progress('Stopping containers and shutting the VM down…');
    await stopVm();
    progress('Berth stopped.');
  },
};

function refreshTray(): void {
  if (!tray) return;
  tray.setToolTip(`Berth: ${vmState}`);
  tray.setContextMenu(Menu.buildFromTemplate(trayMenuTemplate(vmState, startAtLogin ?? false, {
    start: () => void startVm(),
    stop: () => void stopVm(),
    showDashboard: (route) => void showDashboard(route),
    openExternal: (url) => void shell.openExternal(url),
    setStartAtLogin: (enabled) => void setStartAtLogin(enabled),
    quit: () => app.quit(),
  })));
}

/** Makes the operating system's login item match `enabled`, and the tray's checkbox with it. */
async function applyStartAtLogin(enabled: boolean): Promise<void> {
  startAtLogin = enabled;
  try {
    // Unpackaged, process.execPath is the bare Electron binary: registering it would start an empty
    // Electron at every login. The setting is still saved and applies once Berth is installed.
    if (!app.isPackaged) return;
    if (process.platform === 'linux') await applyXdgAutostart(enabled, linuxLoginExecutable(process.execPath));
    else app.setLoginItemSettings({ openAtLogin: enabled });
  } finally {
    // The checkbox shows the login item once it is in place, not before (a test read it too early).
    refreshTray();
  }
}

/**
 * The tray's checkbox: save the setting, then apply it. (The dashboard's settings page and `berth
 * settings set` write settings.json themselves; watchSettings applies what they change.)
 */
async function setStartAtLogin(enabled: boolean): Promise<void> {
  try {
    await applyStartAtLogin((await saveAutoStart(paths.settings, enabled)).autoStart);
  } catch (err) {
    log(`"Start Berth at login" was not changed: ${message(err)}`);
    refreshTray();
  }
}

/** Applies the saved setting: at launch, and whenever settings.json changes. */
async function syncStartAtLogin(force: boolean): Promise<void> {
  try {
    const { autoStart } = await loadSettings(paths.settings);
    if (force || autoStart !== startAtLogin) await applyStartAtLogin(autoStart);
  } catch (err) {
    log(`"Start Berth at login": ${message(err)}`);
  }
}

/**
 * The dashboard's settings page and `berth settings set` write settings.json too; watching its
 * folder (saveSettings replaces the file by a rename, which a watch on the file itself would miss)
 * keeps the login item in step without polling.
 */
function watchSettings(): void {
  try {
    mkdirSync(path.dirname(paths.settings), { recursive: true });
    settingsWatcher = watch(path.dirname(paths.settings), (_event, file) => {
      if (file === path.basename(paths.settings)) void syncStartAtLogin(false);
    });
    settingsWatcher.on('error', () => settingsWatcher?.close());
  } catch (err) {
    log(`settings changes made outside the app apply at its next launch: ${message(err)}`);
  }
}

const HOST_API_CHANNEL = 'berth:host-api';
const hostChannels = new Map<WebContents, { receive(request: unknown): void }>();

/**
 * The preload's host API for one page: requests come over IPC, answers go back the same way, and
 * what the page opened (streams, terminals) closes when it reloads, navigates away (not on its
 * hash routes) or goes away.
 */
function hostChannelFor(contents: WebContents): { receive(request: unknown): void } {
  const existing = hostChannels.get(contents);
  if (existing) return existing;
  let onRequest: (request: unknown) => void = () => undefined;
  const closeListeners: (() => void)[] = [];
  const close = () => {
    if (hostChannels.get(contents) !== entry) return;
    hostChannels.delete(contents);
    for (const listener of closeListeners) listener();
  };
  const entry = { receive: (request: unknown) => onRequest(request) };
  hostChannels.set(contents, entry);
  contents.once('destroyed', close);
  contents.once('did-navigate', close);
  dashboard?.attach({
    send: (message) => {
      if (!contents.isDestroyed()) contents.send(HOST_API_CHANNEL, message);
    },
    onRequest: (listener) => (onRequest = listener),
    onClose: (listener) => closeListeners.push(listener),
  });
  return entry;
}

/** Shows the dashboard window, opening it if it was closed, at a route of its hash router. */
async function showDashboard(route?: string): Promise<void> {
  try {
    if (!window) {
      await createWindow(route);
      return;
    }
    window.show();
    window.focus();
    if (route && dashboard) await window.loadURL(dashboardUrlAt(dashboard.url, route));
  } catch (err) {
    log(`the dashboard did not open: ${message(err)}`);
  }
}

async function createWindow(route?: string): Promise<void> {
  window = new BrowserWindow({
    width: 1200,
    height: 800,
    title: 'Berth',
    webPreferences: { preload: path.join(import.meta.dirname, 'preload.cjs'), contextIsolation: true, nodeIntegration: false, sandbox: true },
  });
  window.on('closed', () => (window = undefined));
  const rendererDir = app.isPackaged ? path.join(process.resourcesPath, 'renderer') : path.resolve(import.meta.dirname, '../../../renderer/dist');
  dashboard ??= await startDashboard({ engineSocket: paths.dockerSocket, rendererDir, paths, vm: vmControl });
  await window.loadURL(route ? dashboardUrlAt(dashboard.url, route) : dashboard.url);
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  // A second launch, or (macOS) a click on the Dock icon, brings the dashboard back; before 'ready'
  // no window can be made, and the launch itself opens one.
  const reopen = () => (app.isReady() ? void showDashboard() : undefined);
  app.on('second-instance', reopen);
  app.on('activate', reopen);
  ipcMain.on(HOST_API_CHANNEL, (event, request: unknown) => hostChannelFor(event.sender).receive(request));
  void app.whenReady().then(async () => {
    app.setAboutPanelOptions({ applicationName: 'Berth', applicationVersion: app.getVersion() });
    Menu.setApplicationMenu(Menu.buildFromTemplate(applicationMenuTemplate(process.platform, 'Berth', {
      openExternal: (url) => void shell.openExternal(url),
      showDashboard: (route) => void showDashboard(route),
    })));
    tray = new Tray(nativeImage.createEmpty());
    refreshTray();
    // Applied on every launch, so the login item matches the setting even if it was changed while
    // Berth was not running (or the installer was run again).
    await syncStartAtLogin(true);
    watchSettings();
    // Waking from sleep: the link and the port forwards are checked and re-established at once
    // (the agent also notices the clock jump itself, which is all the CLI's agent has).
    powerMonitor.on('resume', () => void agent?.resumed());
    await showDashboard();
    await startVm();
  });
  let quitting = false;
  app.on('before-quit', (event) => {
    if (quitting) return;
    quitting = true;
    event.preventDefault();
    settingsWatcher?.close();
    void stopVm().finally(() => {
      dashboard?.close();
      app.exit(0);
    });
  });
  // Closing the window keeps Berth running in the tray, as Docker Desktop does.
  app.on('window-all-closed', () => undefined);
}
