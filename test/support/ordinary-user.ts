// An ordinary user a test creates, to run the host side as people do: not as root. Commands run
// as the user through util-linux's setpriv with the environment the test gives them. When the
// checkout sits where other users cannot reach it (/root, a 0700 folder), the user sees it through
// a bind mount under /tmp instead; nothing about the checkout's own permissions changes.
import { promises as fs } from 'node:fs';
import path from 'node:path';

import { run } from './berthd.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

export class OrdinaryUser {
  private constructor(
    readonly name: string,
    readonly uid: number,
    readonly gid: number,
    /** The checkout as this user reaches it. */
    readonly checkout: string,
    private readonly mounted: boolean,
  ) {}

  /** A new user whose home is `home` (made and given to it), in its own group and `groups`. */
  static async create(home: string, options: { tag?: string; groups?: string[] } = {}): Promise<OrdinaryUser> {
    const name = `berthu${options.tag ?? ''}${process.pid}`.slice(0, 30);
    const groups = options.groups?.length ? ['--groups', options.groups.join(',')] : [];
    await mustRun('useradd', ['--no-create-home', '--home-dir', home, '--shell', '/bin/sh', '--user-group', ...groups, name]);
    const uid = Number((await mustRun('id', ['-u', name])).trim());
    const gid = Number((await mustRun('id', ['-g', name])).trim());
    await fs.mkdir(home, { recursive: true });
    await fs.chown(home, uid, gid);
    const probe = new OrdinaryUser(name, uid, gid, ROOT, false);
    const reach = await run(...probe.command('test', ['-r', path.join(ROOT, 'package.json'), '-a', '-x', path.join(ROOT, 'node_modules/.bin/berth')]));
    if (reach.code === 0) return probe;
    const checkout = `/tmp/berth-checkout-${process.pid}`;
    await fs.mkdir(checkout, { recursive: true, mode: 0o755 });
    await mustRun('mount', ['--bind', ROOT, checkout]);
    return new OrdinaryUser(name, uid, gid, checkout, true);
  }

  /** [command, args] that run `cmd` as this user, for run() or spawn(). */
  command(cmd: string, args: string[]): [string, string[]] {
    return ['setpriv', ['--reuid', String(this.uid), '--regid', String(this.gid), '--init-groups', '--', cmd, ...args]];
  }

  /** Gives a path the test made as root to the user (recursively). */
  async own(target: string): Promise<void> {
    await mustRun('chown', ['-R', `${this.uid}:${this.gid}`, target]);
  }

  async remove(): Promise<void> {
    if (this.mounted) {
      await run('umount', [this.checkout]);
      await fs.rmdir(this.checkout).catch(() => undefined);
    }
    // What the user still runs (a host agent finishing its stop) would keep userdel from working.
    await run('pkill', ['-KILL', '-u', String(this.uid)]);
    for (let attempt = 0; ; attempt++) {
      const res = await run('userdel', [this.name]);
      if (res.code === 0) return;
      if (attempt === 20) throw new Error(`userdel ${this.name}: ${res.stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function mustRun(cmd: string, args: string[]): Promise<string> {
  const res = await run(cmd, args);
  if (res.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${res.stderr}`);
  return res.stdout;
}
