// berthd's door to the host in VM mode: an SSH server (ssh2) that takes the host's public key
// only, forwards streams to the engine socket (direct-streamlocal, what the host's docker.sock
// is made of) and to guest TCP ports (direct-tcpip, published ports), and answers a control
// channel (`berth-control status|shutdown|resize`, named in guest-contract.ts). No passwords,
// and no shell unless started with --ssh-debug-shell.
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import { timingSafeEqual } from 'node:crypto';

import { log } from '../util/log.js';
import { CONTROL_PROGRAM, type ControlCommand } from './guest-contract.js';
import { ensureHostKey, type Ssh2 } from './ssh-keys.js';

export interface SshServerOptions {
  host: string;
  port: number;
  hostKeyPath: string;
  authorizedKeysPath: string;
  /** The engine sockets a client may open streams to. */
  engineSockets: string[];
  debugShell: boolean;
  status(): Promise<Record<string, unknown>>;
  /** Stops the containers, then makes berthd exit for a power-off. */
  shutdown(): Promise<void>;
  /** The host grew the data disk: grow the filesystem on it (online). */
  resize(): Promise<Record<string, unknown>>;
}

export async function startSshServer(options: SshServerOptions): Promise<{ close(): void }> {
  const ssh2 = (await import('ssh2')).default as unknown as Ssh2;
  const key = await ensureHostKey(ssh2, options.hostKeyPath);
  const authorized = (await fs.readFile(options.authorizedKeysPath, 'utf8').catch(() => ''))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => ssh2.utils.parseKey(l))
    .filter((k): k is import('ssh2').ParsedKey => !(k instanceof Error));
  if (authorized.length === 0) log.warn('no authorized host key: every SSH login will be refused', { file: options.authorizedKeysPath });

  const server = new ssh2.Server({ hostKeys: [key] }, (client) => {
    client.on('authentication', (ctx) => {
      if (ctx.method !== 'publickey') return ctx.reject(['publickey']);
      const match = authorized.find((k) => k.type === ctx.key.algo && k.getPublicSSH().length === ctx.key.data.length && timingSafeEqual(k.getPublicSSH(), ctx.key.data));
      if (!match) return ctx.reject(['publickey']);
      if (!ctx.signature || !ctx.blob) return ctx.accept(); // the client asks whether this key would do
      if (match.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) return ctx.reject(['publickey']);
      ctx.accept();
    });
    client.on('ready', () => {
      client.on('openssh.streamlocal', (accept, reject, info) => {
        if (!options.engineSockets.includes(info.socketPath)) return reject();
        pipe(accept(), net.connect({ path: info.socketPath, allowHalfOpen: true }));
      });
      client.on('tcpip', (accept, reject, info) => {
        const target = net.connect({ host: info.destIP || '127.0.0.1', port: info.destPort, allowHalfOpen: true });
        target.once('error', () => reject?.());
        target.once('connect', () => pipe(accept(), target));
      });
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('exec', (accept, reject, info) => {
          const command = info.command.trim();
          if (command.startsWith(`${CONTROL_PROGRAM} `)) {
            const channel = accept();
            void control(command.slice(CONTROL_PROGRAM.length + 1), options)
              .then((answer) => {
                channel.write(JSON.stringify(answer) + '\n');
                channel.exit(0);
              })
              .catch((err: unknown) => {
                channel.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
                channel.exit(1);
              })
              .finally(() => channel.end());
            return;
          }
          if (!options.debugShell) return reject();
          const channel = accept();
          const child = spawn('/bin/sh', ['-c', command], { stdio: 'pipe' });
          channel.pipe(child.stdin);
          child.stdout.pipe(channel);
          child.stderr.pipe(channel.stderr);
          child.on('close', (code) => {
            channel.exit(code ?? 1);
            channel.end();
          });
        });
        session.on('shell', (accept, reject) => (options.debugShell ? accept() : reject()));
      });
    });
    client.on('error', (err) => log.debug('ssh client error', { error: err.message }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  log.info(`SSH listen on ${options.host}:${options.port}`);
  return { close: () => server.close() };
}

function pipe(channel: NodeJS.ReadWriteStream & { destroy?(): void }, socket: net.Socket): void {
  socket.setNoDelay(true);
  channel.pipe(socket).pipe(channel);
  socket.on('error', () => channel.destroy?.());
  channel.on('error', () => socket.destroy());
  socket.on('close', () => channel.end());
}

async function control(command: string, options: SshServerOptions): Promise<Record<string, unknown>> {
  // A Record over ControlCommand: a command added to the contract fails to compile here until answered.
  const answers: Record<ControlCommand, () => Promise<Record<string, unknown>>> = {
    status: () => options.status(),
    shutdown: async () => {
      // Answer first, then stop: the host waits for the VM to power off.
      setTimeout(() => void options.shutdown(), 10);
      return { shuttingDown: true };
    },
    resize: () => options.resize(),
  };
  if (!Object.hasOwn(answers, command)) throw new Error(`unknown control command: ${command}`);
  return answers[command as ControlCommand]();
}
