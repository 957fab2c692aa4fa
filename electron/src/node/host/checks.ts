// Troubleshoot's checks: is the VM up, does the engine answer, is the socket private, does the
// docker CLI have a context for it, is there disk space, do the shared folders exist. Each check
// says what it saw and, when something is wrong, what to do.
import { execFile } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';

import type { Check, HostStatus } from '../../common/host-api.js';
import { dockerHost } from './paths.js';

const GiB = 1024 ** 3;

export interface CheckInputs {
  status: HostStatus;
  /** Where Berth keeps its state; its filesystem holds the VM's disk. */
  home: string;
  sharedFolders: string[];
}

function vmCheck({ status }: CheckInputs): Check {
  const title = 'Virtual machine';
  if (status.mode === 'socket') return { id: 'vm', title, state: 'skipped', detail: `No VM: the dashboard is attached to ${dockerHost(status.engineSocket)}.` };
  const vm = status.vm;
  if (vm?.state === 'running') return { id: 'vm', title, state: 'ok', detail: `Running (${vm.provider ?? 'qemu'}, ${vm.accel ?? '?'})${vm.bootMs ? `, ready after ${(vm.bootMs / 1000).toFixed(1)} s` : ''}.` };
  if (vm?.state === 'starting' || vm?.state === 'stopping') return { id: 'vm', title, state: 'warning', detail: `The VM is ${vm.state}.` };
  return { id: 'vm', title, state: 'failed', detail: 'The VM is not running.', fix: 'Start Berth (Dashboard → Start, or `berth start`).' };
}

function engineCheck({ status }: CheckInputs): Check {
  const title = 'Engine';
  if (status.engine.reachable) return { id: 'engine', title, state: 'ok', detail: `Answering: version ${status.engine.version}, API ${status.engine.apiVersion} (${status.engine.os ?? 'linux'}).` };
  return {
    id: 'engine',
    title,
    state: 'failed',
    detail: `No answer at ${dockerHost(status.engineSocket)}${status.engine.error ? `: ${status.engine.error}` : ''}.`,
    fix: status.mode === 'vm' ? 'Restart Berth; if that does not help, collect diagnostics.' : 'Start the engine that should listen on this socket.',
  };
}

async function socketCheck({ status }: CheckInputs): Promise<Check> {
  const title = 'Engine socket';
  if (status.engineSocket.startsWith('//./pipe/')) return { id: 'socket', title, state: 'skipped', detail: 'A named pipe: access follows its security descriptor.' };
  const info = await fs.stat(status.engineSocket).catch(() => undefined);
  if (!info) return { id: 'socket', title, state: 'failed', detail: `${status.engineSocket} does not exist.`, fix: status.mode === 'vm' ? 'Start Berth.' : 'Start the engine.' };
  if (!info.isSocket()) return { id: 'socket', title, state: 'failed', detail: `${status.engineSocket} is not a socket.`, fix: 'Remove the file; Berth makes the socket when it starts.' };
  const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
  const shared = (info.mode & 0o077) !== 0;
  // Berth's own socket is for its user alone; an engine's system socket may be meant for a group.
  if (shared && status.mode === 'vm') return { id: 'socket', title, state: 'warning', detail: `${status.engineSocket} has mode ${mode}: other users can reach the engine.`, fix: `chmod 600 ${status.engineSocket}` };
  return { id: 'socket', title, state: 'ok', detail: `${status.engineSocket}, mode ${mode}${typeof process.getuid === 'function' && info.uid === process.getuid() ? ', owned by you' : ''}.` };
}

function dockerContexts(): Promise<{ Name: string; DockerEndpoint: string; Current: boolean }[] | undefined> {
  return new Promise((resolve) => {
    execFile('docker', ['context', 'ls', '--format', '{{json .}}'], { timeout: 10_000 }, (err, stdout) => {
      if (err) return resolve(undefined);
      resolve(stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { Name: string; DockerEndpoint: string; Current: boolean }));
    });
  });
}

async function contextCheck({ status }: CheckInputs): Promise<Check> {
  const title = 'docker CLI context';
  const endpoint = dockerHost(status.engineSocket);
  const contexts = await dockerContexts();
  if (!contexts) return { id: 'context', title, state: 'warning', detail: 'The docker CLI was not found on PATH (or it failed).', fix: 'Install the docker CLI, or use the Terminal page, where DOCKER_HOST is set.' };
  const matching = contexts.filter((c) => c.DockerEndpoint === endpoint);
  if (!matching.length) {
    return { id: 'context', title, state: 'warning', detail: `No docker context points at ${endpoint}.`, fix: status.mode === 'vm' ? 'Run `berth start --use`.' : `docker context create berth --docker host=${endpoint}` };
  }
  const current = matching.find((c) => c.Current);
  return { id: 'context', title, state: 'ok', detail: `Context ${matching.map((c) => `"${c.Name}"`).join(', ')} → ${endpoint}${current ? ' (current)' : '; the current context is another one: `docker context use ' + matching[0]!.Name + '`'}.` };
}

async function diskCheck({ status, home }: CheckInputs): Promise<Check> {
  const title = 'Disk space';
  let dir = home;
  while (!existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  const fsInfo = await fs.statfs(dir);
  const free = fsInfo.bavail * fsInfo.bsize;
  const guest = status.usage ? ` The engine's disk: ${(status.usage.diskUsed / GiB).toFixed(1)} of ${(status.usage.diskTotal / GiB).toFixed(1)} GiB used.` : '';
  const detail = `${(free / GiB).toFixed(1)} GiB free on the host at ${dir}.${guest}`;
  if (free < 2 * GiB) return { id: 'disk', title, state: 'failed', detail, fix: 'Free disk space, or prune: `docker system prune`.' };
  const guestFull = status.usage && status.usage.diskTotal > 0 && status.usage.diskUsed / status.usage.diskTotal > 0.9;
  if (free < 10 * GiB || guestFull) return { id: 'disk', title, state: 'warning', detail, fix: 'Prune what you do not need: `docker system prune`, `docker volume prune`.' };
  return { id: 'disk', title, state: 'ok', detail };
}

async function sharesCheck({ status, sharedFolders }: CheckInputs): Promise<Check> {
  const title = 'Shared folders';
  if (status.mode === 'socket') return { id: 'shares', title, state: 'skipped', detail: 'No VM: bind mounts use this machine\'s paths directly.' };
  const missing = sharedFolders.filter((folder) => !existsSync(folder));
  if (missing.length) return { id: 'shares', title, state: 'warning', detail: `Missing on the host: ${missing.join(', ')}.`, fix: 'Remove them in Settings, or create them, then restart.' };
  return { id: 'shares', title, state: 'ok', detail: sharedFolders.length ? `Shared at the same path in the VM: ${sharedFolders.join(', ')}.` : 'No folders are shared.' };
}

export async function runChecks(inputs: CheckInputs): Promise<Check[]> {
  return Promise.all([vmCheck(inputs), engineCheck(inputs), socketCheck(inputs), contextCheck(inputs), diskCheck(inputs), sharesCheck(inputs)]);
}
