// The application menu and the tray menu as plain templates. Kept apart from main.ts, and free of
// any import of 'electron', so they can be unit-tested in Node (Electron's binary is not available
// everywhere the tests run); main.ts hands them to Menu.buildFromTemplate as they are.

/** The roles these menus use: a subset of Electron's, so a MenuEntry is a MenuItemConstructorOptions. */
export type MenuRole =
  | 'about' | 'services' | 'hide' | 'hideOthers' | 'unhide' | 'quit'
  | 'undo' | 'redo' | 'cut' | 'copy' | 'paste' | 'pasteAndMatchStyle' | 'delete' | 'selectAll'
  | 'reload' | 'forceReload' | 'toggleDevTools' | 'resetZoom' | 'zoomIn' | 'zoomOut' | 'togglefullscreen'
  | 'window' | 'minimize' | 'zoom' | 'front' | 'close' | 'help';

export interface MenuEntry {
  label?: string;
  role?: MenuRole;
  type?: 'normal' | 'separator' | 'checkbox';
  accelerator?: string;
  enabled?: boolean;
  checked?: boolean;
  submenu?: MenuEntry[];
  click?: () => void;
}

export const DOCKER_DOCS_URL = 'https://docs.docker.com/';
export const DOCKER_CLI_REFERENCE_URL = 'https://docs.docker.com/reference/cli/docker/';
/** The dashboard's troubleshooting page (hash routing, see renderer/src/App.tsx). */
export const TROUBLESHOOT_ROUTE = '#/troubleshoot';

export interface AppMenuActions {
  openExternal(url: string): void;
  /** Shows the dashboard window at a route of its hash router. */
  showDashboard(route?: string): void;
}

const separator: MenuEntry = { type: 'separator' };

/** Berth / Edit / View / Window / Help, following each platform's conventions. */
export function applicationMenuTemplate(platform: NodeJS.Platform, appName: string, actions: AppMenuActions): MenuEntry[] {
  const mac = platform === 'darwin';
  // macOS puts About, Services, Hide and Quit in the menu named after the app; elsewhere that menu
  // only needs the dashboard and Quit, and About moves to Help.
  const berth: MenuEntry = {
    label: appName,
    submenu: mac
      ? [
          { role: 'about', label: `About ${appName}` },
          separator,
          { label: 'Open Dashboard', click: () => actions.showDashboard() },
          separator,
          { role: 'services' },
          separator,
          { role: 'hide', label: `Hide ${appName}` },
          { role: 'hideOthers' },
          { role: 'unhide' },
          separator,
          { role: 'quit', label: `Quit ${appName}` },
        ]
      : [
          { label: 'Open Dashboard', click: () => actions.showDashboard() },
          separator,
          { role: 'quit', label: `Quit ${appName}` },
        ],
  };
  const edit: MenuEntry = {
    label: 'Edit',
    // The logs search box and the terminal rely on these: without an Edit menu, macOS has no
    // copy/paste shortcuts in the window at all.
    submenu: [
      { role: 'undo' },
      { role: 'redo' },
      separator,
      { role: 'cut' },
      { role: 'copy' },
      { role: 'paste' },
      ...(mac ? [{ role: 'pasteAndMatchStyle' } as MenuEntry] : []),
      { role: 'delete' },
      separator,
      { role: 'selectAll' },
    ],
  };
  const view: MenuEntry = {
    label: 'View',
    submenu: [
      { role: 'reload' },
      { role: 'forceReload' },
      { role: 'toggleDevTools' },
      separator,
      { role: 'resetZoom' },
      { role: 'zoomIn' },
      { role: 'zoomOut' },
      separator,
      { role: 'togglefullscreen' },
    ],
  };
  const windowMenu: MenuEntry = {
    label: 'Window',
    // role 'window' lets macOS append its list of open windows.
    role: 'window',
    submenu: mac ? [{ role: 'minimize' }, { role: 'zoom' }, separator, { role: 'front' }] : [{ role: 'minimize' }, { role: 'close' }],
  };
  const help: MenuEntry = {
    label: 'Help',
    // role 'help' gives macOS's menu search field.
    role: 'help',
    submenu: [
      { label: 'Docker Documentation', click: () => actions.openExternal(DOCKER_DOCS_URL) },
      { label: 'Docker CLI Reference', click: () => actions.openExternal(DOCKER_CLI_REFERENCE_URL) },
      separator,
      { label: 'Troubleshoot', click: () => actions.showDashboard(TROUBLESHOOT_ROUTE) },
      ...(mac ? [] : [separator, { role: 'about', label: `About ${appName}` } as MenuEntry]),
    ],
  };
  return [berth, edit, view, windowMenu, help];
}

export type VmState = 'starting' | 'running' | 'stopping' | 'stopped';

export interface TrayMenuActions {
  start(): void;
  stop(): void;
  showDashboard(route?: string): void;
  openExternal(url: string): void;
  /** Called with the new value: the checkbox shows `startAtLogin` until the menu is rebuilt. */
  setStartAtLogin(enabled: boolean): void;
  quit(): void;
}

export function trayMenuTemplate(state: VmState, startAtLogin: boolean, actions: TrayMenuActions): MenuEntry[] {
  return [
    { label: `Berth is ${state}`, enabled: false },
    separator,
    { label: 'Start', enabled: state === 'stopped', click: () => actions.start() },
    { label: 'Stop', enabled: state === 'running', click: () => actions.stop() },
    { label: 'Open Dashboard', click: () => actions.showDashboard() },
    { label: 'Docker Documentation', click: () => actions.openExternal(DOCKER_DOCS_URL) },
    separator,
    // The new value is computed here rather than read back from Electron's toggled MenuItem, so the
    // saved setting, not the menu, stays the one source of truth.
    { label: 'Start Berth at login', type: 'checkbox', checked: startAtLogin, click: () => actions.setStartAtLogin(!startAtLogin) },
    separator,
    { label: 'Quit Berth', click: () => actions.quit() },
  ];
}

/** The dashboard URL with a hash route, replacing any route it already has. */
export function dashboardUrlAt(url: string, route: string): string {
  const target = new URL(url);
  target.hash = route;
  return target.toString();
}
