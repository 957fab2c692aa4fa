// conmon's attach socket: a SOCK_SEQPACKET unix socket at <socket dir>/<id>/attach. Each packet
// from conmon starts with a byte naming the stream (2 stdout, 3 stderr); what we write is the
// container's stdin, and closing our end closes its stdin. Node's net module cannot speak
// SEQPACKET, hence the node-unix-socket addon.
import { closeSync, openSync } from 'node:fs';
import path from 'node:path';
import type { SeqpacketSocket } from 'node-unix-socket';

/** The native addon is loaded on the first attach, not by an idle engine. */
let addon: Promise<typeof import('node-unix-socket')> | undefined;

export interface AttachHandlers {
  onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => void;
  onClose: () => void;
}

export class AttachConnection {
  /** conmon closed its end or we closed ours: writes go nowhere (the addon throws on them). */
  private closed = false;

  private constructor(
    private readonly socket: SeqpacketSocket,
    private readonly dirFd: number,
  ) {
    socket.once('close', () => (this.closed = true));
  }

  /**
   * Connects to a container's attach socket. The path goes through /proc/self/fd because a
   * unix socket path may not exceed 108 bytes and data roots can be long.
   */
  static async connect(socketDir: string, id: string, handlers: AttachHandlers): Promise<AttachConnection> {
    addon ??= import('node-unix-socket');
    const { SeqpacketSocket } = await addon;
    const dirFd = openSync(path.join(socketDir, id), 'r');
    const socket = new SeqpacketSocket();
    return new Promise((resolve, reject) => {
      let closed = false;
      const close = () => {
        if (closed) return;
        closed = true;
        handlers.onClose();
      };
      socket.once('error', (err: Error) => {
        closeSync(dirFd);
        reject(err);
      });
      socket.on('data', (packet: Buffer) => {
        if (packet.length < 1) return;
        handlers.onOutput(packet[0] === 3 ? 'stderr' : 'stdout', packet.subarray(1));
      });
      socket.on('end', close);
      socket.on('close', close);
      socket.connect(`/proc/self/fd/${dirFd}/attach`, () => {
        socket.removeAllListeners('error');
        socket.on('error', close);
        resolve(new AttachConnection(socket, dirFd));
      });
    });
  }

  /** The container's stdin. Once the process or its socket is gone, input is dropped, not thrown. */
  write(data: Buffer): void {
    if (this.closed) return;
    try {
      this.socket.write(data);
    } catch {
      this.closed = true; // destroyed between the check and the write (the container exited)
    }
  }

  /** Half-closes: the container's stdin ends, output keeps coming. */
  endInput(): void {
    try {
      this.socket.end();
    } catch {
      // conmon already closed the socket (the container exited)
    }
  }

  close(): void {
    this.closed = true;
    try {
      this.socket.destroy();
    } finally {
      try {
        closeSync(this.dirFd);
      } catch {
        // already closed
      }
    }
  }
}
