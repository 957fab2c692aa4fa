// The host calls behind the dashboard's API: status, settings, checks, diagnostics, factory reset,
// the VM's lifecycle with progress, host terminals and volume browsing. One implementation for
// `berth dashboard` and the Electron window; `mode` says whether a VM stands behind the socket.
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';

import type { BerthUsageResponse, SystemDataUsageResponse, SystemVersion } from '../../common/engine-types.js';
import type { Check, HostCallName, HostSettings, HostStatus, HostStreamName, MachineUsage, SettingsView } from '../../common/host-api.js';
import { ensureDockerContext, type VmControl } from '../host/agent-process.js';
import { runChecks } from '../host/checks.js';
import { writeDiagnostics } from '../host/diagnostics.js';
import { openHostTerminal, type HostTerminal } from '../host/host-terminal.js';
import { dataDiskUsage } from '../host/data-disk.js';
import type { BerthPaths } from '../host/paths.js';
import { loadSettings, restartNeeded, saveSettings, validateSettings } from '../host/settings.js';
import { callEngine, engineJson, type LineSink, type OpenStream } from './engine-calls.js';
import { browseVolume } from './volume-browser.js';

export interface HostServices {
  call(name: HostCallName, args: unknown): Promise<unknown>;
  stream(name: HostStreamName, args: unknown, sink: LineSink): OpenStream;
  diagnostics(out: Writable): Promise<void>;
}

export interface HostServicesOptions {
  engineSocket: string;
  paths: BerthPaths;
  /** Berth's VM, when the engine socket is the VM's forwarded one; absent with --host. */
  vm?: VmControl;
}

const ENGINE_TIMEOUT_MS = 5000;
const DISK_USAGE_TTL_MS = 15_000;


const BERTH_VERSION = (() => {
  try {
    return (JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../../package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms / 1000} s`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function createHostServices(options: HostServicesOptions): HostServices {
  const { engineSocket, paths, vm } = options;
  const engineGet = (apiPath: string): Promise<unknown> => withTimeout(engineJson<unknown>(engineSocket, 'GET', apiPath), ENGINE_TIMEOUT_MS, `GET ${apiPath}`);
  let diskUsage: { at: number; value: MachineUsage['engineData'] } | undefined;

  async function engineData(): Promise<MachineUsage['engineData']> {
    if (diskUsage && Date.now() - diskUsage.at < DISK_USAGE_TTL_MS) return diskUsage.value;
    const df = (await engineGet('/system/df')) as SystemDataUsageResponse;
    const value = {
      images: df.LayersSize ?? 0,
      containers: (df.Containers ?? []).reduce((sum, c) => sum + Math.max(0, c.SizeRw ?? 0), 0),
      volumes: (df.Volumes ?? []).reduce((sum, v) => sum + Math.max(0, v.UsageData?.Size ?? 0), 0),
      buildCache: df.BuilderSize ?? 0,
    };
    diskUsage = { at: Date.now(), value };
    return value;
  }

  async function status(): Promise<HostStatus> {
    const agent = vm ? await vm.status() : undefined;
    const result: HostStatus = { mode: vm ? 'vm' : 'socket', engineSocket, engine: { reachable: false }, berthVersion: BERTH_VERSION };
    if (vm) {
      result.vm = agent
        ? { state: agent.state, provider: agent.provider, accel: agent.accel, ...(agent.bootMs !== undefined ? { bootMs: agent.bootMs } : {}), ...(agent.startedAt ? { startedAt: agent.startedAt } : {}), forwardedPorts: agent.ports.length, ...(agent.vmResidentMiB !== undefined ? { residentMiB: agent.vmResidentMiB } : {}), ...(agent.bootMilestones ? { bootMilestones: agent.bootMilestones } : {}) }
        : { state: 'stopped' };
      if (!agent || agent.state !== 'running') return result;
    }
    try {
      const version = (await engineGet('/version')) as SystemVersion;
      result.engine = { reachable: true, version: version.Version, apiVersion: version.ApiVersion, os: `${version.Os}/${version.Arch}`, kernel: version.KernelVersion };
    } catch (err) {
      result.engine = { reachable: false, error: err instanceof Error ? err.message : String(err) };
      return result;
    }
    // Only berthd reports the machine's use; another engine answers 404 and the page says so.
    const usage = await callEngine(engineSocket, 'GET', '/_berth/usage').catch(() => undefined);
    if (usage?.status === 200) result.usage = { ...(usage.body as BerthUsageResponse), engineData: await engineData().catch(() => undefined) };
    return result;
  }

  /** Troubleshoot's checks against a status just read (a broken settings file checks no shares). */
  async function checks(now: HostStatus): Promise<Check[]> {
    const current = await loadSettings(paths.settings).catch(() => undefined);
    return runChecks({ status: now, home: paths.home, sharedFolders: current?.sharedFolders ?? [] });
  }

  async function settingsView(): Promise<SettingsView> {
    const settings = await loadSettings(paths.settings);
    const running = vm ? await vm.status() : undefined;
    const dataDisk = await dataDiskUsage(paths.dataDisk, settings.diskGiB);
    return {
      settings,
      restartNeeded: running?.settings ? restartNeeded(running.settings, settings) : [],
      limits: { cpus: os.cpus().length, memoryMiB: Math.floor(os.totalmem() / 1048576) },
      ...(dataDisk ? { dataDisk } : {}),
    };
  }

  const requireVm = (): VmControl => {
    if (!vm) throw new Error(`no VM to manage: the dashboard is attached to the engine at ${engineSocket}`);
    return vm;
  };

  return {
    async call(name, args) {
      switch (name) {
        case 'status':
          return status();
        case 'settings.get':
          return settingsView();
        case 'settings.set': {
          if (typeof args !== 'object' || args === null || Array.isArray(args)) throw new Error('settings must be an object');
          const current = await loadSettings(paths.settings);
          await saveSettings(paths.settings, validateSettings({ ...current, ...(args as Partial<HostSettings>) }));
          return settingsView();
        }
        case 'checks':
          return checks(await status());
        case 'factory-reset': {
          await requireVm().stop(() => undefined);
          await fs.rm(paths.dataDisk, { force: true });
          await fs.rm(paths.settings, { force: true });
          return null;
        }
        case 'volume.browse': {
          const { volume, path: dir } = (args ?? {}) as { volume?: unknown; path?: unknown };
          if (typeof volume !== 'string' || typeof dir !== 'string') throw new Error('volume.browse needs a volume name and a path');
          return browseVolume(engineSocket, volume, dir);
        }
        default:
          throw new Error(`unknown host call ${JSON.stringify(name)}`);
      }
    },

    stream(name, args, sink) {
      if (name === 'terminal.open') {
        const { cols = 80, rows = 24 } = (args ?? {}) as { cols?: number; rows?: number };
        let terminal: HostTerminal | undefined;
        let cancelled = false;
        openHostTerminal({ engineSocket, cols, rows, onData: (data) => sink.bytes(Buffer.from(data, 'utf8')), onExit: () => sink.end() }).then(
          (opened) => {
            terminal = opened;
            if (cancelled) opened.kill();
          },
          (err: unknown) => sink.error(`cannot open a terminal: ${err instanceof Error ? err.message : String(err)}`),
        );
        return {
          write: (data) => terminal?.write(data),
          resize: (c, r) => terminal?.resize(c, r),
          cancel: () => {
            cancelled = true;
            terminal?.kill();
          },
        };
      }
      const control = requireVm();
      const progress = (line: string) => sink.line(line);
      const steps: Record<string, () => Promise<void>> = {
        'vm.start': async () => {
          await control.start(progress);
          await ensureDockerContext(paths, false);
        },
        'vm.stop': () => control.stop(progress),
        'vm.restart': async () => {
          await control.stop(progress);
          await control.start(progress);
        },
      };
      const step = steps[name];
      if (!step) throw new Error(`unknown host stream ${JSON.stringify(name)}`);
      // The operation goes on when the page goes away: a VM half-started is worse than a page
      // that missed the end.
      step().then(
        () => sink.end(),
        (err: unknown) => sink.error(err instanceof Error ? err.message : String(err)),
      );
      return { cancel: () => undefined };
    },

    async diagnostics(out) {
      const now = await status();
      await writeDiagnostics(out, { status: now, checks: await checks(now), paths, engine: engineGet });
    },
  };
}
