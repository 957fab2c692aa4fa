// The QEMU provider: the command line from qemu-command.ts, virtiofsd helpers when asked, and the
// process watched so an unexpected exit (a crash, a kill) is noticed at once.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, promises as fs } from 'node:fs';

import type { VmProvider, VmState } from './provider.js';
import { qemuCommand, type VmSettings } from './qemu-command.js';

export class QemuProvider extends EventEmitter implements VmProvider {
  readonly name = 'qemu';
  private process: ChildProcess | undefined;
  private helpers: ChildProcess[] = [];
  private current: VmState = 'stopped';
  private log: string | undefined;

  async start(settings: VmSettings): Promise<void> {
    if (this.current !== 'stopped') return;
    this.current = 'starting';
    this.log = settings.consoleLog;
    const { binary, args, helpers } = qemuCommand(settings);
    for (const helper of helpers) {
      await fs.rm(helper.socket, { force: true });
      this.helpers.push(spawn(helper.binary, helper.args, { stdio: 'ignore' }));
      for (let i = 0; i < 100 && !existsSync(helper.socket); i++) await new Promise((r) => setTimeout(r, 50));
    }
    const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err) => reject(new Error(`could not run ${binary}: ${err.message}`)));
    });
    this.process = child;
    this.current = 'running';
    child.once('exit', (code) => {
      this.process = undefined;
      for (const helper of this.helpers) helper.kill();
      this.helpers = [];
      const expected = this.current === 'stopping';
      this.current = 'stopped';
      this.emit('exit', code, expected ? '' : stderr.trim());
    });
  }

  async stop(): Promise<void> {
    const child = this.process;
    if (!child) return;
    this.current = 'stopping';
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  state(): VmState {
    return this.current;
  }

  consoleLog(): string | undefined {
    return this.log;
  }

  /** QEMU's PID (for `berth status`, and so tests can kill it). */
  pid(): number | undefined {
    return this.process?.pid;
  }
}
