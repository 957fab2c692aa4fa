// conmon's attach socket: a SOCK_SEQPACKET unix socket at <socket dir>/<id>/attach. Each packet
// from conmon starts with a byte naming the stream (2 stdout, 3 stderr); what we write is the
// container's stdin, and closing our end closes its stdin. Node's net module cannot speak
// SEQPACKET, so a small relay of ours does (runtime-agent/native/attach-relay.c): it hands each
// packet on as a length-prefixed frame on its stdout, passes its stdin on as packets, and shuts
// down the sending side when its stdin ends. Being a plain program, it is built for the guest's
// architecture by Debian's compilers, which no prebuilt addon of the npm registry covered.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';

/** Where scripts/install-deps.sh (this machine) and vm-image/build.sh (the guest) put the relay. */
export const ATTACH_RELAY = '/usr/libexec/berth/attach-relay';

export interface AttachHandlers {
  onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => void;
  onClose: () => void;
}

type Relay = ChildProcessByStdio<Writable, Readable, Readable>;

/** Splits the relay's stdout into packets: a 4-byte big-endian length, then the packet. */
class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly onFrame: (packet: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= 4) {
      const length = this.pending.readUInt32BE(0);
      if (this.pending.length < 4 + length) break;
      const packet = this.pending.subarray(4, 4 + length);
      this.pending = this.pending.subarray(4 + length);
      this.onFrame(packet);
    }
  }
}

export class AttachConnection {
  /** The relay ended (conmon closed the socket) or we closed it: writes go nowhere. */
  private closed = false;

  private constructor(private readonly relay: Relay) {
    relay.once('close', () => (this.closed = true));
    // A write racing the container's exit meets a closed pipe: that input had nowhere to go.
    relay.stdin.on('error', () => (this.closed = true));
  }

  /**
   * Connects to a container's attach socket. The relay gets the socket's directory as fd 3 and
   * connects through /proc/self/fd, because a unix socket path may not exceed 108 bytes and data
   * roots can be long.
   */
  static async connect(socketDir: string, id: string, handlers: AttachHandlers): Promise<AttachConnection> {
    const dirFd = openSync(path.join(socketDir, id), 'r');
    let relay: Relay;
    try {
      relay = spawn(ATTACH_RELAY, [], { stdio: ['pipe', 'pipe', 'pipe', dirFd] }) as Relay;
    } finally {
      closeSync(dirFd); // the relay has its own copy
    }
    return new Promise((resolve, reject) => {
      let connected = false;
      let ended = false;
      let stderr = '';
      const end = () => {
        if (ended || !connected) return;
        ended = true;
        handlers.onClose();
      };
      const frames = new FrameReader((packet) => {
        if (!connected) {
          // The relay's first frame is empty: the socket is connected.
          connected = true;
          resolve(new AttachConnection(relay));
          return;
        }
        if (packet.length < 1) return;
        handlers.onOutput(packet[0] === 3 ? 'stderr' : 'stdout', packet.subarray(1));
      });
      relay.stdout.on('data', (chunk: Buffer) => frames.push(chunk));
      relay.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      relay.once('error', (err: NodeJS.ErrnoException) => {
        if (!connected) reject(err.code === 'ENOENT' ? new Error(`the attach relay ${ATTACH_RELAY} is missing (scripts/install-deps.sh builds it)`) : err);
        else end();
      });
      relay.once('close', (code) => {
        if (!connected) reject(new Error(stderr.trim() || `the attach relay exited with ${code}`));
        else end();
      });
    });
  }

  /** The container's stdin. Once the process or its socket is gone, input is dropped, not thrown. */
  write(data: Buffer): void {
    if (this.closed || this.relay.stdin.destroyed) return;
    this.relay.stdin.write(data);
  }

  /** Half-closes: the container's stdin ends, output keeps coming. */
  endInput(): void {
    if (!this.relay.stdin.destroyed) this.relay.stdin.end();
  }

  close(): void {
    this.closed = true;
    this.relay.stdin.destroy();
    this.relay.stdout.destroy();
    if (this.relay.exitCode === null && this.relay.signalCode === null) this.relay.kill('SIGKILL');
  }
}
