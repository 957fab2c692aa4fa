// `berth`: start, stop, restart, status, logs, ssh, settings, reset. `berth start` runs the host
// agent in the background (one per $BERTH_HOME) and returns once the engine answers.
import { createWriteStream, existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';

import { HostAgent, askAgent, type AgentStatus } from '../host/agent.js';
import { AgentProcess, ensureDockerContext } from '../host/agent-process.js';
import { compactDataDisk } from '../host/data-disk.js';
import { ensureKeyPair } from '../host/keys.js';
import { berthPaths, dockerHost, imageDir, type BerthPaths } from '../host/paths.js';
import { SettingsError, loadSettings, parseSettingValue, restartNeeded, saveSettings, validateSettings, type Settings } from '../host/settings.js';
import { BOOT_MILESTONES, type BootMilestone } from '../vm/guest-contract.js';
import { GuestLink } from '../vm/guest-link.js';
import { providerFor } from '../vm/provider.js';
import { QemuProvider } from '../vm/qemu-provider.js';

const USAGE = `Usage: berth COMMAND

Berth runs Docker in a small VM and makes it feel local.

Commands:
  start [--use]        Boot the VM and forward the engine (--use: make "berth" the current docker context)
  stop                 Shut the VM down cleanly
  restart              stop, then start
  status [--json]      VM state, engine socket, memory, data disk, forwarded ports
  logs                 The VM's console (kernel, init, berthd)
  ssh [COMMAND]        A command in the guest (needs BERTH_DEBUG_SHELL=1 at start)
  settings get [KEY]   Show settings; settings set KEY VALUE changes one
  disk compact         Rewrite the VM's data disk to give back space discard could not (VM stopped)
  reset [--force]      Factory reset: delete the VM's disk (images, containers, volumes) and settings
  dashboard [--host unix:///PATH.sock] [--port N]
                       Serve the dashboard on 127.0.0.1 (prints its URL, with the access token, first)

Environment: BERTH_HOME (default ~/.berth), BERTH_IMAGE_DIR (the guest images, default vm-image/dist: ARCH/ in it, or the folder itself)
`;

function out(line: string): void {
  process.stdout.write(line + '\n');
}

async function start(paths: BerthPaths, use: boolean): Promise<number> {
  const running = await askAgent<AgentStatus>(paths.agentSocket, 'status', 5000);
  if (running) {
    out(`Berth is already running (engine at ${running.socket}).`);
    return 0;
  }
  out('Starting Berth: booting the VM...');
  const begin = Date.now();
  try {
    await new AgentProcess(paths).start((line) => {
      if (!/^Booting|^Engine ready/.test(line)) out(`  ${line}`);
    });
  } catch (err) {
    process.stderr.write(`berth: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  await ensureDockerContext(paths, use);
  out(`Berth is running: engine at ${dockerHost(paths.dockerSocket)} (docker context "berth"), ready in ${((Date.now() - begin) / 1000).toFixed(1)} s.`);
  return 0;
}

async function stop(paths: BerthPaths): Promise<number> {
  await new AgentProcess(paths).stop((line) => {
    if (!/^Stopping/.test(line)) out(line);
  });
  return 0;
}

async function status(paths: BerthPaths, json: boolean): Promise<number> {
  const s = await askAgent<AgentStatus>(paths.agentSocket, 'status', 10_000);
  const result = s ?? { state: 'stopped' };
  if (json) {
    out(JSON.stringify(result, null, 2));
    return 0;
  }
  if (!s) {
    out('Berth: stopped');
    return 0;
  }
  out(`Berth: ${s.state} (${s.provider}, ${s.accel}${s.vmPid ? `, VM pid ${s.vmPid}` : ''})`);
  out(`  engine socket: ${dockerHost(s.socket)}`);
  if (s.bootMs !== undefined) out(`  ready after ${(s.bootMs / 1000).toFixed(1)} s, since ${s.startedAt}`);
  if (s.bootMilestones && Object.keys(s.bootMilestones).length) {
    out(`  boot (guest uptime): ${Object.entries(s.bootMilestones).map(([name, at]) => `${BOOT_MILESTONES[name as BootMilestone]} ${at} s`).join(', ')}`);
  }
  const memory = s.guest?.memory as { totalMiB: number; usedMiB: number; cacheMiB: number } | undefined;
  if (s.vmResidentMiB !== undefined || memory) {
    const host = s.vmResidentMiB !== undefined ? `the VM holds ${s.vmResidentMiB} MiB of this computer's memory` : '';
    const guest = memory ? `the guest uses ${memory.usedMiB} of ${memory.totalMiB} MiB (page cache ${memory.cacheMiB} MiB)` : '';
    out(`  memory: ${[host, guest].filter(Boolean).join('; ')}`);
  }
  if (s.dataDisk) out(`  data disk: ${gigabytes(s.dataDisk.fileBytes)} on this computer's disk, of at most ${gigabytes(s.dataDisk.limitBytes)}`);
  if (s.guest && Object.keys(s.guest).length) out(`  guest: ${JSON.stringify(s.guest)}`);
  for (const p of s.ports) out(`  port ${p.hostIp}:${p.hostPort}/${p.proto} -> container ${p.containerId.slice(0, 12)}${p.error ? ` (not forwarded: ${p.error})` : ''}`);
  return 0;
}

async function settingsCommand(paths: BerthPaths, args: string[]): Promise<number> {
  const current = await loadSettings(paths.settings);
  if (args[0] === 'get' || args.length === 0) {
    const key = args[1] as keyof Settings | undefined;
    out(key ? JSON.stringify(current[key]) : JSON.stringify(current, null, 2));
    return 0;
  }
  if (args[0] === 'set' && args[1] && args[2] !== undefined) {
    const key = args[1] as keyof Settings;
    const next = validateSettings({ ...current, [key]: parseSettingValue(key, args[2]) });
    await saveSettings(paths.settings, next);
    const restart = restartNeeded(current, next);
    const running = await askAgent<AgentStatus>(paths.agentSocket, 'status', 5000);
    out(restart.length && running ? `Saved. ${restart.join(', ')} take effect after \`berth restart\`.` : 'Saved.');
    return 0;
  }
  process.stderr.write('usage: berth settings get [KEY] | berth settings set KEY VALUE\n');
  return 2;
}

function gigabytes(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GiB` : `${Math.round(bytes / 1024 ** 2)} MiB`;
}

async function disk(paths: BerthPaths, args: string[]): Promise<number> {
  if (args[0] !== 'compact') {
    process.stderr.write('usage: berth disk compact\n');
    return 2;
  }
  if (await askAgent<AgentStatus>(paths.agentSocket, 'status', 5000)) {
    process.stderr.write('berth: the data disk is in use: stop Berth first (berth stop), then compact it\n');
    return 1;
  }
  if (!existsSync(paths.dataDisk)) {
    process.stderr.write(`berth: there is no data disk yet (${paths.dataDisk})\n`);
    return 1;
  }
  const { before, after } = await compactDataDisk(paths.dataDisk);
  out(`Data disk compacted: ${gigabytes(before)} -> ${gigabytes(after)} on this computer's disk.`);
  return 0;
}

async function reset(paths: BerthPaths, force: boolean): Promise<number> {
  if (!force) {
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    const answer = await rl.question(`This deletes every image, container and volume in Berth (${paths.dataDisk}) and its settings. Continue? [y/N] `);
    rl.close();
    if (!/^y(es)?$/i.test(answer.trim())) {
      out('Nothing was changed.');
      return 1;
    }
  }
  await stop(paths);
  await fs.rm(paths.dataDisk, { force: true });
  await fs.rm(paths.settings, { force: true });
  out('Berth was reset.');
  return 0;
}

async function ssh(paths: BerthPaths, command: string[]): Promise<number> {
  const s = await askAgent<AgentStatus>(paths.agentSocket, 'status', 5000);
  if (!s) {
    process.stderr.write('berth: not running\n');
    return 1;
  }
  const keys = await ensureKeyPair(paths.privateKey, paths.publicKey);
  const link = await GuestLink.connect({ port: s.sshPort, privateKey: keys.privateKey, timeoutMs: 10_000 });
  try {
    const result = await link.exec(command.length ? command.join(' ') : 'uname -a; uptime; free -m');
    process.stdout.write(result.stdout);
    process.stderr.write(result.stderr);
    if (result.code !== 0 && !result.stdout && !result.stderr) process.stderr.write('berth: the guest refused: start Berth with BERTH_DEBUG_SHELL=1 for a debug shell\n');
    return result.code;
  } catch {
    process.stderr.write('berth: the guest refused: start Berth with BERTH_DEBUG_SHELL=1 for a debug shell\n');
    return 1;
  } finally {
    link.close();
  }
}

async function dashboard(paths: BerthPaths, args: string[]): Promise<number> {
  const hostArg = args[args.indexOf('--host') + 1];
  const portArg = args[args.indexOf('--port') + 1];
  const engineSocket = args.includes('--host') && hostArg ? hostArg.replace(/^unix:\/\//, '') : paths.dockerSocket;
  const { startDashboard } = await import('../dashboard/server.js');
  const rendererDir = process.env.BERTH_RENDERER_DIR || path.resolve(import.meta.dirname, '../../../../renderer/dist');
  if (!existsSync(path.join(rendererDir, 'index.html'))) {
    process.stderr.write(`berth: the dashboard is not built (${rendererDir}): run npm run build\n`);
    return 1;
  }
  const served = await startDashboard({
    engineSocket,
    rendererDir,
    paths,
    // With --host the dashboard shows that engine and manages no VM.
    ...(args.includes('--host') ? {} : { vm: new AgentProcess(paths) }),
    ...(args.includes('--port') && portArg ? { port: Number(portArg) } : {}),
  });
  out(served.url);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  served.close();
  return 0;
}

async function agent(paths: BerthPaths): Promise<void> {
  const settings = await loadSettings(paths.settings);
  const logStream = createWriteStream(paths.agentLog, { flags: 'a' });
  const log = (line: string) => logStream.write(`${new Date().toISOString()} ${line}\n`);
  const provider = providerFor(process.env.BERTH_PROVIDER ?? 'qemu', { qemu: () => new QemuProvider() }) as QemuProvider;
  const host = new HostAgent(paths, settings, provider, imageDir(settings.arch), log);
  process.on('SIGTERM', () => void host.stop().then(() => process.exit(0)));
  try {
    await host.run();
  } catch (err) {
    log(`start failed: ${err instanceof Error ? err.message : String(err)}`);
    await host.stop().catch(() => undefined);
    process.exit(1);
  }
}

export async function main(argv: string[]): Promise<number> {
  const paths = berthPaths();
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'start':
        return await start(paths, rest.includes('--use'));
      case 'stop':
        return await stop(paths);
      case 'restart':
        await stop(paths);
        return await start(paths, rest.includes('--use'));
      case 'status':
        return await status(paths, rest.includes('--json'));
      case 'logs':
        process.stdout.write(await fs.readFile(paths.consoleLog, 'utf8').catch(() => 'no VM console log yet\n'));
        return 0;
      case 'ssh':
        return await ssh(paths, rest);
      case 'settings':
        return await settingsCommand(paths, rest);
      case 'disk':
        return await disk(paths, rest);
      case 'reset':
        return await reset(paths, rest.includes('--force'));
      case 'dashboard':
        return await dashboard(paths, rest);
      case 'agent':
        await agent(paths);
        return -1;
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(USAGE);
        return command ? 0 : 2;
      default:
        process.stderr.write(`berth: unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof SettingsError) {
      process.stderr.write(`berth: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
