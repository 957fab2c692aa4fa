// The desktop app's menus and "Start Berth at login", tested in Node: the templates main.ts hands
// to Menu.buildFromTemplate, the settings / XDG autostart side of the login item, and main.ts
// itself run against a stand-in for the 'electron' module (Electron's binary is not available here).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';

import { DOCKER_DOCS_URL, TROUBLESHOOT_ROUTE, applicationMenuTemplate, dashboardUrlAt, trayMenuTemplate, type MenuEntry } from '../electron/src/electron-main/menus.js';
import { applyXdgAutostart, linuxLoginExecutable, saveAutoStart, xdgAutostartEntry, xdgAutostartFile } from '../electron/src/electron-main/start-at-login.js';
import { loadSettings, saveSettings, validateSettings } from '../electron/src/node/host/settings.js';

function recorder() {
  const calls: string[] = [];
  const actions = {
    openExternal: (url: string) => void calls.push(`open ${url}`),
    showDashboard: (route?: string) => void calls.push(`dashboard ${route ?? ''}`.trim()),
    start: () => void calls.push('start'),
    stop: () => void calls.push('stop'),
    setStartAtLogin: (enabled: boolean) => void calls.push(`start-at-login ${enabled}`),
    quit: () => void calls.push('quit'),
  };
  return { calls, actions };
}

const submenu = (menu: MenuEntry[], label: string): MenuEntry[] => {
  const found = menu.find((m) => m.label === label);
  assert.ok(found?.submenu, `no ${label} menu`);
  return found.submenu;
};
const roles = (items: MenuEntry[]) => items.map((i) => i.role).filter(Boolean);
const item = (items: MenuEntry[], label: string): MenuEntry => {
  const found = items.find((i) => i.label === label);
  assert.ok(found, `no "${label}" item`);
  return found;
};

describe('application menu', () => {
  it('has Berth, Edit, View, Window and Help on every platform', () => {
    for (const platform of ['darwin', 'win32', 'linux'] as const) {
      const { actions } = recorder();
      assert.deepEqual(applicationMenuTemplate(platform, 'Berth', actions).map((m) => m.label), ['Berth', 'Edit', 'View', 'Window', 'Help']);
    }
  });

  it('follows macOS conventions in the app menu: About, Services, Hide, Quit', () => {
    const { actions } = recorder();
    const menu = applicationMenuTemplate('darwin', 'Berth', actions);
    assert.deepEqual(roles(submenu(menu, 'Berth')), ['about', 'services', 'hide', 'hideOthers', 'unhide', 'quit']);
    assert.equal(item(submenu(menu, 'Berth'), 'Quit Berth').role, 'quit');
    assert.deepEqual(roles(submenu(menu, 'Window')), ['minimize', 'zoom', 'front']);
    assert.ok(!roles(submenu(menu, 'Help')).includes('about'), 'About is in the app menu on macOS');
  });

  it('puts Quit in the Berth menu and About in Help elsewhere', () => {
    const { actions } = recorder();
    const menu = applicationMenuTemplate('linux', 'Berth', actions);
    assert.deepEqual(roles(submenu(menu, 'Berth')), ['quit']);
    assert.deepEqual(roles(submenu(menu, 'Window')), ['minimize', 'close']);
    assert.equal(item(submenu(menu, 'Help'), 'About Berth').role, 'about');
  });

  it('gives the usual editing and view roles', () => {
    const { actions } = recorder();
    const menu = applicationMenuTemplate('win32', 'Berth', actions);
    assert.deepEqual(roles(submenu(menu, 'Edit')), ['undo', 'redo', 'cut', 'copy', 'paste', 'delete', 'selectAll']);
    assert.deepEqual(roles(submenu(menu, 'View')), ['reload', 'forceReload', 'toggleDevTools', 'resetZoom', 'zoomIn', 'zoomOut', 'togglefullscreen']);
    assert.ok(roles(submenu(applicationMenuTemplate('darwin', 'Berth', actions), 'Edit')).includes('pasteAndMatchStyle'));
  });

  it('links Help to the Docker documentation and to the dashboard\'s Troubleshoot page', () => {
    const { calls, actions } = recorder();
    const help = submenu(applicationMenuTemplate('linux', 'Berth', actions), 'Help');
    item(help, 'Docker Documentation').click?.();
    item(help, 'Troubleshoot').click?.();
    assert.deepEqual(calls, [`open ${DOCKER_DOCS_URL}`, 'dashboard #/troubleshoot']);
    assert.equal(TROUBLESHOOT_ROUTE, '#/troubleshoot');
  });

  it('navigates the dashboard URL to a route, keeping its token', () => {
    assert.equal(dashboardUrlAt('http://127.0.0.1:41234/?token=ab12', '#/troubleshoot'), 'http://127.0.0.1:41234/?token=ab12#/troubleshoot');
    assert.equal(dashboardUrlAt('http://127.0.0.1:41234/?token=ab12#/images', '#/troubleshoot'), 'http://127.0.0.1:41234/?token=ab12#/troubleshoot');
  });
});

describe('tray menu', () => {
  it('offers Start only when stopped and Stop only when running', () => {
    const { actions } = recorder();
    const stopped = trayMenuTemplate('stopped', false, actions);
    assert.equal(item(stopped, 'Berth is stopped').enabled, false);
    assert.equal(item(stopped, 'Start').enabled, true);
    assert.equal(item(stopped, 'Stop').enabled, false);
    const running = trayMenuTemplate('running', false, actions);
    assert.equal(item(running, 'Start').enabled, false);
    assert.equal(item(running, 'Stop').enabled, true);
    assert.equal(item(trayMenuTemplate('starting', false, actions), 'Stop').enabled, false);
  });

  it('shows "Start Berth at login" as a checkbox bound to the setting, and asks for the opposite when clicked', () => {
    const { calls, actions } = recorder();
    const off = item(trayMenuTemplate('running', false, actions), 'Start Berth at login');
    assert.equal(off.type, 'checkbox');
    assert.equal(off.checked, false);
    off.click?.();
    const on = item(trayMenuTemplate('running', true, actions), 'Start Berth at login');
    assert.equal(on.checked, true);
    on.click?.();
    assert.deepEqual(calls, ['start-at-login true', 'start-at-login false']);
  });
});

describe('start at login', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'berth-login-'));
  after(async () => fs.rm(root, { recursive: true, force: true }));

  it('saves autoStart and keeps the other settings', async () => {
    const file = path.join(root, 'home', 'settings.json');
    // No settings yet: the defaults, with autoStart on.
    assert.equal((await saveAutoStart(file, true)).autoStart, true);
    assert.equal((await loadSettings(file)).autoStart, true);
    const custom = validateSettings({ cpus: 1, memoryMiB: 1024, diskGiB: 20, sharedFolders: ['/srv/code'], autoStart: true });
    await saveSettings(file, custom);
    await saveAutoStart(file, false);
    assert.deepEqual(await loadSettings(file), { ...custom, autoStart: false });
  });

  it('leaves a settings file it cannot read alone and says why', async () => {
    const file = path.join(root, 'broken', 'settings.json');
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, '{"memoryMiB": 1}');
    await assert.rejects(saveAutoStart(file, true), /memoryMiB must be at least 512/);
    assert.equal(await fs.readFile(file, 'utf8'), '{"memoryMiB": 1}');
  });

  it('writes and removes the XDG autostart entry on Linux', async () => {
    const env = { XDG_CONFIG_HOME: path.join(root, 'config') };
    const file = xdgAutostartFile(env);
    assert.equal(file, path.join(root, 'config', 'autostart', 'berth-desktop.desktop'));
    await applyXdgAutostart(true, '/opt/Berth/berth-desktop', env);
    const entry = await fs.readFile(file, 'utf8');
    assert.match(entry, /^\[Desktop Entry\]\nType=Application\nName=Berth\n/);
    assert.match(entry, /^Exec="\/opt\/Berth\/berth-desktop"$/m);
    await applyXdgAutostart(false, '/opt/Berth/berth-desktop', env);
    assert.equal(existsSync(file), false);
    // Turning it off twice is fine.
    await applyXdgAutostart(false, '/opt/Berth/berth-desktop', env);
  });

  it('quotes the executable as the Desktop Entry spec asks', () => {
    const exec = (p: string) => /^Exec=(.*)$/m.exec(xdgAutostartEntry(p))?.[1];
    assert.equal(exec('/home/me/Apps/Berth 1.0.AppImage'), '"/home/me/Apps/Berth 1.0.AppImage"');
    // " ` $ and \ are backslash-escaped inside the quotes, then every backslash is doubled by the
    // string-value escaping; % is a field code and becomes %%.
    assert.equal(exec('/a"b`c$d\\e%f'), '"/a\\\\"b\\\\`c\\\\$d\\\\\\\\e%%f"');
  });

  it('starts the AppImage file rather than its temporary mount', () => {
    assert.equal(linuxLoginExecutable('/tmp/.mount_BerthX/berth-desktop', { APPIMAGE: '/home/me/Berth.AppImage' }), '/home/me/Berth.AppImage');
    assert.equal(linuxLoginExecutable('/opt/Berth/berth-desktop', {}), '/opt/Berth/berth-desktop');
  });
});

// A stand-in for the parts of Electron's API main.ts uses: it records the menus, IPC handlers,
// login-item calls and loaded URLs on globalThis. loadURL never settles, so main.ts stops after
// opening its window and never reaches startVm (no VM is booted here).
const STAND_IN = `
const state = globalThis.electronStandIn = { handlers: {}, events: {}, loaded: [], opened: [], loginItems: [], appMenu: undefined, tray: undefined, powerEvents: [] };
export const app = {
  isPackaged: true,
  requestSingleInstanceLock: () => true,
  on: (name, listener) => { state.events[name] = listener; },
  whenReady: () => Promise.resolve(),
  isReady: () => true,
  quit() {},
  exit() {},
  getVersion: () => '0.1.0',
  setAboutPanelOptions(options) { state.about = options; },
  setLoginItemSettings(settings) { state.loginItems.push(settings); },
};
export const ipcMain = { handle: (channel, handler) => { state.handlers[channel] = handler; }, on: (channel, listener) => { state.handlers[channel] = listener; } };
export const Menu = { buildFromTemplate: (template) => ({ template }), setApplicationMenu: (menu) => { state.appMenu = menu.template; } };
export class Tray { constructor() { state.tray = this; } setToolTip(text) { this.tooltip = text; } setContextMenu(menu) { this.menu = menu.template; } }
export const nativeImage = { createEmpty: () => ({}) };
export const powerMonitor = { on: (event) => { state.powerEvents.push(event); } };
export const shell = { openExternal: async (url) => { state.opened.push(url); } };
export class BrowserWindow {
  constructor(options) { this.options = options; this.webContents = { send() {} }; }
  on() {}
  show() {}
  focus() {}
  loadURL(url) { state.loaded.push(url); return new Promise(() => {}); }
}
`;

// Drives main.ts through the stand-in and prints what it observed as JSON.
const HARNESS = `
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
process.resourcesPath = process.env.TEST_RESOURCES;
await import(process.env.TEST_MAIN);
const state = globalThis.electronStandIn;
const waitFor = async (what, check) => {
  for (const end = Date.now() + 10000; Date.now() < end; await new Promise((r) => setTimeout(r, 10))) if (check()) return;
  throw new Error('timed out waiting for ' + what);
};
const box = () => state.tray?.menu?.find((item) => item.label === 'Start Berth at login');
await waitFor('the dashboard window', () => state.loaded.length > 0 && box());
const report = { channels: Object.keys(state.handlers).sort(), menus: state.appMenu.map((m) => m.label), imageDir: process.env.BERTH_IMAGE_DIR, checkedAtLaunch: box().checked, powerEvents: state.powerEvents };
box().click();
await waitFor('the checkbox to turn on', () => box().checked === true);
report.savedAfterClick = JSON.parse(readFileSync(process.env.TEST_SETTINGS, 'utf8')).autoStart;
report.autostartAfterClick = existsSync(process.env.TEST_AUTOSTART);
// A change made elsewhere (the dashboard, the CLI): replaced by a rename, as saveSettings does.
const settings = JSON.parse(readFileSync(process.env.TEST_SETTINGS, 'utf8'));
writeFileSync(process.env.TEST_SETTINGS + '.tmp', JSON.stringify({ ...settings, autoStart: false }));
renameSync(process.env.TEST_SETTINGS + '.tmp', process.env.TEST_SETTINGS);
await waitFor('the outside change to apply', () => box().checked === false && !existsSync(process.env.TEST_AUTOSTART));
report.autostartAfterOutsideChange = existsSync(process.env.TEST_AUTOSTART);
// The preload's host API over IPC: a settings change from the page reaches the login item too.
const replies = [];
const sender = { send: (channel, message) => replies.push([channel, message]), once() {}, isDestroyed: () => false };
state.handlers['berth:host-api']({ sender }, { id: 7, method: 'host.call', params: { name: 'settings.set', args: { autoStart: true } } });
await waitFor('the host API to answer', () => replies.length > 0);
report.hostApiReply = replies[0];
await waitFor('the login item to follow', () => existsSync(process.env.TEST_AUTOSTART));
report.autostartAfterIpc = existsSync(process.env.TEST_AUTOSTART);
state.appMenu.find((m) => m.label === 'Help').submenu.find((i) => i.label === 'Troubleshoot').click();
await waitFor('the troubleshoot page', () => state.loaded.at(-1).endsWith('#/troubleshoot'));
report.loaded = state.loaded;
report.loginItems = state.loginItems;
console.log(JSON.stringify(report));
process.exit(0);
`;

describe('main process with a stand-in for Electron', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'berth-main-'));
  after(async () => fs.rm(root, { recursive: true, force: true }));

  it('sets the menus, keeps the IPC channels, and keeps the login item in step with the autoStart setting', async () => {
    const standIn = path.join(root, 'electron-stand-in.mjs');
    await fs.writeFile(standIn, STAND_IN);
    // Resolves the bare specifier 'electron' to the stand-in; everything else as usual (tsx runs
    // main.ts from source).
    await fs.writeFile(path.join(root, 'hooks.mjs'), `export async function resolve(specifier, context, next) {
  return specifier === 'electron' ? { url: ${JSON.stringify(pathToFileURL(standIn).href)}, shortCircuit: true } : next(specifier, context);
}\n`);
    await fs.writeFile(path.join(root, 'register.mjs'), `import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n`);
    await fs.writeFile(path.join(root, 'harness.mjs'), HARNESS);
    const home = path.join(root, 'home');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HOME: home,
      BERTH_HOME: path.join(home, '.berth'),
      XDG_CONFIG_HOME: path.join(home, '.config'),
      TEST_MAIN: pathToFileURL(path.resolve(import.meta.dirname, '../electron/src/electron-main/main.ts')).href,
      TEST_RESOURCES: path.join(root, 'resources'),
      TEST_SETTINGS: path.join(home, '.berth', 'settings.json'),
      TEST_AUTOSTART: path.join(home, '.config', 'autostart', 'berth-desktop.desktop'),
    };
    delete env.BERTH_IMAGE_DIR;
    delete env.APPIMAGE;
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--import', pathToFileURL(path.join(root, 'register.mjs')).href, path.join(root, 'harness.mjs')], { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    const report = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Record<string, unknown> & { loaded: string[] };
    // The one channel the preload uses: the typed host API.
    assert.deepEqual(report.channels, ['berth:host-api']);
    const [channel, reply] = report.hostApiReply as [string, { id: number; result: { status: number; body: { settings: { autoStart: boolean } } } }];
    assert.equal(channel, 'berth:host-api');
    assert.equal(reply.id, 7);
    assert.equal(reply.result.body.settings.autoStart, true);
    assert.deepEqual(report.menus, ['Berth', 'Edit', 'View', 'Window', 'Help']);
    // Waking from sleep re-checks the link to the guest.
    assert.deepEqual(report.powerEvents, ['resume']);
    // Packaged: the guest image is looked for in the resources folder.
    assert.equal(report.imageDir, path.join(root, 'resources', 'vm-image'));
    assert.equal(report.checkedAtLaunch, false);
    assert.equal(report.savedAfterClick, true);
    assert.equal(report.autostartAfterClick, true);
    assert.equal(report.autostartAfterOutsideChange, false);
    assert.equal(report.autostartAfterIpc, true);
    // On Linux the XDG entry is the login item; Electron's call is for macOS and Windows.
    assert.deepEqual(report.loginItems, []);
    assert.match(report.loaded[0]!, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+$/);
    assert.equal(report.loaded.at(-1), `${report.loaded[0]}#/troubleshoot`);
  });
});
