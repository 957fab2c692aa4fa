// Where the host side keeps its state: $BERTH_HOME (default ~/.berth).
//   settings.json          the user's settings
//   ssh/id_ed25519(.pub)   the host's key for the guest link (0600)
//   vm/data.qcow2          the guest's data disk; vm/console.log its serial console
//   run/docker.sock        the engine socket as the docker CLI sees it (0600)
//   run/agent.sock         the host agent's control socket; run/agent.pid its PID
import os from 'node:os';
import path from 'node:path';

import { guestImageFolder } from '../vm/guest-image.js';
import type { GuestArch } from '../vm/qemu-command.js';

export function berthHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.BERTH_HOME || path.join(os.homedir(), '.berth');
}

export function berthPaths(home = berthHome()) {
  return {
    home,
    settings: path.join(home, 'settings.json'),
    privateKey: path.join(home, 'ssh', 'id_ed25519'),
    publicKey: path.join(home, 'ssh', 'id_ed25519.pub'),
    dataDisk: path.join(home, 'vm', 'data.qcow2'),
    consoleLog: path.join(home, 'vm', 'console.log'),
    agentLog: path.join(home, 'vm', 'agent.log'),
    runDir: path.join(home, 'run'),
    // Windows has no unix sockets for the docker CLI: a named pipe, as Docker Desktop's (untested here).
    dockerSocket: process.platform === 'win32' ? '//./pipe/berth_engine' : path.join(home, 'run', 'docker.sock'),
    agentSocket: path.join(home, 'run', 'agent.sock'),
    agentPid: path.join(home, 'run', 'agent.pid'),
  };
}

export type BerthPaths = ReturnType<typeof berthPaths>;

/** How the docker CLI names the engine endpoint: unix:// here, npipe:// on Windows. */
export function dockerHost(socket: string): string {
  return socket.startsWith('//./pipe/') ? `npipe://${socket}` : `unix://${socket}`;
}

/**
 * The guest image of `arch`: $BERTH_IMAGE_DIR/ARCH when that folder exists, else $BERTH_IMAGE_DIR
 * itself (an installer ships only its own architecture's guest there; the manifest says which),
 * else vm-image/dist/ARCH of this checkout.
 */
export function imageDir(arch: GuestArch, env: NodeJS.ProcessEnv = process.env): string {
  const base = env.BERTH_IMAGE_DIR;
  if (!base) return path.resolve(import.meta.dirname, '../../../../vm-image/dist', arch);
  return guestImageFolder(base, arch);
}
