// A build's progress as BuildKit's Status stream carries it: vertexes (the steps, by digest) that
// start, complete, come from the cache or fail, with the logs of their processes and the statuses
// of their sub-tasks (a pull's layers, an export's stages). The CLI's plain and tty displays are
// drawn from these alone.
import { createHash, randomBytes } from 'node:crypto';

import type { Message } from './grpc/server.js';

/** The output a step may log, as BuildKit's limit. */
const LOG_LIMIT = 2 * 1024 * 1024;

export interface Timestamp {
  seconds: number;
  nanos: number;
}

export function timestamp(ms = Date.now()): Timestamp {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

/** One step the display shows (`#5 [2/3] RUN make`). */
export class Vertex {
  private started?: Timestamp;
  private completed?: Timestamp;
  private cachedFlag = false;
  private error = '';
  private logged = 0;

  constructor(
    private readonly progress: BuildProgress,
    readonly digest: string,
    readonly name: string,
    private readonly inputs: string[],
  ) {}

  start(): this {
    this.started ??= timestamp();
    this.progress.publish({ vertexes: [this.message()] });
    return this;
  }

  /** Done from the cache: BuildKit marks such a vertex cached, started and completed at once. */
  cached(): void {
    this.cachedFlag = true;
    this.complete();
  }

  complete(error?: string): void {
    if (this.completed) return;
    this.started ??= timestamp();
    this.completed = timestamp();
    if (error) this.error = error;
    this.progress.publish({ vertexes: [this.message()] });
  }

  get done(): boolean {
    return this.completed !== undefined;
  }

  /**
   * Output of the step's process: stream 1 is stdout, 2 stderr. Clipped past LOG_LIMIT, as
   * BuildKit clips it: a step that prints without end must not fill the engine's memory.
   */
  log(text: string | Buffer, stream = 1): void {
    const msg = typeof text === 'string' ? Buffer.from(text) : text;
    if (!msg.length || this.logged > LOG_LIMIT) return;
    this.logged += msg.length;
    const clipped = this.logged > LOG_LIMIT ? Buffer.from(`\n[output clipped, log limit ${LOG_LIMIT / 1024 / 1024}MiB reached]\n`) : msg;
    this.progress.publish({ logs: [{ vertex: this.digest, timestamp: timestamp(), stream, msg: clipped }] });
  }

  /** A sub-task's progress (`exporting layers`, a layer's bytes). */
  status(id: string, fields: { name?: string; current?: number; total?: number; done?: boolean }): void {
    const now = timestamp();
    this.progress.publish({
      statuses: [{ ID: id, vertex: this.digest, name: fields.name ?? id, current: fields.current ?? 0, total: fields.total ?? 0, timestamp: now, started: now, ...(fields.done ? { completed: now } : {}) }],
    });
  }

  /** A sub-task that is over as soon as it is said (`naming to docker.io/library/app:latest`). */
  task(name: string): void {
    this.status(name, { name, done: true });
  }

  private message(): Message {
    return {
      digest: this.digest,
      inputs: this.inputs,
      name: this.name,
      cached: this.cachedFlag,
      ...(this.started ? { started: this.started } : {}),
      ...(this.completed ? { completed: this.completed } : {}),
      error: this.error,
    };
  }
}

/**
 * The Status stream of one build. Messages published before anyone listens are kept and replayed
 * to the first listener (the CLI asks for the status right after the solve, but may be late);
 * after that they go out live and are not kept.
 */
export class BuildProgress {
  private readonly backlog: Message[] = [];
  private listener?: (message: Message | null) => void;
  private ended = false;
  private readonly salt = randomBytes(8).toString('hex');
  private count = 0;

  vertex(name: string, inputs: string[] = []): Vertex {
    // BuildKit's digests are of the step's definition; ours only need to be unique in the build.
    const digest = `sha256:${createHash('sha256').update(`${this.salt}:${this.count++}:${name}`).digest('hex')}`;
    return new Vertex(this, digest, name, inputs);
  }

  /** Runs `fn` as the vertex `name`: started now, completed when it ends, with its error if it fails. */
  async run<T>(name: string, fn: (vertex: Vertex) => Promise<T>): Promise<T> {
    const vertex = this.vertex(name).start();
    try {
      const result = await fn(vertex);
      vertex.complete();
      return result;
    } catch (err) {
      vertex.complete(err instanceof Error ? err.message : String(err));
      throw err;
    }
  }

  publish(message: Message): void {
    if (this.ended) return;
    if (this.listener) this.listener(message);
    else this.backlog.push(message);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.listener?.(null);
  }

  /** The messages, the backlog first, until the build ends or `signal` aborts. */
  async *follow(signal: AbortSignal): AsyncGenerator<Message> {
    if (this.listener) throw new Error('the build status already has a listener');
    const queue: (Message | null)[] = this.backlog.splice(0);
    if (this.ended) queue.push(null);
    let wake: (() => void) | undefined;
    this.listener = (message) => {
      queue.push(message);
      wake?.();
    };
    const onAbort = () => wake?.();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        while (queue.length) {
          const next = queue.shift()!;
          if (next === null) return;
          yield next;
        }
        if (signal.aborted) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.listener = undefined;
    }
  }
}
