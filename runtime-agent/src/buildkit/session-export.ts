// Outputs that go to the client (`-o type=local|tar|docker|oci`): through the FileSend service of
// its session. A directory travels in fsutil's protocol with us as the sender (STAT per entry in
// walk order, an empty STAT, then DATA for what the client asks, FIN for FIN); a file (a tar) as a
// plain stream of bytes. The exporter's index in the Solve names the client's target.
import { createReadStream, promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';

import { methodSpec, type ClientCall, type MethodSpec } from './grpc/client.js';
import { Code, GrpcError } from './grpc/status.js';
import { goModeOf } from './file-mode.js';
import { messageType, method } from './protos.js';
import type { Session } from './sessions.js';

const FILESEND_DIFFCOPY = '/moby.filesync.v1.FileSend/DiffCopy';
const EXPORTER_ID = 'buildkit-attachable-exporter-id';
const PACKET = { STAT: 0, REQ: 1, DATA: 2, FIN: 3, ERR: 4 } as const;
/** As fsutil's sender: 32 KiB per DATA packet. */
const CHUNK = 32 * 1024;
/** As BuildKit's stream writer: a BytesMessage carries at most 3 MiB. */
const BYTES_CHUNK = 3 * 1024 * 1024;

/** FileSend.DiffCopy carries fsutil packets for a directory, though its .proto says BytesMessage. */
function packetSpec(): MethodSpec {
  const packet = messageType('fsutil.types.Packet');
  return { path: FILESEND_DIFFCOPY, requestType: packet, responseType: packet };
}

function open(session: Session, exporterId: number, packets: boolean, signal: AbortSignal): ClientCall {
  if (!session.methods.has(FILESEND_DIFFCOPY)) throw new GrpcError(Code.FAILED_PRECONDITION, `the client's session does not offer ${FILESEND_DIFFCOPY}: it takes no exports`);
  const spec = packets ? packetSpec() : methodSpec(method('moby.filesync.v1.FileSend', 'DiffCopy'));
  return session.client.call(spec, { [EXPORTER_ID]: String(exporterId) }, signal);
}

/** Streams `source` (a tar) to the client's file target of exporter `exporterId`. */
export async function sendFile(session: Session, exporterId: number, source: Readable, signal: AbortSignal): Promise<number> {
  const call = open(session, exporterId, false, signal);
  // The client's answer is read from the start: when it refuses the export half-way (its target
  // file exists, its disk is full), its reason is the error, not "the stream is closed".
  let refused: unknown;
  const done = drain(call).catch((err: unknown) => {
    refused = err;
  });
  let bytes = 0;
  try {
    for await (const chunk of source) {
      const buffer = chunk as Buffer;
      for (let offset = 0; offset < buffer.length; offset += BYTES_CHUNK) {
        await call.send({ data: buffer.subarray(offset, offset + BYTES_CHUNK) });
      }
      bytes += buffer.length;
    }
    call.end();
    await done;
    if (refused) throw refused;
    return bytes;
  } catch (err) {
    call.cancel();
    source.destroy();
    await done;
    throw refused ?? err;
  }
}

async function drain(call: ClientCall): Promise<void> {
  for await (const _ of call.messages()) {
    // The client answers nothing but its status.
  }
}

interface WalkEntry {
  relative: string;
  absolute: string;
  stat: Stats;
}

/** Depth first, names in byte order, a directory before its contents: the order fsutil walks in. */
async function* walk(root: string, relative = ''): AsyncGenerator<WalkEntry> {
  const names = (await fs.readdir(path.join(root, relative))).sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))));
  for (const name of names) {
    const child = relative ? `${relative}/${name}` : name;
    const absolute = path.join(root, child);
    const stat = await fs.lstat(absolute);
    yield { relative: child, absolute, stat };
    if (stat.isDirectory()) yield* walk(root, child);
  }
}

/** Sends the tree under `root` to the client's directory target of exporter `exporterId`. */
export async function sendDirectory(session: Session, exporterId: number, root: string, signal: AbortSignal): Promise<{ files: number; bytes: number }> {
  const call = open(session, exporterId, true, signal);
  const files = new Map<number, string>();
  const requested: number[] = [];
  let finished = false;
  let failed: unknown;
  let wake: (() => void) | undefined;
  // The client asks for files while the walk is still being sent: its requests are read as they
  // come, so neither side waits on the other's full window.
  const reader = (async () => {
    try {
      for await (const packet of call.messages()) {
        if (packet.type === PACKET.REQ) requested.push(Number(packet.ID));
        else if (packet.type === PACKET.FIN) finished = true;
        else if (packet.type === PACKET.ERR) throw new GrpcError(Code.UNKNOWN, `the client could not write the export: ${Buffer.from(packet.data ?? []).toString()}`);
        wake?.();
      }
    } catch (err) {
      failed = err;
    } finally {
      finished = true;
      wake?.();
    }
  })();
  let bytes = 0;
  try {
    let id = 0;
    for await (const entry of walk(root)) {
      const { stat } = entry;
      const linkname = stat.isSymbolicLink() ? await fs.readlink(entry.absolute) : '';
      await call.send({
        type: PACKET.STAT,
        stat: { path: entry.relative, mode: goModeOf(stat.mode), uid: stat.uid, gid: stat.gid, size: stat.isFile() ? stat.size : 0, modTime: Math.round(stat.mtimeMs * 1e6), linkname },
      });
      if (stat.isFile()) files.set(id, entry.absolute);
      id += 1;
    }
    await call.send({ type: PACKET.STAT });
    for (;;) {
      const next = requested.shift();
      if (next !== undefined) {
        const file = files.get(next);
        if (!file) throw new GrpcError(Code.INVALID_ARGUMENT, `the client asked for file ${next}, which is not a file of the export`);
        files.delete(next);
        for await (const chunk of createReadStream(file, { highWaterMark: CHUNK })) {
          await call.send({ type: PACKET.DATA, ID: next, data: chunk as Buffer });
          bytes += (chunk as Buffer).length;
        }
        await call.send({ type: PACKET.DATA, ID: next });
        continue;
      }
      if (failed) throw failed;
      if (finished) break;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
    await call.send({ type: PACKET.FIN });
    call.end();
    await reader;
    return { files: id, bytes };
  } catch (err) {
    call.cancel();
    await reader;
    throw failed ?? err;
  }
}
