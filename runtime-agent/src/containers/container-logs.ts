// Reading a container's log. conmon writes the k8s-file format, one line per chunk:
//   2026-11-28T01:20:39.979927974+00:00 stdout F hello      (F = full line, P = partial)
// This reader turns it back into Docker's entries (time, stream, text with its newline) and follows
// the file while the container runs.
import { promises as fs, watch } from 'node:fs';

export interface LogEntry {
  time: string;
  stream: 'stdout' | 'stderr';
  text: string;
}

export interface ReadOptions {
  follow: boolean;
  /** Resolves when the container has stopped: following ends after the file's last bytes. */
  stopped?: Promise<unknown>;
  signal?: AbortSignal;
  /** Start at this byte offset (attach reads only what comes after it). */
  fromByte?: number;
}

const LINE_RE = /^(\S+) (stdout|stderr) ([FP]) ?(.*)$/;

class K8sFileParser {
  private rest = '';
  private partial: LogEntry | undefined;

  push(chunk: string): LogEntry[] {
    const text = this.rest + chunk;
    const lines = text.split('\n');
    this.rest = lines.pop() ?? '';
    const entries: LogEntry[] = [];
    for (const line of lines) {
      const m = LINE_RE.exec(line);
      if (!m) continue;
      const [, time = '', stream, flag, body = ''] = m;
      const entry: LogEntry = this.partial && this.partial.stream === stream ? { ...this.partial, text: this.partial.text + body } : { time, stream: stream as LogEntry['stream'], text: body };
      if (flag === 'P') {
        this.partial = entry;
        continue;
      }
      this.partial = undefined;
      entries.push({ ...entry, text: entry.text + '\n' });
    }
    return entries;
  }

  /** A partial line left when the container stopped (its output did not end with a newline). */
  flush(): LogEntry[] {
    const last = this.partial;
    this.partial = undefined;
    return last ? [last] : [];
  }
}

export async function* readLog(file: string, options: ReadOptions): AsyncGenerator<LogEntry> {
  const parser = new K8sFileParser();
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch {
    if (!options.follow) return;
    await options.stopped;
    return;
  }
  let stopped = false;
  void options.stopped?.then(() => (stopped = true));
  let wake: (() => void) | undefined;
  const watcher = options.follow ? watch(file, () => wake?.()) : undefined;
  const onAbort = () => wake?.();
  options.signal?.addEventListener('abort', onAbort);
  void options.stopped?.then(() => wake?.());
  const buffer = Buffer.alloc(256 * 1024);
  let position = options.fromByte ?? 0;
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead > 0) {
        position += bytesRead;
        for (const entry of parser.push(buffer.subarray(0, bytesRead).toString('utf8'))) yield entry;
        continue;
      }
      if (!options.follow || options.signal?.aborted) break;
      if (stopped) {
        // One more read: the last lines may have landed between the read and the stop.
        const tail = await handle.read(buffer, 0, buffer.length, position);
        if (tail.bytesRead > 0) {
          position += tail.bytesRead;
          for (const entry of parser.push(buffer.subarray(0, tail.bytesRead).toString('utf8'))) yield entry;
          continue;
        }
        break;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 1000).unref();
      });
      wake = undefined;
    }
    for (const entry of parser.flush()) yield entry;
  } finally {
    watcher?.close();
    options.signal?.removeEventListener('abort', onAbort);
    await handle.close();
  }
}

/** Docker's stream multiplexing: an 8-byte header (stream, 0, 0, 0, big-endian length) per frame. */
export function frame(stream: 'stdin' | 'stdout' | 'stderr', payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream === 'stdin' ? 0 : stream === 'stdout' ? 1 : 2;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}
