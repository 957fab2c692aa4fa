// One build as BuildKit's client runs it: Solve, Status and the gateway's calls arrive on their own
// streams (in any order) and name the build by its ref; they meet here.
import { Code, GrpcError } from './grpc/status.js';
import { BuildProgress } from './progress.js';
import type { Message } from './grpc/server.js';

/** What a frontend solve produced: an image in the store, and the config it has. */
export interface SolvedRef {
  imageId: string;
  config: Buffer;
  /** The result of every stage the build ran, the target's last: what a cache export with mode=max keeps. */
  stageImages: string[];
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

export class BuildJob {
  readonly progress = new BuildProgress();
  /** Results of the gateway's solves, by the ref id the client got for them. */
  readonly refs = new Map<string, SolvedRef>();
  /** What the client's build function returned (LLBBridge.Return). */
  readonly returned = deferred<{ result?: Message; error?: Message }>();
  /** The Solve's session, for the gateway's solves. */
  session = '';
  /** What the client grants the build (`--allow network.host`, `--allow security.insecure`). */
  entitlements: string[] = [];
  /** Its Solve has come (a Status or a gateway call may open the job before). */
  started = false;
  /** Aborted when the build is over: a gateway call still waiting for something of it gives up. */
  readonly over = new AbortController();
  private readonly solveCame = deferred<void>();

  /** The Solve has come: the gateway's calls that waited for it go on. */
  start(session: string, entitlements: string[] = []): void {
    if (this.started) throw new GrpcError(Code.ALREADY_EXISTS, `build ${this.ref} is already running`);
    this.started = true;
    this.session = session;
    this.entitlements = entitlements;
    this.solveCame.resolve();
  }

  get solved(): Promise<void> {
    return this.solveCame.promise;
  }
  private nextRef = 0;

  constructor(readonly ref: string) {}

  addRef(solved: SolvedRef): string {
    const id = `${this.ref}-${this.nextRef++}`;
    this.refs.set(id, solved);
    return id;
  }
}

/** How long a gateway call waits for the Solve of its build. */
const JOB_WAIT_MS = 3_000;

/** How long a build opened by its Status waits for its Solve. */
const ORPHAN_MS = 60_000;

/** How long a finished build's status stays for a Status call that comes late. */
const LINGER_MS = 30_000;

export class BuildJobs {
  private readonly jobs = new Map<string, BuildJob>();

  /** The build `ref`, created by whichever of its calls comes first. */
  open(ref: string): BuildJob {
    let job = this.jobs.get(ref);
    if (!job) {
      const created = new BuildJob(ref);
      this.jobs.set(ref, created);
      // A Status for a build whose Solve never comes ends, rather than waiting (and staying) forever.
      setTimeout(() => {
        if (!created.started) this.finish(created);
      }, ORPHAN_MS).unref();
      job = created;
    }
    return job;
  }

  get(ref: string): BuildJob | undefined {
    return this.jobs.get(ref);
  }

  /** The build `ref`, once its Solve has come (as dockerd, up to 3 s). */
  async wait(ref: string, signal: AbortSignal): Promise<BuildJob> {
    const job = this.open(ref);
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await Promise.race([
        job.solved,
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new GrpcError(Code.NOT_FOUND, `no such job ${ref}`)), JOB_WAIT_MS))),
        new Promise<never>((_, reject) => {
          onAbort = () => reject(new GrpcError(Code.CANCELLED, 'cancelled'));
          if (signal.aborted) onAbort();
          else signal.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
      return job;
    } finally {
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  /** The build is over: its status ends, and the job goes once a late listener had its chance. */
  finish(job: BuildJob): void {
    job.progress.end();
    job.over.abort();
    setTimeout(() => {
      if (this.jobs.get(job.ref) === job) this.jobs.delete(job.ref);
    }, LINGER_MS).unref();
  }
}
