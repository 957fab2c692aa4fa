// `docker exec`: sessions created by POST /containers/{id}/exec and run by POST /exec/{id}/start,
// each through `conmon --exec` with the container's own process settings (capabilities, env)
// and the exec's command, user and directory on top.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

import type { EventBus } from '../events/event-bus.js';
import { capabilitySets, type OciSpec } from '../oci/spec.js';
import { writeJsonAtomic } from '../util/atomic-file.js';
import { ConflictError, InvalidParameterError, NotFoundError } from '../util/errors.js';
import type { ContainerService } from './container-service.js';
import { mergeEnv } from './create-request.js';
import type { ConmonMonitor } from './monitor.js';
import { ContainerRootfs } from './rootfs.js';
import { ALL_CAPABILITIES } from './spec-builder.js';
import { resolveUser } from './user.js';

export interface ExecConfig {
  Cmd?: string[];
  Env?: string[] | null;
  User?: string;
  WorkingDir?: string;
  Tty?: boolean;
  Privileged?: boolean;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  DetachKeys?: string;
}

export interface ExecSession {
  id: string;
  containerId: string;
  config: ExecConfig;
  running: boolean;
  exitCode: number | null;
  pid: number;
}

export class ExecService {
  private readonly sessions = new Map<string, ExecSession>();

  constructor(
    private readonly containers: ContainerService,
    private readonly monitor: ConmonMonitor,
    private readonly events: EventBus,
  ) {}

  create(containerIdOrName: string, config: ExecConfig): string {
    const record = this.containers.store.get(containerIdOrName);
    if (record.State.Status === 'paused') throw new ConflictError(`Container ${record.Id} is paused, unpause the container before exec`);
    if (record.State.Status !== 'running') throw new ConflictError(`Container ${record.Id} is not running`);
    if (!Array.isArray(config.Cmd) || config.Cmd.length === 0 || !config.Cmd.every((c) => typeof c === 'string')) {
      throw new InvalidParameterError('No exec command specified');
    }
    const id = randomBytes(32).toString('hex');
    this.sessions.set(id, { id, containerId: record.Id, config, running: false, exitCode: null, pid: 0 });
    this.events.publish('container', `exec_create: ${config.Cmd.join(' ')}`, record.Id, { execID: id, name: record.Name.slice(1) });
    return id;
  }

  get(id: string): ExecSession {
    const session = this.sessions.get(id);
    if (!session) throw new NotFoundError(`No such exec instance: ${id}`);
    return session;
  }

  /**
   * Starts the session. `attach` (absent for detached execs) is called once the attach socket is
   * ready and before the process runs. Resolves once the process runs; `exited` follows.
   */
  async start(id: string, attach: (() => Promise<void>) | undefined): Promise<{ exited: Promise<number> }> {
    const session = this.get(id);
    if (session.running || session.exitCode !== null) throw new ConflictError(`Error: Exec command ${id} has already run`);
    const record = this.containers.store.get(session.containerId);
    if (record.State.Status !== 'running') throw new ConflictError(`Container ${record.Id} is not running`);
    const bundle = this.containers.store.dir(record.Id);
    const spec = JSON.parse(await fs.readFile(path.join(bundle, 'config.json'), 'utf8')) as OciSpec;
    const rootfs = new ContainerRootfs(bundle).mountpoint;
    const { config } = session;
    const caps = config.Privileged ? ALL_CAPABILITIES : spec.process.capabilities.bounding;
    const processSpec = {
      ...spec.process,
      terminal: Boolean(config.Tty),
      args: config.Cmd,
      env: mergeEnv(spec.process.env, config.Env ?? []),
      cwd: config.WorkingDir || spec.process.cwd || '/',
      user: config.User ? await resolveUser(rootfs, config.User) : spec.process.user,
      capabilities: capabilitySets(caps),
    };
    const specPath = path.join(this.monitor.socketDir, `${id}.process.json`);
    await writeJsonAtomic(specPath, processSpec);
    session.running = true;
    try {
      const running = await this.monitor.exec({
        containerId: record.Id,
        execId: id,
        bundle,
        processSpecPath: specPath,
        terminal: Boolean(config.Tty),
        stdin: Boolean(config.AttachStdin),
        ...(attach ? { attach } : {}),
      });
      session.pid = running.pid;
      this.events.publish('container', `exec_start: ${(config.Cmd ?? []).join(' ')}`, record.Id, { execID: id, name: record.Name.slice(1) });
      const exited = running.exited.then(async (code) => {
        session.running = false;
        session.exitCode = code;
        this.events.publish('container', 'exec_die', record.Id, { execID: id, exitCode: String(code), name: record.Name.slice(1) });
        await fs.rm(specPath, { force: true });
        return code;
      });
      return { exited };
    } catch (err) {
      session.running = false;
      session.exitCode = 126;
      await fs.rm(specPath, { force: true });
      throw err;
    }
  }

  async resize(id: string, height: number, width: number): Promise<void> {
    const session = this.get(id);
    if (!session.running) throw new ConflictError(`Exec ${id} is not running`);
    await fs.writeFile(path.join(this.monitor.socketDir, id, 'ctl'), `1 ${height} ${width}\n`);
  }

  inspect(id: string): Record<string, unknown> {
    const s = this.get(id);
    const [entrypoint = '', ...args] = s.config.Cmd ?? [];
    return {
      ID: s.id,
      Running: s.running,
      ExitCode: s.exitCode,
      ProcessConfig: { tty: Boolean(s.config.Tty), entrypoint, arguments: args, privileged: Boolean(s.config.Privileged), user: s.config.User ?? '' },
      OpenStdin: Boolean(s.config.AttachStdin),
      OpenStderr: Boolean(s.config.AttachStderr),
      OpenStdout: Boolean(s.config.AttachStdout),
      CanRemove: false,
      ContainerID: s.containerId,
      DetachKeys: s.config.DetachKeys ?? '',
      Pid: s.pid,
    };
  }
}
