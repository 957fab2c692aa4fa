// Joins a client's hijacked connection to conmon's attach socket: output packets become Docker
// frames (raw bytes with a TTY), the client's bytes become stdin, and the client's half-close ends
// stdin. Used by container attach and exec start.
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

import { AttachConnection } from '../containers/attach-socket.js';
import { frame } from '../containers/container-logs.js';

export interface BridgeOptions {
  tty: boolean;
  stdout: boolean;
  stderr: boolean;
  stdin: boolean;
}

export class AttachBridge {
  private connection: AttachConnection | undefined;
  private finished = false;
  private resolveDone!: () => void;
  /** Resolves when conmon closed the stream (the process ended) or the client went away. */
  readonly done = new Promise<void>((resolve) => (this.resolveDone = resolve));

  constructor(
    private readonly client: Duplex | ServerResponse,
    private readonly options: BridgeOptions,
  ) {
    if (options.stdin) (client as Duplex).pause();
    client.on('close', () => this.finish());
  }

  async connect(socketDir: string, id: string): Promise<void> {
    const { client, options } = this;
    this.connection = await AttachConnection.connect(socketDir, id, {
      onOutput: (stream, data) => {
        if (!options[stream] || client.destroyed) return;
        client.write(options.tty ? data : frame(stream, data));
      },
      onClose: () => this.finish(),
    });
    if (options.stdin) {
      const input = client as Duplex;
      input.on('data', (chunk: Buffer) => this.connection?.write(chunk));
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
    this.client.end();
  }
}
