// "Start Berth at login": the `autoStart` setting in $BERTH_HOME/settings.json is the one source of
// truth (the tray, the dashboard's settings page and `berth settings set autoStart` all write it);
// the operating system's login item follows it. Plain Node, no 'electron' import, so it is tested
// without Electron; main.ts supplies app.setLoginItemSettings for macOS and Windows.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { loadSettings, saveSettings, validateSettings, type Settings } from '../node/host/settings.js';

/** Sets `autoStart`, keeping every other setting, and returns what was saved. */
export async function saveAutoStart(settingsFile: string, enabled: boolean): Promise<Settings> {
  const settings = validateSettings({ ...(await loadSettings(settingsFile)), autoStart: enabled });
  await saveSettings(settingsFile, settings);
  return settings;
}

// Electron's setLoginItemSettings does nothing on Linux; desktops there start what the XDG
// autostart folder lists (https://specifications.freedesktop.org/autostart-spec/latest/).
export function xdgAutostartFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), 'autostart', 'berth-desktop.desktop');
}

/**
 * The autostart entry for `executable`. The Exec value is quoted as the Desktop Entry spec asks
 * (\ " ` $ escaped inside double quotes), then the string-level escaping doubles every backslash
 * again, and % (a field code) becomes %%, so any path survives.
 */
export function xdgAutostartEntry(executable: string): string {
  const quoted = `"${executable.replace(/[\\"`$]/g, '\\$&')}"`;
  const exec = quoted.replace(/\\/g, '\\\\').replace(/%/g, '%%');
  return ['[Desktop Entry]', 'Type=Application', 'Name=Berth', 'Comment=Start Berth at login', `Exec=${exec}`, 'Terminal=false', 'X-GNOME-Autostart-enabled=true', ''].join('\n');
}

/** Writes or removes the XDG autostart entry. */
export async function applyXdgAutostart(enabled: boolean, executable: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const file = xdgAutostartFile(env);
  if (!enabled) {
    await fs.rm(file, { force: true });
    return;
  }
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(`${file}.tmp`, xdgAutostartEntry(executable));
  await fs.rename(`${file}.tmp`, file);
}

/**
 * What to start at login on Linux: an AppImage runs from a temporary mount that changes on every
 * launch, so the AppImage file itself (its runtime sets $APPIMAGE) rather than process.execPath.
 */
export function linuxLoginExecutable(execPath: string, env: NodeJS.ProcessEnv = process.env): string {
  return env.APPIMAGE || execPath;
}
