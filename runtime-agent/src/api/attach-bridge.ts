// Joins a client's hijacked connection to conmon's attach socket: output packets become Docker
// frames (raw bytes with a TTY), the client's bytes become stdin, and the client's half-close ends
// stdin. Used by container attach and exec start.
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

import { AttachConnection } from '../containers/attach-socket.js';
import { frame } from '../containers/container-logs.js';
import { InvalidParameterError } from '../util/errors.js';

export interface BridgeOptions {
  tty: boolean;
  stdout: boolean;
  stderr: boolean;
  stdin: boolean;
  /** The byte sequence that detaches the client (default ctrl-p ctrl-q), when stdin is attached. */
  detachKeys?: Buffer;
}

/** `ctrl-p,ctrl-q` -> [0x10, 0x11]; `a,ctrl-a` -> [0x61, 0x01]. */
export function parseDetachKeys(spec: string | null | undefined): Buffer {
  const value = spec || 'ctrl-p,ctrl-q';
  const bytes = value.split(',').map((key) => {
    const ctrl = /^ctrl-([a-z@\[\\\]^_])$/.exec(key);
    if (ctrl) return (ctrl[1] ?? '').charCodeAt(0) & 0x1f;
    if (key.length === 1) return key.charCodeAt(0);
    throw new InvalidParameterError(`Invalid detach keys (${value}) provided`);
  });
  return Buffer.from(bytes);
}

export class AttachBridge {
  private connection: AttachConnection | undefined;
  private finished = false;
  /** The client typed the detach sequence: the container keeps running. */
  detached = false;
  private resolveDone!: () => void;
  /** Resolves when conmon closed the stream (the process ended) or the client went away. */
  readonly done = new Promise<void>((resolve) => (this.resolveDone = resolve));

  constructor(
    private readonly client: Duplex | ServerResponse,
    private readonly options: BridgeOptions,
  ) {
    if (options.stdin) (client as Duplex).pause();
    client.on('close', () => this.finish());
    // A client that hangs up mid-stream (EPIPE on a write, ECONNRESET on a read) ends the bridge;
    // without a listener the error would be thrown out of the engine's event loop.
    client.on('error', () => this.finish());
  }

  async connect(socketDir: string, id: string): Promise<void> {
    const { client, options } = this;
    this.connection = await AttachConnection.connect(socketDir, id, {
      onOutput: (stream, data) => {
        if (!options[stream] || client.destroyed || client.writableEnded) return;
        client.write(options.tty ? data : frame(stream, data));
      },
      onClose: () => this.finish(),
    });
    if (options.stdin) {
      const input = client as Duplex;
      const keys = options.detachKeys;
      let matched = 0;
      input.on('data', (chunk: Buffer) => {
        if (!keys || keys.length === 0) return this.connection?.write(chunk);
        // Bytes that may start the detach sequence are held back until it is clear they do not.
        const out: number[] = [];
        for (const byte of chunk) {
          if (byte === keys[matched]) {
            if (++matched === keys.length) {
              if (out.length) this.connection?.write(Buffer.from(out));
              this.detached = true;
              this.finish();
              return;
            }
            continue;
          }
          if (matched > 0) {
            out.push(...keys.subarray(0, matched));
            matched = 0;
            if (byte === keys[0]) {
              matched = 1;
              continue;
            }
          }
          out.push(byte);
        }
        if (out.length) this.connection?.write(Buffer.from(out));
      });
      input.on('end', () => this.connection?.endInput());
      input.resume();
    }
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.resolveDone();
  }

  /** Closes both sides once `done` (and anything the caller waits for) is over. */
  close(): void {
    this.connection?.close();
    if (!this.client.destroyed) this.client.end();
  }
}
