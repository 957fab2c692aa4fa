// The json-file log driver: berthd copies what conmon writes (its k8s-file) into Docker's
// json-file format, one `{"log","stream","time"}` object per line, rotated by --log-opt max-size
// and max-file exactly as dockerd names the files (<id>-json.log, .1, .2, ...). The copy resumes
// from a saved offset after a berthd restart, so lines written while berthd was down are kept.
import { promises as fs, watch, type FSWatcher } from 'node:fs';

import { InvalidParameterError, isErrnoException } from '../util/errors.js';
import { log } from '../util/log.js';
import { K8sFileParser, type LogEntry } from './container-logs.js';

export interface ReadOptions {
  follow: boolean;
  /** Resolves when the container has stopped: following ends after the file's last bytes. */
  stopped?: Promise<unknown>;
  signal?: AbortSignal;
}

export interface JsonLogOptions {
  maxSize?: number;
  maxFile: number;
}

/** `10m` -> 10485760 (docker's RAMInBytes: k, m, g, binary). */
export function parseLogSize(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)b?$/i.exec(value.trim());
  if (!m) throw new InvalidParameterError(`invalid value for max-size: ${value}`);
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? '').toLowerCase()] ?? 1;
  return Math.floor(Number(m[1]) * unit);
}

/** conmon's `2026-11-28T01:20:39.979927974+00:00` as Docker writes it: `...979927974Z`. */
function dockerTime(time: string): string {
  return time.replace(/\+00:00$/, 'Z');
}

/** Copies one container's k8s-file into its json-file while the container runs. */
export class LogCollector {
  private readonly parser = new K8sFileParser();
  private watcher: FSWatcher | undefined;
  private offset = 0;
  private size = 0;
  private pumping: Promise<void> = Promise.resolve();
  private again = false;
  /**
   * Where the json-file ended when copying (re)started: its last entry's time and how many entries
   * carry that time. A crash between writing lines and saving the offset must not copy them twice.
   */
  private resume = { time: '', count: 0 };

  constructor(
    private readonly source: string,
    private readonly target: string,
    private readonly positionFile: string,
    private readonly options: JsonLogOptions,
  ) {}

  async start(): Promise<void> {
    const saved = await fs.readFile(this.positionFile, 'utf8').catch(() => '0');
    this.offset = Number(saved) || 0;
    this.size = (await fs.stat(this.target).catch(() => undefined))?.size ?? 0;
    this.resume = await lastEntries(this.target);
    await fs.writeFile(this.source, '', { flag: 'a' });
    this.watcher = watch(this.source, () => this.kick());
    this.kick();
  }

  /** Copies what is left (the container has exited) and stops. */
  async finish(): Promise<void> {
    this.watcher?.close();
    this.watcher = undefined;
    this.kick();
    await this.pumping;
    for (const entry of this.parser.flush()) await this.append([entry]);
  }

  private kick(): void {
    if (this.again) return;
    this.again = true;
    this.pumping = this.pumping.then(async () => {
      this.again = false;
      await this.pump().catch((err: unknown) => log.warn('log collection failed', { file: this.source, error: String(err) }));
    });
  }

  private async pump(): Promise<void> {
    const handle = await fs.open(this.source, 'r');
    try {
      const { size } = await handle.stat();
      if (size < this.offset) this.offset = 0; // conmon rotated its file
      const buffer = Buffer.alloc(256 * 1024);
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.offset);
        if (bytesRead === 0) break;
        this.offset += bytesRead;
        await this.append(this.parser.push(buffer.subarray(0, bytesRead).toString('utf8')));
      }
    } finally {
      await handle.close();
    }
    await fs.writeFile(this.positionFile, String(this.offset));
  }

  private async append(entries: LogEntry[]): Promise<void> {
    if (entries.length === 0) return;
    let chunk = '';
    for (const e of entries) {
      const time = dockerTime(e.time);
      if (this.resume.time) {
        if (time < this.resume.time) continue;
        if (time === this.resume.time && this.resume.count > 0) {
          this.resume.count--;
          continue;
        }
        this.resume = { time: '', count: 0 };
      }
      const line = JSON.stringify({ log: e.text, stream: e.stream, time }) + '\n';
      if (this.options.maxSize && this.size + chunk.length + line.length > this.options.maxSize && this.size + chunk.length > 0) {
        await fs.appendFile(this.target, chunk);
        chunk = '';
        await this.rotate();
      }
      chunk += line;
    }
    await fs.appendFile(this.target, chunk);
    this.size += Buffer.byteLength(chunk);
  }

  private async rotate(): Promise<void> {
    const keep = this.options.maxFile;
    if (keep <= 1) {
      await fs.truncate(this.target, 0);
    } else {
      await fs.rm(`${this.target}.${keep - 1}`, { force: true });
      for (let i = keep - 2; i >= 1; i--) await fs.rename(`${this.target}.${i}`, `${this.target}.${i + 1}`).catch(() => undefined);
      await fs.rename(this.target, `${this.target}.1`);
    }
    this.size = 0;
  }
}

/** The time of the last entry of a json-file log and how many entries at its end share it. */
async function lastEntries(file: string): Promise<{ time: string; count: number }> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch {
    return { time: '', count: 0 };
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, 256 * 1024);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    const times = buffer.toString('utf8').split('\n').filter(Boolean).map((l) => parseJsonLine(l)?.time ?? '');
    const time = times[times.length - 1] ?? '';
    let count = 0;
    for (let i = times.length - 1; i >= 0 && times[i] === time; i--) count++;
    return { time, count: time ? count : 0 };
  } finally {
    await handle.close();
  }
}

function parseJsonLine(line: string): LogEntry | undefined {
  try {
    const o = JSON.parse(line) as { log?: string; stream?: string; time?: string };
    if (typeof o.log !== 'string') return undefined;
    return { text: o.log, stream: o.stream === 'stderr' ? 'stderr' : 'stdout', time: o.time ?? '' };
  } catch {
    return undefined;
  }
}

/** Reads a json-file log, rotated files oldest first, following the current file when asked. */
export async function* readJsonLog(file: string, options: ReadOptions & { maxFile: number }): AsyncGenerator<LogEntry> {
  for (let i = options.maxFile - 1; i >= 1; i--) {
    const text = await fs.readFile(`${file}.${i}`, 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      const e = line ? parseJsonLine(line) : undefined;
      if (e) yield e;
    }
  }
  let handle: fs.FileHandle | undefined;
  let inode = 0;
  let position = 0;
  let rest = '';
  let stopped = false;
  void options.stopped?.then(() => (stopped = true));
  const open = async () => {
    await handle?.close();
    try {
      handle = await fs.open(file, 'r');
      inode = (await handle.stat()).ino;
    } catch (err) {
      if (!isErrnoException(err, 'ENOENT')) throw err;
      handle = undefined;
    }
    position = 0;
    rest = '';
  };
  await open();
  let wake: (() => void) | undefined;
  const watcher = options.follow ? watch(file, () => wake?.()) : undefined;
  void options.stopped?.then(() => wake?.());
  options.signal?.addEventListener('abort', () => wake?.());
  const buffer = Buffer.alloc(256 * 1024);
  try {
    for (;;) {
      const bytesRead = handle ? (await handle.read(buffer, 0, buffer.length, position)).bytesRead : 0;
      if (bytesRead > 0) {
        position += bytesRead;
        const lines = (rest + buffer.subarray(0, bytesRead).toString('utf8')).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) {
          const e = parseJsonLine(line);
          if (e) yield e;
        }
        continue;
      }
      if (!options.follow || options.signal?.aborted) break;
      // Rotated under us: the name now points at a new file.
      const current = await fs.stat(file).catch(() => undefined);
      if (current && current.ino !== inode) {
        await open();
        continue;
      }
      if (stopped) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 1000).unref();
      });
      wake = undefined;
    }
  } finally {
    watcher?.close();
    await handle?.close();
  }
}
