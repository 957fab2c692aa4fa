// A shell on the host in a pseudo-terminal, with DOCKER_HOST pointing at Berth's engine: the
// dashboard's Terminal page (as Docker Desktop's built-in terminal). node-pty's prebuilt N-API
// binary loads in Node and in Electron alike; it is loaded on first use.
import os from 'node:os';

import { dockerHost } from './paths.js';

export interface HostTerminal {
  write(data: Buffer | string): void;
  resize(cols: number, rows: number): void;
  kill(): void;
}

function defaultShell(): { file: string; args: string[] } {
  if (process.platform === 'win32') return { file: 'powershell.exe', args: ['-NoLogo'] };
  return { file: process.env.SHELL || '/bin/bash', args: ['-l'] };
}

const clamp = (n: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, Math.floor(n)));

export async function openHostTerminal(options: {
  engineSocket: string;
  cols: number;
  rows: number;
  onData(data: string): void;
  onExit(code: number): void;
}): Promise<HostTerminal> {
  const pty = await import('@lydell/node-pty');
  const shell = defaultShell();
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && key !== 'DOCKER_CONTEXT') env[key] = value;
  env.DOCKER_HOST = dockerHost(options.engineSocket);
  env.TERM = 'xterm-256color';
  const child = pty.spawn(shell.file, shell.args, {
    name: 'xterm-256color',
    cols: clamp(options.cols, 2, 1000),
    rows: clamp(options.rows, 2, 1000),
    cwd: os.homedir(),
    env,
  });
  child.onData(options.onData);
  child.onExit(({ exitCode }) => options.onExit(exitCode));
  let exited = false;
  child.onExit(() => (exited = true));
  return {
    write: (data) => child.write(typeof data === 'string' ? data : data.toString('utf8')),
    resize: (cols, rows) => {
      if (!exited) child.resize(clamp(cols, 2, 1000), clamp(rows, 2, 1000));
    },
    kill: () => {
      if (!exited) child.kill();
    },
  };
}
