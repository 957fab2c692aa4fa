// The host agent, the long-lived owner of the VM: `berth start` runs it as a background process
// (`berth agent`), and the desktop app runs it inside its main process. It boots the VM through its
// provider, keeps one SSH link to the guest (reconnecting with back-off), serves the docker socket
// and the published ports, and answers the CLI on a control socket with one JSON request per
// connection: {"command":"status"} or {"command":"stop"}.
import { existsSync, promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import { GUEST_ENGINE_SOCKET, readMilestones, sharePathProblem, type BootMilestone } from '../vm/guest-contract.js';
import { GuestLink } from '../vm/guest-link.js';
import { checkGuestImage } from '../vm/guest-image.js';
import type { VmProvider } from '../vm/provider.js';
import { defaultAccel, type VmSettings } from '../vm/qemu-command.js';
import { createDataDisk, dataDiskUsage, type DataDiskUsage } from './data-disk.js';
import { serveEngineSocket, waitForEngine } from './forwarding.js';
import { ensureKeyPair } from './keys.js';
import type { BerthPaths } from './paths.js';
import { PortForwarder } from './port-forwarder.js';
import { residentMiB } from './process-memory.js';
import type { Settings } from './settings.js';

const BOOT_TIMEOUT_MS = 180_000;
const SSH_PORT_BASE = 42_000;

export interface AgentStatus {
  state: 'starting' | 'running' | 'stopping' | 'stopped';
  provider: string;
  accel: string;
  vmPid?: number;
  /** The host port forwarded to the guest's SSH server (for `berth ssh`). */
  sshPort: number;
  socket: string;
  ports: { hostIp: string; hostPort: number; proto: string; containerId: string; error?: string }[];
  startedAt?: string;
  bootMs?: number;
  guest?: Record<string, unknown>;
  /** The settings the VM was started with (a change to some needs a restart). */
  settings?: Settings;
  /** The VM's hold on this computer's memory: the QEMU process's resident set. */
  vmResidentMiB?: number;
  /** The data disk's file: what it takes on this computer's disk, against the setting's limit. */
  dataDisk?: DataDiskUsage;
  /** Where the boot went: the guest's uptime in seconds at each milestone it printed on its console. */
  bootMilestones?: Partial<Record<BootMilestone, number>>;
}

export class HostAgent {
  private link: GuestLink | undefined;
  private engine: net.Server | undefined;
  private control: net.Server | undefined;
  private ports: PortForwarder | undefined;
  private state: AgentStatus['state'] = 'starting';
  private startedAt = new Date();
  private bootMs: number | undefined;
  private bootMilestones: AgentStatus['bootMilestones'];
  private sshPort = 0;
  private privateKey = '';
  private wakeWatch: NodeJS.Timeout | undefined;

  constructor(
    private readonly paths: BerthPaths,
    private readonly settings: Settings,
    private readonly provider: VmProvider & { pid?(): number | undefined },
    private readonly imageDir: string,
    private readonly log: (line: string) => void,
    /** What happens when the VM dies on its own: the CLI's agent exits; the desktop app shows it. */
    private readonly onUnexpectedStop: () => void = () => process.exit(1),
  ) {}

  async run(): Promise<void> {
    await fs.mkdir(this.paths.runDir, { recursive: true, mode: 0o700 });
    await fs.writeFile(this.paths.agentPid, String(process.pid));
    this.control = await this.serveControl();
    checkGuestImage(this.imageDir, this.settings.arch);
    const keys = await ensureKeyPair(this.paths.privateKey, this.paths.publicKey);
    this.privateKey = keys.privateKey;
    await fs.mkdir(path.dirname(this.paths.dataDisk), { recursive: true });
    if (!existsSync(this.paths.dataDisk)) await createDataDisk(this.paths.dataDisk, this.settings.diskGiB);
    this.sshPort = await freePort(SSH_PORT_BASE);
    const vm: VmSettings = {
      cpus: this.settings.cpus,
      memoryMiB: this.settings.memoryMiB,
      imageDir: this.imageDir,
      arch: this.settings.arch,
      dataDisk: this.paths.dataDisk,
      sshPort: this.sshPort,
      authorizedKey: keys.publicKey,
      consoleLog: this.paths.consoleLog,
      sharedFolders: Object.fromEntries(this.guestFolders().map((folder, i) => [`share${i}`, folder])),
      debugShell: process.env.BERTH_DEBUG_SHELL === '1',
      runDir: this.paths.runDir,
    };
    await fs.rm(this.paths.consoleLog, { force: true });
    this.provider.on('exit', (code: number | null, stderr: string) => void this.onVmExit(code, stderr));
    await this.provider.start(vm);
    this.log(`VM started (${this.provider.name}, ${this.settings.arch}, accel ${defaultAccel(this.settings.arch)}), SSH forwarded on 127.0.0.1:${this.sshPort}`);
    this.link = await GuestLink.connect({ port: this.sshPort, privateKey: this.privateKey, timeoutMs: BOOT_TIMEOUT_MS });
    this.watchLink();
    this.watchForWake();
    this.engine = await serveEngineSocket(this.paths.dockerSocket, GUEST_ENGINE_SOCKET, () => this.link);
    await waitForEngine(this.paths.dockerSocket, BOOT_TIMEOUT_MS);
    this.ports = new PortForwarder(this.paths.dockerSocket, () => this.link);
    await this.ports.start();
    this.bootMs = Date.now() - this.startedAt.getTime();
    // The later of a milestone printed twice (berthd restarted during the boot) is the one that counted.
    const consoleText = await fs.readFile(this.paths.consoleLog, 'utf8').catch(() => '');
    this.bootMilestones = Object.fromEntries(readMilestones(consoleText).map((m) => [m.milestone, m.uptime]));
    this.state = 'running';
    this.log(`engine ready in ${this.bootMs} ms at ${this.paths.dockerSocket}`);
  }

  /**
   * The shared folders the guest can mount at their own paths. One it cannot (a Windows path, or
   * one that would cover the guest's system folders, such as /usr) is left out and logged rather
   * than keeping the VM from starting: the default share is the home folder, wherever that is.
   */
  private guestFolders(): string[] {
    return this.settings.sharedFolders.flatMap((folder) => {
      const clean = folder.length > 1 ? folder.replace(/\/+$/, '') : folder;
      const problem = sharePathProblem(clean);
      if (!problem) return [clean];
      this.log(`shared folder ${folder} left out: ${problem}`);
      return [];
    });
  }

  /** A dropped link while the VM runs: the guest restarted berthd, or the host slept. Reconnect. */
  private watchLink(): void {
    this.link?.onClose(() => {
      if (this.state !== 'running') return;
      this.log('link to the guest lost, reconnecting');
      void (async () => {
        // Attempts are a connection on this machine: short waits between them, so the link is back
        // within a second of the guest answering again.
        for (let delay = 250; this.state === 'running'; delay = Math.min(delay * 2, 1000)) {
          try {
            const link = await GuestLink.connect({ port: this.sshPort, privateKey: this.privateKey, timeoutMs: 10_000 });
            this.link = link;
            // A restarted berthd answers SSH a moment before its engine listens.
            await waitForEngine(this.paths.dockerSocket, 10_000).catch((err: unknown) => {
              link.close();
              throw err;
            });
            this.watchLink();
            this.ports?.stop();
            await this.ports?.start();
            this.log('link to the guest restored');
            return;
          } catch {
            await new Promise((r) => setTimeout(r, delay));
          }
        }
      })();
    });
  }

  /**
   * After the host slept (Electron's powerMonitor, or the clock jump the agent notices itself):
   * a link that does not answer within 2 s is dropped, and the reconnection loop brings it and the
   * port forwards back. The guest sets its own clock from the RTC (runtime-agent/src/vm/guest-clock.ts).
   */
  async resumed(): Promise<void> {
    const link = this.link;
    if (this.state !== 'running' || !link) return;
    const answered = await Promise.race([link.control('status').then(() => true, () => false), new Promise<boolean>((r) => setTimeout(() => r(false), 2000))]);
    if (answered) return;
    this.log('the guest did not answer after the host woke: reconnecting');
    link.drop();
  }

  /** Notices the host waking from sleep by its clock jumping past a timer's interval. */
  private watchForWake(): void {
    let last = Date.now();
    this.wakeWatch = setInterval(() => {
      const now = Date.now();
      if (now - last > 5000) void this.resumed();
      last = now;
    }, 1000);
    this.wakeWatch.unref();
  }

  status = async (): Promise<AgentStatus> => {
    const vmPid = this.provider.pid?.();
    const vmResidentMiB = vmPid ? await residentMiB(vmPid) : undefined;
    const dataDisk = await dataDiskUsage(this.paths.dataDisk, this.settings.diskGiB);
    return {
      state: this.state,
      provider: this.provider.name,
      accel: defaultAccel(this.settings.arch),
      ...(vmPid ? { vmPid } : {}),
      sshPort: this.sshPort,
      socket: this.paths.dockerSocket,
      settings: this.settings,
      ports: this.ports?.ports() ?? [],
      startedAt: this.startedAt.toISOString(),
      ...(this.bootMs !== undefined ? { bootMs: this.bootMs } : {}),
      ...(this.bootMilestones ? { bootMilestones: this.bootMilestones } : {}),
      ...(this.state === 'running' && this.link ? { guest: await this.link.control('status').catch(() => ({})) } : {}),
      ...(vmResidentMiB !== undefined ? { vmResidentMiB } : {}),
      ...(dataDisk ? { dataDisk } : {}),
    };
  };

  /** Clean shutdown: the guest stops its containers and powers off; the VM is killed if it does not. */
  async stop(): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    this.state = 'stopping';
    this.ports?.stop();
    const exited = new Promise((r) => this.provider.once('exit', r));
    await this.link?.control('shutdown').catch(() => undefined);
    const inTime = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 60_000))]);
    if (!inTime) await this.provider.stop();
    await this.cleanUp();
  }

  private async onVmExit(code: number | null, stderr: string): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    this.log(`the VM stopped unexpectedly (exit ${code})${stderr ? `: ${stderr}` : ''}`);
    await this.cleanUp();
    this.onUnexpectedStop();
  }

  private async cleanUp(): Promise<void> {
    this.state = 'stopped';
    clearInterval(this.wakeWatch);
    this.link?.close();
    this.engine?.close();
    this.control?.close();
    await fs.rm(this.paths.dockerSocket, { force: true });
    await fs.rm(this.paths.agentSocket, { force: true });
    await fs.rm(this.paths.agentPid, { force: true });
  }

  private async serveControl(): Promise<net.Server> {
    await fs.rm(this.paths.agentSocket, { force: true });
    const server = net.createServer((conn) => {
      let request = '';
      conn.on('data', (d: Buffer) => {
        request += d.toString();
        if (!request.includes('\n')) return;
        const { command } = JSON.parse(request) as { command: string };
        const answer = async () => {
          if (command === 'status') return this.status();
          if (command === 'stop') {
            await this.stop();
            setTimeout(() => process.exit(0), 50);
            return { stopped: true };
          }
          return { error: `unknown command ${command}` };
        };
        void answer().then((a) => conn.end(JSON.stringify(a) + '\n'), (err: unknown) => conn.end(JSON.stringify({ error: String(err) }) + '\n'));
      });
      conn.on('error', () => undefined);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.paths.agentSocket, () => resolve());
    });
    await fs.chmod(this.paths.agentSocket, 0o600);
    return server;
  }
}

/** One request to a running agent; undefined when none answers. */
export function askAgent<T>(socket: string, command: string, timeoutMs = 120_000): Promise<T | undefined> {
  return new Promise((resolve) => {
    const conn = net.connect(socket);
    let answer = '';
    const timer = setTimeout(() => {
      conn.destroy();
      resolve(undefined);
    }, timeoutMs);
    conn.on('connect', () => conn.write(JSON.stringify({ command }) + '\n'));
    conn.on('data', (d: Buffer) => (answer += d.toString()));
    conn.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(answer) as T);
      } catch {
        resolve(undefined);
      }
    });
    conn.on('error', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
}

/** The first free TCP port from `from` on 127.0.0.1. */
async function freePort(from: number): Promise<number> {
  for (let port = from; port < from + 1000; port++) {
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer().once('error', () => resolve(false)).listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free local port for the guest SSH link');
}
