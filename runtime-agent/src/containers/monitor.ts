// Each container's process is supervised by Debian's conmon, which outlives berthd: it runs
// `runc create`, holds the container's stdio, writes its log, and records the exit code in
// exits/<id> when the process ends. berthd learns of exits by watching that directory, also for
// exits that happened while it was down.
import { spawn } from 'node:child_process';
import { promises as fs, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';

import type { OciRuntime } from '../oci/runtime.js';
import { SystemError, isErrnoException } from '../util/errors.js';
import { log } from '../util/log.js';

export interface LaunchOptions {
  id: string;
  bundle: string;
  logPath: string;
  terminal: boolean;
  stdin: boolean;
  /** Keep the container's stdin open when an attached client leaves (not StdinOnce). */
  leaveStdinOpen: boolean;
}

export class CreateFailedError extends SystemError {}

export class ConmonMonitor {
  private watcher: FSWatcher | undefined;

  constructor(
    private readonly runtime: OciRuntime,
    /** Shared by all containers: conmon writes exits/<id>. */
    readonly exitDir: string,
    readonly socketDir: string,
  ) {}

  async init(onExit: (id: string, code: number) => void): Promise<void> {
    await fs.mkdir(this.exitDir, { recursive: true });
    await fs.mkdir(this.socketDir, { recursive: true });
    this.watcher = watch(this.exitDir, (_event, name) => {
      if (name) void this.readExit(name.toString()).then((code) => code !== undefined && onExit(name.toString(), code));
    });
  }

  close(): void {
    this.watcher?.close();
  }

  /** The exit code conmon recorded, or undefined while the container runs. */
  async readExit(id: string): Promise<number | undefined> {
    try {
      const text = (await fs.readFile(path.join(this.exitDir, id), 'utf8')).trim();
      return text === '' ? undefined : Number(text);
    } catch (err) {
      if (isErrnoException(err, 'ENOENT')) return undefined;
      throw err;
    }
  }

  async clearExit(id: string): Promise<void> {
    await fs.rm(path.join(this.exitDir, id), { force: true });
  }

  /**
   * Runs a process in a running container through `conmon --exec` (which runs `runc exec`). For an
   * attached exec conmon opens an attach socket first and waits for a second start signal, so
   * the caller is connected before the process writes anything.
   */
  async exec(options: ExecLaunch): Promise<RunningExec> {
    const args = [
      '--api-version', '1',
      '-c', options.containerId, '-u', options.execId,
      '-r', this.runtime.binary,
      '-b', options.bundle,
      '-p', path.join(this.socketDir, `${options.execId}.pid`),
      '-l', 'none',
      '--exit-dir', path.join(this.socketDir, 'exec-exits'),
      '--socket-dir-path', this.socketDir,
      '--runtime-arg', `--root=${this.runtime.root}`,
      '-e', '--exec-process-spec', options.processSpecPath,
      ...(options.attach ? ['--exec-attach'] : []),
      ...(options.terminal ? ['-t'] : []),
      ...(options.stdin ? ['-i'] : []),
    ];
    await fs.mkdir(path.join(this.socketDir, 'exec-exits'), { recursive: true });
    const child = spawn('conmon', args, {
      stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4', ...(options.attach ? { _OCI_ATTACHPIPE: '5' } : {}) },
      detached: true,
      cwd: options.bundle,
    });
    child.once('error', (err) => log.warn('conmon exec failed to run', { error: err.message }));
    child.unref();
    const sync = new ConmonMessages(child.stdio[3] as NodeJS.ReadableStream);
    const start = child.stdio[4] as NodeJS.WritableStream;
    start.write('0');
    if (options.attach) {
      const ready = await new ConmonMessages((child.stdio as unknown as NodeJS.ReadableStream[])[5] as NodeJS.ReadableStream).next();
      if (ready.data !== 0) throw new SystemError(`exec attach failed: ${ready.message ?? JSON.stringify(ready)}`);
      await options.attach();
      start.write('0');
    }
    const started = await sync.next();
    if (!started.data || started.data < 0) {
      throw new CreateFailedError(`OCI runtime exec failed: ${cleanRuntimeError(started.message ?? 'unknown error')}: unknown`);
    }
    const exited = sync.next().then((m) => (typeof m.data === 'number' ? m.data : 126));
    return { pid: started.data, exited };
  }

  /** Runs conmon (which runs `runc create`) and returns the container's PID; `start` follows. */
  async create(options: LaunchOptions): Promise<number> {
    await this.clearExit(options.id);
    const { id, bundle } = options;
    const args = [
      '--api-version', '1',
      '-c', id, '-u', id, '-n', id,
      '-r', this.runtime.binary,
      '-b', bundle,
      '-p', path.join(bundle, 'pidfile'),
      '--exit-dir', this.exitDir,
      '--socket-dir-path', this.socketDir,
      '-l', `k8s-file:${options.logPath}`,
      // berthd copies this file into the json-file log; conmon keeps it from growing without end.
      '--log-size-max', String(64 * 1024 * 1024),
      '--runtime-arg', `--root=${this.runtime.root}`,
      '--conmon-pidfile', path.join(bundle, 'conmon.pid'),
      ...(options.terminal ? ['-t'] : []),
      ...(options.stdin ? ['-i'] : []),
      ...(options.stdin && options.leaveStdinOpen ? ['--leave-stdin-open'] : []),
    ];
    const child = spawn('conmon', args, {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4' },
      detached: true,
      // conmon writes an `oom` marker into its working directory when the container is OOM-killed:
      // keep it in the bundle, not in whatever directory berthd was started from.
      cwd: bundle,
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const sync = child.stdio[3] as NodeJS.ReadableStream;
    const start = child.stdio[4] as NodeJS.WritableStream;
    start.write('0');
    start.end();
    // conmon keeps the sync pipe open after it reports the PID: read one JSON object, then let go.
    let reply = '';
    await new Promise<void>((resolve, reject) => {
      child.once('error', (err) => reject(new SystemError(`failed to run conmon: ${err.message}`)));
      sync.on('data', (d: Buffer) => {
        reply += d.toString();
        if (reply.includes('}')) resolve();
      });
      sync.once('end', () => resolve());
    });
    sync.removeAllListeners('data');
    (sync as NodeJS.ReadableStream & { destroy(): void }).destroy();
    child.stderr?.removeAllListeners('data');
    child.stderr?.destroy();
    child.unref();
    let parsed: { data?: number; message?: string };
    try {
      parsed = JSON.parse(reply.slice(0, reply.indexOf('}') + 1)) as { data?: number; message?: string };
    } catch {
      throw new SystemError(`conmon did not report the container's PID: ${stderr.trim() || reply}`);
    }
    if (!parsed.data || parsed.data < 0) {
      log.debug('runtime create failed', { id, message: parsed.message, stderr });
      throw new CreateFailedError(`failed to create task for container: OCI runtime create failed: ${cleanRuntimeError(parsed.message ?? stderr)}: unknown`);
    }
    return parsed.data;
  }
}

export interface ExecLaunch {
  containerId: string;
  execId: string;
  bundle: string;
  processSpecPath: string;
  terminal: boolean;
  stdin: boolean;
  /** Called once conmon's attach socket exists and before the process starts (attached execs). */
  attach?: () => Promise<void>;
}

export interface RunningExec {
  pid: number;
  /** Resolves with the exec's exit code (conmon reports it on the sync pipe). */
  exited: Promise<number>;
}

/** Reads conmon's `{"data": N}` messages from a pipe, one promise per message. */
class ConmonMessages {
  private buffer = '';
  private readonly waiting: ((value: { data?: number; message?: string }) => void)[] = [];
  private readonly queued: { data?: number; message?: string }[] = [];
  private ended = false;

  constructor(stream: NodeJS.ReadableStream) {
    stream.on('data', (d: Buffer) => {
      this.buffer += d.toString();
      let end: number;
      while ((end = this.buffer.indexOf('}')) !== -1) {
        const text = this.buffer.slice(0, end + 1);
        this.buffer = this.buffer.slice(end + 1);
        let message: { data?: number; message?: string };
        try {
          message = JSON.parse(text.slice(text.indexOf('{'))) as { data?: number; message?: string };
        } catch {
          message = { message: text };
        }
        const waiter = this.waiting.shift();
        if (waiter) waiter(message);
        else this.queued.push(message);
      }
    });
    stream.on('end', () => {
      this.ended = true;
      for (const waiter of this.waiting.splice(0)) waiter({ message: 'conmon exited' });
    });
  }

  next(): Promise<{ data?: number; message?: string }> {
    const queued = this.queued.shift();
    if (queued) return Promise.resolve(queued);
    if (this.ended) return Promise.resolve({ message: 'conmon exited' });
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}

/** conmon passes runc's log lines through; keep the message text only. */
function cleanRuntimeError(message: string): string {
  const lines = message.split('\n').filter(Boolean);
  const texts = lines.map((line) => {
    try {
      return (JSON.parse(line) as { msg?: string }).msg ?? line;
    } catch {
      return line.replace(/^time="[^"]*" level=\w+ msg="?/, '').replace(/"$/, '');
    }
  });
  return texts.join(': ').replace(/\\"/g, '"').trim();
}
