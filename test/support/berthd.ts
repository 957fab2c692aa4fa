// Starts a berthd of its own for a test file (a fresh data root and socket in a temp dir) and runs
// the real docker CLI against it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, promises as fs } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
export const BERTHD = path.join(ROOT, 'node_modules/.bin/berthd');
export const DOCKER = process.env.BERTH_TEST_DOCKER ?? '/usr/local/bin/docker';
const COMMAND_TIMEOUT_MS = 180_000;

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], options: { input?: string | Buffer; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    // A command that hangs must fail its test, not stall the whole run.
    const child = spawn(cmd, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'], timeout: COMMAND_TIMEOUT_MS, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

export function registry(): string {
  const value = process.env.BERTH_TEST_REGISTRY;
  if (!value) throw new Error('BERTH_TEST_REGISTRY is not set: run the tests through `npm test` (scripts/test.sh starts the registries)');
  return value;
}

/** The fixture registry that wants a login (htpasswd), and its user. */
export function authRegistry(): { host: string; user: string; password: string } {
  const host = process.env.BERTH_TEST_AUTH_REGISTRY;
  if (!host) throw new Error('BERTH_TEST_AUTH_REGISTRY is not set: run the tests through `npm test`');
  return { host, user: process.env.BERTH_TEST_AUTH_USER ?? 'testuser', password: process.env.BERTH_TEST_AUTH_PASSWORD ?? 'testpassword' };
}

export class TestEngine {
  private child: ChildProcess | undefined;
  log = '';
  readonly socket: string;
  readonly dataRoot: string;
  /** DOCKER_CONFIG of this engine's CLI calls, so `docker login` never touches ~/.docker. */
  readonly dockerConfig: string;
  /** Each engine gets a default bridge of its own, so engines of different tests never share one. */
  readonly bridge = `bt${Math.random().toString(16).slice(2, 10)}`;

  constructor(readonly dir: string = mkdtempSync(path.join(tmpdir(), 'berth-test-'))) {
    this.socket = path.join(dir, 'docker.sock');
    this.dataRoot = path.join(dir, 'data');
    this.dockerConfig = path.join(dir, 'docker-config');
  }

  /**
   * `launcher`: a command berthd runs under, e.g. `['ip', 'netns', 'exec', 'ns']` for an engine in a
   * network namespace of its own (it must exec berthd, so that the process is berthd's).
   */
  static async start(extraArgs: string[] = [], launcher: string[] = []): Promise<TestEngine> {
    const engine = new TestEngine();
    engine.launcher = launcher;
    await fs.mkdir(engine.dockerConfig, { recursive: true });
    await engine.start(extraArgs);
    return engine;
  }

  private launcher: string[] = [];

  async start(extraArgs: string[] = []): Promise<void> {
    this.log = '';
    const args = ['--host', `unix://${this.socket}`, '--data-root', this.dataRoot, '--log-level', 'debug', '--bridge', this.bridge, ...extraArgs];
    const [command = BERTHD, ...prefix] = this.launcher.length ? [...this.launcher, BERTHD] : [BERTHD];
    const child = spawn(command, [...prefix, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr?.on('data', (d: Buffer) => (this.log += d.toString()));
    this.child = child;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`berthd exited with ${child.exitCode}:\n${this.log}`);
      try {
        const res = await this.request('GET', '/_ping');
        if (res.body === 'OK') return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`berthd did not answer /_ping within 15 s:\n${this.log}`);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** SIGTERM (or another signal) and wait for the process to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill(signal);
    return exited;
  }

  async restart(extraArgs: string[] = []): Promise<void> {
    await this.stop();
    await this.start(extraArgs);
  }

  /**
   * Removes every container, then stops the engine with SIGTERM: with nothing running it removes
   * its bridges and firewall chains, so a test leaves the host as it found it.
   */
  async dispose(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      const ids = (await this.docker(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
      if (ids.length) await this.docker(['rm', '-f', '-v', ...ids]);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const code = await Promise.race([this.stop('SIGTERM'), new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), 15_000)))]);
    // A pending timer would keep the test file's process alive for its full 15 s.
    clearTimeout(timer);
    if (code === 'timeout') await this.stop('SIGKILL');
    await fs.rm(this.dir, { recursive: true, force: true });
    // Every test file's engine: an error thrown out of a handler (a client that hung up mid-stream,
    // say) is a bug even when the test's own assertions passed.
    const thrown = this.log.split('\n').filter((line) => /msg="(uncaught exception|unhandled rejection)"/.test(line));
    if (thrown.length) throw new Error(`berthd logged ${thrown.length} uncaught error(s):\n${thrown.slice(0, 5).join('\n')}`);
  }

  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return { ...process.env, DOCKER_HOST: `unix://${this.socket}`, DOCKER_CONFIG: this.dockerConfig, ...extra };
  }

  docker(args: string[], options: { input?: string | Buffer; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
    return run(DOCKER, args, { env: this.env(options.env), ...(options.input !== undefined ? { input: options.input } : {}) });
  }

  /** Runs docker and returns stdout; throws with the CLI's stderr when it fails. */
  async dockerOk(args: string[], options: { input?: string | Buffer; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
    const res = await this.docker(args, options);
    if (res.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${res.code}:\n${res.stderr}${res.stdout}`);
    return res.stdout;
  }

  /** A raw Engine API request over the socket. */
  request(method: string, urlPath: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request({ socketPath: this.socket, method, path: urlPath, headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }
}
