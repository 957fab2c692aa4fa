// The host's end of the one channel to the guest: an SSH connection (ssh2) to berthd's server,
// carrying streams to the engine socket (direct-streamlocal) and to guest ports (direct-tcpip),
// and the control commands. host/forwarding.ts serves them as local sockets and ports.
import net from 'node:net';

import ssh2 from 'ssh2';

import { CONTROL_PROGRAM, type ControlCommand } from './guest-contract.js';

// ssh2 is CommonJS: its classes hang off the default export.
const { Client } = ssh2;
type Client = InstanceType<typeof ssh2.Client>;

export interface LinkOptions {
  host?: string;
  port: number;
  privateKey: string | Buffer;
  /** Keep trying this long while the guest boots. */
  timeoutMs: number;
}

export class GuestLink {
  private constructor(private readonly client: Client) {}

  /** Connects, retrying until the guest's SSH server answers or the timeout passes. */
  static async connect(options: LinkOptions): Promise<GuestLink> {
    const deadline = Date.now() + options.timeoutMs;
    let lastError: unknown;
    while (Date.now() < deadline) {
      try {
        return new GuestLink(await GuestLink.attempt(options, Math.max(1000, deadline - Date.now())));
      } catch (err) {
        lastError = err;
        if (err instanceof Error && /authentication/i.test(err.message)) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    throw new Error(`the guest did not answer on port ${options.port}: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
  }

  private static attempt(options: LinkOptions, readyTimeout: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(options.port, options.host ?? '127.0.0.1');
      // Without it every new channel waits on Nagle: ~44 ms each (DESIGN.md).
      socket.setNoDelay(true);
      const client = new Client();
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        socket.destroy();
        client.end();
        reject(err);
      };
      // A failed attempt may still report errors after it was given up: they are expected.
      socket.on('error', fail);
      client.on('error', fail);
      client.once('ready', () => {
        settled = true;
        resolve(client);
      });
      // Keep-alives notice a guest that hangs within ~2 min; one whose QEMU exited closes the
      // connection at once. A VM paused for a minute (the test's SIGSTOP; a hypervisor's pause)
      // keeps its link, so docker answers as soon as it runs again. A host that slept does too:
      // its timers fire once on waking, not once per missed interval.
      client.connect({ sock: socket, username: 'berth', privateKey: options.privateKey, readyTimeout, keepaliveInterval: 10_000, keepaliveCountMax: 12 });
    });
  }

  /** Runs `listener` once when the connection ends (guest restarting, VM gone, host asleep too long). */
  onClose(listener: () => void): void {
    this.client.once('close', listener);
  }

  /** A stream to a unix socket in the guest. */
  openStreamLocal(remotePath: string): Promise<NodeJS.ReadWriteStream & { destroy(): void }> {
    return new Promise((resolve, reject) => this.client.openssh_forwardOutStreamLocal(remotePath, (err, stream) => (err ? reject(err) : resolve(stream))));
  }

  /** A stream to a TCP port in the guest (a published port). */
  openTcp(port: number, host = '127.0.0.1'): Promise<NodeJS.ReadWriteStream & { destroy(): void }> {
    return new Promise((resolve, reject) => this.client.forwardOut('127.0.0.1', 0, host, port, (err, stream) => (err ? reject(err) : resolve(stream))));
  }

  /** A command in the guest (needs the debug shell): its output and exit code. */
  exec(command: string): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, channel) => {
        if (err) return reject(err);
        let stdout = '';
        let stderr = '';
        channel.on('data', (d: Buffer) => (stdout += d.toString()));
        channel.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        channel.on('close', (code: number | undefined) => resolve({ code: code ?? 0, stdout, stderr }));
      });
    });
  }

  /** `berth-control <command>` in the guest: its JSON answer. */
  control(command: ControlCommand): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      this.client.exec(`${CONTROL_PROGRAM} ${command}`, (err, channel) => {
        if (err) return reject(err);
        let out = '';
        let errOut = '';
        channel.on('data', (d: Buffer) => (out += d.toString()));
        channel.stderr.on('data', (d: Buffer) => (errOut += d.toString()));
        channel.on('close', (code: number | undefined) => {
          if (code !== 0 && code !== undefined) return reject(new Error(errOut.trim() || `${CONTROL_PROGRAM} ${command} failed`));
          try {
            resolve(JSON.parse(out) as Record<string, unknown>);
          } catch {
            reject(new Error(`${CONTROL_PROGRAM} ${command}: unreadable answer ${JSON.stringify(out)}`));
          }
        });
      });
    });
  }

  close(): void {
    this.client.end();
  }

  /** Drops the connection at once, even when the guest does not answer (a clean close would wait on it). */
  drop(): void {
    this.client.destroy();
  }
}
