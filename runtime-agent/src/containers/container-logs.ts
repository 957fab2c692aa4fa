// conmon's log format and Docker's stream framing. conmon writes the k8s-file format:
//   2026-11-28T01:20:39.979927974+00:00 stdout F hello      (F = full line, P = partial)
// The parser turns it back into Docker's entries (time, stream, text with its newline).
export interface LogEntry {
  time: string;
  stream: 'stdout' | 'stderr';
  text: string;
}

// `s`: a TTY writes "line\r": the carriage return is part of the text, not the end of the record.
const LINE_RE = /^(\S+) (stdout|stderr) ([FP]) ?(.*)$/s;

export class K8sFileParser {
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

/** Docker's stream multiplexing: an 8-byte header (stream, 0, 0, 0, big-endian length) per frame. */
export function frame(stream: 'stdin' | 'stdout' | 'stderr', payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream === 'stdin' ? 0 : stream === 'stdout' ? 1 : 2;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}
