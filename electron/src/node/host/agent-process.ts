// The VM's lifecycle as the CLI and the dashboard drive it: the host agent runs as a background
// process (one per $BERTH_HOME) and answers on its control socket. `start` spawns it and reports
// progress until the engine answers; `stop` asks it to shut the VM down and waits for it to go.
import { spawn } from 'node:child_process';
import { existsSync, openSync, promises as fs } from 'node:fs';
import path from 'node:path';

import { readMilestones, type BootMilestone } from '../vm/guest-contract.js';
import { askAgent, type AgentStatus } from './agent.js';
import { pingEngine } from './forwarding.js';
import { dockerHost, type BerthPaths } from './paths.js';
import { loadSettings } from './settings.js';

/** The VM as the dashboard sees it, whoever runs it (a background agent, or the Electron app). */
export interface VmControl {
  status(): Promise<AgentStatus | undefined>;
  start(progress: (line: string) => void): Promise<void>;
  stop(progress: (line: string) => void): Promise<void>;
}

/** The docker CLI context "berth" for the host socket; only that context is created or updated. */
export async function ensureDockerContext(paths: BerthPaths, use: boolean): Promise<void> {
  const docker = (args: string[]) => new Promise<number>((resolve) => spawn('docker', args, { stdio: 'ignore' }).on('close', (c) => resolve(c ?? 1)).on('error', () => resolve(127)));
  const endpoint = `host=${dockerHost(paths.dockerSocket)}`;
  if ((await docker(['context', 'update', '--docker', endpoint, 'berth'])) !== 0) {
    await docker(['context', 'create', '--description', 'Berth', '--docker', endpoint, 'berth']);
  }
  if (use) await docker(['context', 'use', 'berth']);
}

const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

/** What each boot milestone the guest prints on its console means to someone waiting for it. */
const MILESTONE_PROGRESS: Record<BootMilestone, string> = {
  initStarted: 'Kernel booted, init running',
  berthdStarting: 'Starting the engine',
  guestConfigured: 'Shared folders mounted, starting the engine',
  engineReady: 'Engine started, connecting',
};

export class AgentProcess implements VmControl {
  constructor(
    private readonly paths: BerthPaths,
    /** How to run `berth agent`: by default this same program with the `agent` command. */
    private readonly agentCommand: string[] = [process.execPath, ...process.execArgv, process.argv[1]!, 'agent'],
  ) {}

  status(): Promise<AgentStatus | undefined> {
    return askAgent<AgentStatus>(this.paths.agentSocket, 'status', 5000);
  }

  async start(progress: (line: string) => void): Promise<void> {
    if (await this.status()) {
      progress('Berth is already running.');
      return;
    }
    await loadSettings(this.paths.settings);
    await fs.mkdir(this.paths.runDir, { recursive: true, mode: 0o700 });
    await fs.mkdir(path.dirname(this.paths.agentLog), { recursive: true });
    const logFd = openSync(this.paths.agentLog, 'a');
    const [command, ...args] = this.agentCommand;
    const agent = spawn(command!, args, { detached: true, stdio: ['ignore', logFd, logFd], env: process.env });
    agent.unref();
    progress('Booting the VM…');
    const begin = Date.now();
    let lastMilestone: BootMilestone | undefined;
    for (;;) {
      if (agent.exitCode !== null) {
        const log = await fs.readFile(this.paths.agentLog, 'utf8').catch(() => '');
        throw new Error(`the VM did not start:\n${log.split('\n').slice(-10).join('\n')}`);
      }
      const status = await this.status();
      if (status?.state === 'running' && (await pingEngine(this.paths.dockerSocket))) break;
      const console = await fs.readFile(this.paths.consoleLog, 'utf8').catch(() => '');
      const milestone = readMilestones(console).pop()?.milestone;
      if (milestone && milestone !== lastMilestone) {
        lastMilestone = milestone;
        progress(`${MILESTONE_PROGRESS[milestone]} (${seconds(begin)})`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    progress(`Engine ready in ${seconds(begin)}.`);
  }

  async stop(progress: (line: string) => void): Promise<void> {
    const answer = await askAgent<{ stopped?: boolean }>(this.paths.agentSocket, 'stop');
    if (!answer) {
      progress('Berth is not running.');
      return;
    }
    progress('Stopping containers and shutting the VM down…');
    for (let i = 0; i < 100 && existsSync(this.paths.agentPid); i++) await new Promise((r) => setTimeout(r, 100));
    progress('Berth stopped.');
  }
}
