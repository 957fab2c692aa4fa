// The OCI runtime (runc or crun) as a command: state, start, kill, delete, pause, resume.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

import { SystemError } from '../util/errors.js';

export interface RuntimeState {
  id: string;
  pid: number;
  status: 'creating' | 'created' | 'running' | 'stopped' | 'paused';
  bundle: string;
}

export class OciRuntime {
  constructor(
    /** Absolute path of the runtime binary. */
    readonly binary: string,
    /** The runtime's state directory (`--root`). */
    readonly root: string,
  ) {}

  private run(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(this.binary, [`--root=${this.root}`, ...args], { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err) reject(new SystemError(runtimeMessage(stderr) || err.message));
        else resolve(stdout);
      });
    });
  }

  /** Whether the runtime still keeps state for `id` (a file check: no process to spawn). */
  hasState(id: string): boolean {
    return existsSync(path.join(this.root, id));
  }

  async state(id: string): Promise<RuntimeState | undefined> {
    try {
      return JSON.parse(await this.run(['state', id])) as RuntimeState;
    } catch {
      return undefined;
    }
  }

  async start(id: string): Promise<void> {
    await this.run(['start', id]);
  }

  async kill(id: string, signal: string, all = false): Promise<void> {
    await this.run(['kill', ...(all ? ['--all'] : []), id, signal]);
  }

  async delete(id: string, force = false): Promise<void> {
    await this.run(['delete', ...(force ? ['--force'] : []), id]).catch((err: unknown) => {
      if (!String(err).includes('does not exist')) throw err;
    });
  }

  async pause(id: string): Promise<void> {
    await this.run(['pause', id]);
  }

  async resume(id: string): Promise<void> {
    await this.run(['resume', id]);
  }

  /** Applies new resource limits to a running container (`docker update`). */
  async update(id: string, resourcesFile: string): Promise<void> {
    await this.run(['update', '--resources', resourcesFile, id]);
  }

  async ps(id: string): Promise<number[]> {
    return JSON.parse(await this.run(['ps', '--format', 'json', id])) as number[];
  }
}

/** runc writes JSON log lines (`{"level":"error","msg":"..."}`) or plain text on stderr. */
export function runtimeMessage(stderr: string): string {
  const messages: string[] = [];
  for (const line of stderr.split('\n')) {
    if (!line.trim()) continue;
    try {
      const parsed = JSON.parse(line) as { msg?: string };
      if (parsed.msg) messages.push(parsed.msg);
    } catch {
      messages.push(line.replace(/^time="[^"]*" level=\w+ msg="?/, '').replace(/"$/, ''));
    }
  }
  return messages.join(': ');
}
