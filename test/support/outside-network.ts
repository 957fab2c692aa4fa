// An "outside" network a test makes: a namespace behind a veth on the host, serving HTTP, with no
// route back to the containers' subnets, so only traffic the host forwards and masquerades gets an
// answer. Stands in for the internet, which tests never touch.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, promises as fs, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tmpdir } from 'node:os';

import { run } from './berthd.js';

export class OutsideNetwork {
  private server: ChildProcess | undefined;
  private readonly www = mkdtempSync(path.join(tmpdir(), 'berth-www-'));

  /** http://ADDRESS:8000/ answers `body`. */
  readonly url: string;

  private constructor(
    private readonly namespace: string,
    private readonly hostLink: string,
    readonly body: string,
    third: number,
  ) {
    this.url = `http://10.${third}.0.2:8000/`;
  }

  /** `third` picks the subnet, 10.<third>.0.0/24, so two tests never share one. */
  static async create(tag: string, third: number): Promise<OutsideNetwork> {
    const net = new OutsideNetwork(`berthext${tag}${process.pid}`, `bx${tag}${process.pid}`.slice(0, 15), 'outside', third);
    const ok = async (cmd: string, args: string[]) => {
      const res = await run(cmd, args);
      if (res.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${res.stderr}`);
    };
    await ok('ip', ['netns', 'add', net.namespace]);
    await ok('ip', ['link', 'add', net.hostLink, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', net.namespace]);
    await ok('ip', ['addr', 'add', `10.${third}.0.1/24`, 'dev', net.hostLink]);
    await ok('ip', ['link', 'set', net.hostLink, 'up']);
    await ok('ip', ['-n', net.namespace, 'addr', 'add', `10.${third}.0.2/24`, 'dev', 'eth0']);
    await ok('ip', ['-n', net.namespace, 'link', 'set', 'eth0', 'up']);
    writeFileSync(path.join(net.www, 'index.html'), `${net.body}\n`);
    net.server = spawn('ip', ['netns', 'exec', net.namespace, 'busybox', 'httpd', '-f', '-p', '8000', '-h', net.www], { stdio: 'ignore' });
    return net;
  }

  /**
   * A shell command for a busybox container: fetch the page, trying for a few seconds. (Debian's
   * busybox wget crashes on -T, hence `timeout`.)
   */
  fetchCommand(attempts = 10): string {
    return `for i in $(seq ${attempts}); do timeout 2 wget -qO- ${this.url} && exit 0; sleep 0.3; done; exit 1`;
  }

  async remove(): Promise<void> {
    this.server?.kill();
    await run('ip', ['link', 'del', this.hostLink]);
    await run('ip', ['netns', 'del', this.namespace]);
    await fs.rm(this.www, { recursive: true, force: true });
  }
}
