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
      '--runtime-arg', `--root=${this.runtime.root}`,
      '--conmon-pidfile', path.join(bundle, 'conmon.pid'),
      ...(options.terminal ? ['-t'] : []),
      ...(options.stdin ? ['-i'] : []),
    ];
    const child = spawn('conmon', args, {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4' },
      detached: true,
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
