// A container's root filesystem: an overlay of the image's snapshots (read-only lower dirs) and
// the container's own upper dir, mounted at containers/<id>/rootfs while the container runs.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';

import { SystemError } from '../util/errors.js';

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (err, stdout, stderr) => (err ? reject(new SystemError(`${cmd} ${args[0] ?? ''}: ${stderr.trim() || err.message}`)) : resolve(stdout)));
  });
}

export class ContainerRootfs {
  readonly upper: string;
  readonly work: string;
  readonly mountpoint: string;

  constructor(readonly containerDir: string) {
    this.upper = path.join(containerDir, 'fs', 'upper');
    this.work = path.join(containerDir, 'fs', 'work');
    this.mountpoint = path.join(containerDir, 'rootfs');
  }

  async prepare(): Promise<void> {
    await fs.mkdir(this.upper, { recursive: true, mode: 0o755 });
    await fs.mkdir(this.work, { recursive: true, mode: 0o700 });
    await fs.mkdir(this.mountpoint, { recursive: true, mode: 0o755 });
  }

  async isMounted(): Promise<boolean> {
    const mounts = await fs.readFile('/proc/self/mountinfo', 'utf8');
    return mounts.split('\n').some((line) => line.split(' ')[4] === this.mountpoint);
  }

  /** Mounts the overlay; `lowerDirs` top first. An image without layers gets an empty lower dir. */
  async mount(lowerDirs: string[]): Promise<void> {
    if (await this.isMounted()) return;
    let lowers = lowerDirs;
    if (lowers.length === 0) {
      const empty = path.join(this.containerDir, 'fs', 'empty');
      await fs.mkdir(empty, { recursive: true });
      lowers = [empty];
    }
    await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lowers.join(':')},upperdir=${this.upper},workdir=${this.work}`, this.mountpoint]);
  }

  async unmount(): Promise<void> {
    if (!(await this.isMounted())) return;
    try {
      await run('umount', [this.mountpoint]);
    } catch (err) {
      // Another cleanup (exit handling and a forced remove) may have got there first.
      if (!(await this.isMounted())) return;
      await run('umount', ['-l', this.mountpoint]).catch(() => {
        throw err;
      });
    }
  }
}
