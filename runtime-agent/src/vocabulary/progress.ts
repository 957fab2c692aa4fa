// The JSON message stream of pull, push, load and import: one JSON object per line, as
// dockerd's streamformatter writes it and the CLI's jsonmessage renders it (bars on a TTY).
import { humanSize } from '../util/human-size.js';

export interface JsonMessage {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  progress?: string;
  stream?: string;
  aux?: unknown;
  errorDetail?: { message: string; code?: number };
  error?: string;
}

export type MessageSink = (message: JsonMessage) => void;

const BAR_WIDTH = 50;
/** Progress lines for one id are sent at most this often (the last one always goes out). */
const PROGRESS_INTERVAL_MS = 100;

/** "[=====>          ]  1.23MB/4.56MB", as jsonmessage.JSONProgress renders it. */
export function progressBar(current: number, total: number | undefined): string {
  if (!total || total <= 0) return current > 0 ? humanSize(current).padStart(8) : '';
  const filled = Math.min(BAR_WIDTH, Math.floor(Math.floor((current / total) * 100) / 2));
  const bar = `[${'='.repeat(filled)}>${' '.repeat(BAR_WIDTH - filled)}] `;
  const numbers = current > total ? '' : `${humanSize(current).padStart(8)}/${humanSize(total)}`;
  return bar + numbers;
}

export class ProgressReporter {
  private readonly lastSent = new Map<string, number>();

  constructor(private readonly sink: MessageSink) {}

  status(status: string, id?: string): void {
    this.sink(id === undefined ? { status } : { status, progressDetail: {}, id });
  }

  /** A plain status line with an id and no progressDetail ("Pulling from x", id = tag). */
  header(status: string, id: string): void {
    this.sink({ status, id });
  }

  progress(id: string, action: string, current: number, total: number | undefined, force = false): void {
    const now = Date.now();
    const key = `${id}\0${action}`;
    const last = this.lastSent.get(key) ?? 0;
    if (!force && now - last < PROGRESS_INTERVAL_MS && current !== total) return;
    this.lastSent.set(key, now);
    this.sink({
      status: action,
      progressDetail: total ? { current, total } : { current },
      progress: progressBar(current, total),
      id,
    });
  }

  stream(text: string): void {
    this.sink({ stream: text });
  }

  aux(aux: unknown): void {
    this.sink({ progressDetail: {}, aux });
  }

  error(message: string): void {
    this.sink({ errorDetail: { message }, error: message });
  }
}
