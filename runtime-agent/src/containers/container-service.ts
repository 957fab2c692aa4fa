// Container lifecycle: create, start, stop, kill, wait, remove, and keeping state in step with the
// processes conmon supervises (including those that ran on while berthd was down).
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type { EventBus } from '../events/event-bus.js';
import type { ImageService } from '../images/image-service.js';
import { parseNormalizedNamed } from '../vocabulary/reference.js';
import { oomKills } from '../cgroups/stats.js';
import type { NetworkSetup } from '../networks/container-networking.js';
import type { NetworkService } from '../networks/network-service.js';
import type { VolumeService } from '../volumes/volume-service.js';
import { isAnonymous } from '../vocabulary/volume-record.js';
import { planMounts, prepareMounts } from './mounts.js';
import { OciRuntime } from '../oci/runtime.js';
import { writeJsonAtomic } from '../util/atomic-file.js';
import { ConflictError, EngineError, InvalidParameterError, NotFoundError } from '../util/errors.js';
import { dirSize } from '../util/dir-size.js';
import type { Filters } from '../util/filters.js';
import { log } from '../util/log.js';
import { cgroupPathOf, parseLink, ZERO_TIME, type ContainerRecord, type HostConfig } from '../vocabulary/container-record.js';
import { linkedContainers, linkEnv, linkHostNames, normalizeLinks } from './links.js';
import { namespaceChoices, validateNamespaceModes } from './namespace-modes.js';
import type { ContainerStore } from '../state/container-store.js';
import type { ContainerUsage } from './container-usage.js';
import { mergeEnv, resolveCommand, validateCreateRequest, type CreateRequest } from './create-request.js';
import { ConmonMonitor, CreateFailedError } from './monitor.js';
import { HealthMonitor } from './health.js';
import { restartDelay, shouldRestart } from './restart-policy.js';
import { LogCollector, type JsonLogOptions } from './json-log.js';
import { storageOptions, validateLogConfig } from './log-drivers.js';
import { generateName } from './names.js';
import { ContainerRootfs } from './rootfs.js';
import { buildSpec } from './spec-builder.js';
import { resolveUser } from './user.js';

const INIT_BINARIES = ['/usr/bin/tini-static', '/usr/bin/tini', '/sbin/tini'];

export class ContainerService {
  readonly runtime: OciRuntime;
  readonly monitor: ConmonMonitor;
  /** Callbacks waiting for a container's next exit. */
  private readonly exitWaiters = new Map<string, ((code: number) => void)[]>();
  private readonly removeWaiters = new Map<string, (() => void)[]>();
  private readonly health: HealthMonitor;
  /** Attach requests waiting for the container's process to exist (docker run attaches first). */
  private readonly pendingAttach = new Map<string, ((ok: boolean) => Promise<void>)[]>();

  readonly store: ContainerStore;
  private readonly usage: ContainerUsage;
  private readonly images: ImageService;
  readonly networks: NetworkService;
  private readonly volumes: VolumeService;
  private readonly events: EventBus;

  constructor(
    readonly dataRoot: string,
    runtimeBinary: string,
    services: { store: ContainerStore; usage: ContainerUsage; images: ImageService; networks: NetworkService; volumes: VolumeService; events: EventBus },
  ) {
    ({ store: this.store, usage: this.usage, images: this.images, networks: this.networks, volumes: this.volumes, events: this.events } = services);
    this.runtime = new OciRuntime(runtimeBinary, path.join(dataRoot, 'runtime', 'runc'));
    this.monitor = new ConmonMonitor(this.runtime, path.join(dataRoot, 'runtime', 'exits'), path.join(dataRoot, 'runtime', 'sock'));
    this.health = new HealthMonitor({
      find: (id) => this.store.find(id),
      save: (record) => this.store.save(record),
      publish: (record, action) => this.publish(record, action),
      runtimeBinary: this.runtime.binary,
      runtimeRoot: this.runtime.root,
      bundle: (id) => this.store.dir(id),
    });
  }

  async init(): Promise<void> {
    await this.store.init((dir) => new ContainerRootfs(dir).unmount());
    // Runtime state of containers that no longer exist (berthd stopped while clearing a removed one).
    for (const id of await fs.readdir(this.runtime.root).catch(() => [] as string[])) {
      if (!this.store.find(id)) await this.runtime.delete(id, true).catch(() => undefined);
    }
    await this.networks.init();
    await this.monitor.init((id, code) => void this.onExit(id, code));
    // Reconcile: containers that exited while berthd was down.
    for (const record of this.store.all()) {
      if (record.State.Status === 'restarting') {
        this.scheduleRestart(record);
        continue;
      }
      if (record.State.Status === 'created' && (await this.runtime.state(record.Id))) {
        // berthd died between runtime create and recording the start: clear the half-made task.
        await this.runtime.delete(record.Id, true).catch(() => undefined);
        await new ContainerRootfs(this.store.dir(record.Id)).unmount().catch(() => undefined);
        continue;
      }
      if (record.State.Status !== 'running' && record.State.Status !== 'paused') continue;
      const code = await this.monitor.readExit(record.Id);
      if (code !== undefined) {
        // Copy what it wrote while berthd was down before recording the exit.
        await this.startLogCollector(record);
        await this.onExit(record.Id, code);
      }
      else if (!(await this.runtime.state(record.Id))) await this.onExit(record.Id, 255);
      else {
        this.health.start(record);
        await this.startLogCollector(record);
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.usage.cleaning.values()].map((c) => c.done));
    this.monitor.close();
    await this.networks.close();
  }

  /** The json-file log (what `docker logs` reads and inspect shows as LogPath). */
  logPath(record: ContainerRecord): string {
    return path.join(this.store.dir(record.Id), `${record.Id}-json.log`);
  }

  /** What conmon writes (k8s-file); berthd copies it into the json-file. */
  private conmonLogPath(record: ContainerRecord): string {
    return path.join(this.store.dir(record.Id), 'conmon.log');
  }

  logOptions(record: ContainerRecord): JsonLogOptions & { enabled: boolean } {
    return storageOptions(record.HostConfig.LogConfig);
  }

  private readonly collectors = new Map<string, LogCollector>();

  private async startLogCollector(record: ContainerRecord): Promise<void> {
    const options = this.logOptions(record);
    if (!options.enabled || this.collectors.has(record.Id)) return;
    const collector = new LogCollector(this.conmonLogPath(record), this.logPath(record), path.join(this.store.dir(record.Id), 'log-position'), options);
    this.collectors.set(record.Id, collector);
    await collector.start();
  }

  private async finishLogCollector(id: string): Promise<void> {
    const collector = this.collectors.get(id);
    this.collectors.delete(id);
    await collector?.finish();
  }

  /** Publishes a container event with dockerd's attributes (image, name, labels). */
  private publish(record: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
    this.events.publish('container', action, record.Id, { ...(record.Config.Labels ?? {}), image: record.ImageName, name: record.Name.slice(1), ...extra });
  }

  async create(body: CreateRequest, name: string | undefined): Promise<{ Id: string; Warnings: string[] }> {
    validateCreateRequest(body);
    validateLogConfig(body.HostConfig?.LogConfig);
    const runtimeName = path.basename(this.runtime.binary);
    validateNamespaceModes(body.HostConfig ?? {}, body.Hostname, runtimeName);
    // A namespace to join must belong to a container that exists (it must run only at start).
    for (const mode of [body.HostConfig?.PidMode, body.HostConfig?.IpcMode]) if (mode?.startsWith('container:')) this.store.get(mode.slice('container:'.length));
    const imageName = body.Image as string;
    const image = this.images.images.resolve(imageName);
    const imageConfig = await this.images.config(image.id);
    if (name) this.store.assertNameFree(name);
    const id = randomBytes(32).toString('hex');
    const command = resolveCommand(body, imageConfig);
    const ic = imageConfig.config ?? {};
    const hostConfig = { NetworkMode: 'default', RestartPolicy: { Name: 'no' as const, MaximumRetryCount: 0 }, LogConfig: { Type: 'json-file', Config: {} }, ...(body.HostConfig ?? {}), Runtime: runtimeName };
    const networkSettings = this.networks.endpointsForCreate(hostConfig, body.NetworkingConfig, body.MacAddress);
    const hostname = body.Hostname || (hostConfig.NetworkMode === 'host' || hostConfig.UTSMode === 'host' ? os.hostname() : id.slice(0, 12));
    const containerName = '/' + (name?.replace(/^\//, '') ?? this.uniqueName());
    if (hostConfig.Links?.length) hostConfig.Links = normalizeLinks(hostConfig.Links, containerName, hostConfig.NetworkMode, (n) => this.store.find(n));
    const record: ContainerRecord = {
      Id: id,
      Name: containerName,
      Created: new Date().toISOString(),
      Image: image.id,
      ImageName: imageName,
      Config: {
        ...body,
        Hostname: hostname,
        Domainname: body.Domainname ?? '',
        Image: imageName,
        Env: mergeEnv(ic.Env, body.Env),
        Cmd: body.Cmd && body.Cmd.length ? body.Cmd : body.Entrypoint ? null : (ic.Cmd ?? null),
        Entrypoint: body.Entrypoint ?? ic.Entrypoint ?? null,
        WorkingDir: body.WorkingDir || ic.WorkingDir || '',
        User: body.User || ic.User || '',
        Labels: { ...(ic.Labels ?? {}), ...(body.Labels ?? {}) },
        StopSignal: body.StopSignal || ic.StopSignal || 'SIGTERM',
        ExposedPorts: { ...(ic.ExposedPorts ?? {}), ...(body.ExposedPorts ?? {}) },
        Volumes: { ...(ic.Volumes ?? {}), ...(body.Volumes ?? {}) },
        ...(body.Healthcheck || ic.Healthcheck ? { Healthcheck: mergeHealthcheck(ic.Healthcheck, body.Healthcheck) } : {}),
      },
      HostConfig: hostConfig,
      Path: command[0] ?? '',
      Args: command.slice(1),
      State: { Status: 'created', Pid: 0, ExitCode: 0, Error: '', StartedAt: ZERO_TIME, FinishedAt: ZERO_TIME, OOMKilled: false },
      RestartCount: 0,
      NetworkSettings: networkSettings,
      ...(this.images.topChainId(image) ? { SnapshotChainId: this.images.topChainId(image) } : {}),
    };
    record.MountPoints = await planMounts({
      binds: hostConfig.Binds ?? [],
      mounts: (hostConfig.Mounts ?? []) as never[],
      volumesFrom: hostConfig.VolumesFrom ?? [],
      anonymous: Object.keys(record.Config.Volumes ?? {}),
      volumes: this.volumes,
      findContainer: (idOrName) => this.store.find(idOrName),
    });
    delete (record.Config as Record<string, unknown>).HostConfig;
    delete (record.Config as Record<string, unknown>).NetworkingConfig;
    await this.store.save(record);
    // The log exists from the start, so `logs -f` can follow it before the first line.
    await fs.writeFile(this.logPath(record), '', { flag: 'a' });
    this.publish(record, 'create');
    return { Id: id, Warnings: [] };
  }

  private uniqueName(): string {
    for (;;) {
      const name = generateName();
      if (!this.store.find(name)) return name;
    }
  }

  async start(idOrName: string, byPolicy = false): Promise<'started' | 'already-running'> {
    const record = this.store.get(idOrName);
    if (record.State.Status === 'running' || record.State.Status === 'paused') return 'already-running';
    if (!byPolicy) {
      this.cancelRestart(record.Id);
      record.ManuallyStopped = false;
      record.RestartCount = 0;
    }
    const dir = this.store.dir(record.Id);
    const rootfs = new ContainerRootfs(dir);
    await rootfs.prepare();
    const lower = record.SnapshotChainId ? await this.images.snapshots.lowerDirs(record.SnapshotChainId) : [];
    await rootfs.mount(lower);
    let network: NetworkSetup | undefined;
    try {
      const links = linkedContainers(record, (n) => this.store.find(n));
      // On the default bridge a link brings variables and /etc/hosts names (user networks: DNS).
      const bridged = links.flatMap(({ link, child }) => {
        const ip = child.NetworkSettings?.Networks?.bridge?.IPAddress;
        return ip && record.NetworkSettings?.Networks?.bridge ? [{ link, child, ip }] : [];
      });
      network = await this.networks.setup(record, bridged.flatMap(({ link, child, ip }) => linkHostNames(link, child).map((n) => `${n}:${ip}`)));
      const etcFiles = network.etcFiles;
      const user = await resolveUser(rootfs.mountpoint, record.Config.User, record.HostConfig.GroupAdd ?? []);
      const namespaces = namespaceChoices(record.HostConfig, (idOrName) => this.store.get(idOrName));
      const initPath = record.HostConfig.Init ? INIT_BINARIES.find((p) => existsSync(p)) : undefined;
      if (record.HostConfig.Init && !initPath) throw new InvalidParameterError('--init needs tini: install Debian\'s tini package');
      const mounts = await prepareMounts(record, rootfs.mountpoint, this.volumes);
      const env = bridged.length ? mergeEnv(bridged.flatMap(({ link, child, ip }) => linkEnv(`${record.Name}/${link.alias}`, ip, child)), record.Config.Env) : (record.Config.Env ?? []);
      const spec = buildSpec({ record, rootfs: rootfs.mountpoint, user, env, etcFiles, mounts, network: network.namespace, networkSysctls: network.sysctls, namespaces, ...(initPath ? { initPath } : {}) });
      await writeJsonAtomic(path.join(dir, 'config.json'), spec);
      // A container that ran before may have left runtime state (berthd killed mid-cleanup).
      if (this.runtime.hasState(record.Id)) await this.runtime.delete(record.Id, true).catch(() => undefined);
      const pid = await this.monitor.create({ id: record.Id, bundle: dir, logPath: this.conmonLogPath(record), terminal: Boolean(record.Config.Tty), stdin: Boolean(record.Config.OpenStdin), leaveStdinOpen: !record.Config.StdinOnce });
      await network.wire(pid);
      record.State = { ...record.State, Status: 'running', Pid: pid, ExitCode: 0, Error: '', StartedAt: new Date().toISOString(), FinishedAt: ZERO_TIME, OOMKilled: false };
      await this.store.save(record);
      await this.startLogCollector(record);
      // Attachers connect between create and start, so not a byte of output is missed.
      const attachers = this.pendingAttach.get(record.Id) ?? [];
      this.pendingAttach.delete(record.Id);
      await Promise.all(attachers.map((connect) => connect(true).catch((err: unknown) => log.warn('attach failed', { id: record.Id, error: String(err) }))));
      await this.runtime.start(record.Id);
      for (const m of record.MountPoints ?? []) {
        if (m.Name) this.events.publish('volume', 'mount', m.Name, { container: record.Id, destination: m.Destination, driver: 'local', propagation: m.Propagation, 'read/write': String(m.RW) });
      }
      this.publish(record, 'start');
      this.health.start(record);
      return 'started';
    } catch (err) {
      await this.runtime.delete(record.Id, true).catch(() => undefined);
      if (network) await this.networks.release(record).catch(() => undefined);
      await rootfs.unmount().catch(() => undefined);
      const message = err instanceof Error ? err.message : String(err);
      const exitCode = err instanceof CreateFailedError ? exitCodeFor(message) : 128;
      record.State = { ...record.State, Status: err instanceof CreateFailedError ? 'created' : record.State.Status === 'running' ? 'exited' : record.State.Status, Pid: 0, ExitCode: exitCode, Error: message };
      await this.store.save(record);
      // A --rm container that cannot start goes away, as in dockerd (the CLI waits for its removal).
      if (record.HostConfig.AutoRemove) await this.remove(record.Id, { force: true, volumes: true }).catch(() => undefined);
      if (err instanceof CreateFailedError) throw new EngineError(exitCode === 127 || exitCode === 126 ? 400 : 500, message);
      throw err;
    }
  }

  /** Called when conmon records an exit: runtime cleanup, state, waiters, auto-remove. */
  private async onExit(id: string, code: number): Promise<void> {
    const record = this.store.find(id);
    if (!record || (record.State.Status !== 'running' && record.State.Status !== 'paused')) return;
    this.health.stop(id);
    await this.finishLogCollector(id);
    // The cgroup is still there until `runc delete`: ask it whether the OOM killer struck.
    const oomKilled = code === 137 && (await oomKills(cgroupPathOf(record)).catch(() => 0)) > 0;
    // State and waiters first: `docker run` is waiting on them; the runtime cleanup can follow.
    const restart = shouldRestart(record, code);
    await this.networks.release(record).catch((err: unknown) => log.warn('network release failed', { id, error: String(err) }));
    record.State = { ...record.State, Status: restart ? 'restarting' : 'exited', Pid: 0, ExitCode: code, FinishedAt: new Date().toISOString(), OOMKilled: oomKilled };
    await this.store.save(record);
    await this.releaseVolumes(record);
    if (oomKilled) this.publish(record, 'oom');
    this.publish(record, 'die', { exitCode: String(code) });
    for (const waiter of this.exitWaiters.get(id) ?? []) waiter(code);
    this.exitWaiters.delete(id);
    const autoRemove = !restart && record.HostConfig.AutoRemove;
    // An auto-removed container's runtime state and mount are cleared by its removal, off this path.
    if (!autoRemove) {
      await Promise.all([
        this.runtime.delete(id, true).catch((err: unknown) => log.warn('runtime delete failed', { id, error: String(err) })),
        new ContainerRootfs(this.store.dir(id)).unmount().catch((err: unknown) => log.warn('unmount failed', { id, error: String(err) })),
      ]);
    }
    if (restart) this.scheduleRestart(record);
    else if (record.HostConfig.AutoRemove) await this.remove(id, { force: true, volumes: true }).catch((err: unknown) => log.warn('auto-remove failed', { id, error: String(err) }));
  }

  /** After an exit: volume unmount events, and volumes with driver options unmounted if unused. */
  private async releaseVolumes(record: ContainerRecord): Promise<void> {
    for (const m of record.MountPoints ?? []) {
      if (!m.Name) continue;
      this.events.publish('volume', 'unmount', m.Name, { container: record.Id, driver: 'local' });
      const volume = this.volumes.find(m.Name);
      if (volume) await this.volumes.release(volume).catch((err: unknown) => log.warn('volume unmount failed', { volume: m.Name, error: String(err) }));
    }
  }

  private readonly restartTimers = new Map<string, NodeJS.Timeout>();

  private scheduleRestart(record: ContainerRecord): void {
    const delay = restartDelay(record);
    const timer = setTimeout(() => {
      this.restartTimers.delete(record.Id);
      const current = this.store.find(record.Id);
      if (!current || current.State.Status !== 'restarting') return;
      current.RestartCount += 1;
      this.start(current.Id, true).catch((err: unknown) => log.warn('restart failed', { id: current.Id, error: String(err) }));
    }, delay);
    this.restartTimers.set(record.Id, timer);
  }

  private cancelRestart(id: string): void {
    const timer = this.restartTimers.get(id);
    if (timer) clearTimeout(timer);
    this.restartTimers.delete(id);
  }

  /** Containers whose policy says they run whenever the engine does (called once at start). */
  async applyRestartPoliciesAtStartup(): Promise<void> {
    for (const record of this.store.all()) {
      const policy = record.HostConfig.RestartPolicy?.Name;
      const wanted = policy === 'always' || (policy === 'unless-stopped' && !record.ManuallyStopped);
      if (wanted && record.State.Status === 'exited' && !record.ManuallyStopped) {
        await this.start(record.Id, true).catch((err: unknown) => log.warn('restart at startup failed', { id: record.Id, error: String(err) }));
      }
    }
  }

  /** Resolves with the exit code: at once if not running (condition not-running), else at the next exit. */
  wait(idOrName: string, condition: string): Promise<number> {
    const record = this.store.get(idOrName);
    if (condition === 'removed') {
      return new Promise((resolve) => {
        const list = this.removeWaiters.get(record.Id) ?? [];
        list.push(() => resolve(record.State.ExitCode));
        this.removeWaiters.set(record.Id, list);
      });
    }
    const running = record.State.Status === 'running' || record.State.Status === 'paused';
    if (condition !== 'next-exit' && !running) return Promise.resolve(record.State.ExitCode);
    return new Promise((resolve) => {
      const list = this.exitWaiters.get(record.Id) ?? [];
      list.push(resolve);
      this.exitWaiters.set(record.Id, list);
    });
  }

  /**
   * Runs `connect` once the container's process exists: now if it runs, else right before its
   * next start. Resolves false if the container is removed first.
   */
  whenCreated(record: ContainerRecord, connect: () => Promise<void>): Promise<boolean> {
    if (record.State.Status === 'running' || record.State.Status === 'paused') return connect().then(() => true);
    return new Promise((resolve, reject) => {
      const list = this.pendingAttach.get(record.Id) ?? [];
      list.push(async (ok) => {
        if (!ok) return resolve(false);
        try {
          await connect();
          resolve(true);
        } catch (err) {
          reject(err);
        }
      });
      this.pendingAttach.set(record.Id, list);
    });
  }

  attachSocketDir(): string {
    return this.monitor.socketDir;
  }

  /** Writes a terminal size to conmon's control FIFO (`docker run -it` resizing). */
  async resize(idOrName: string, height: number, width: number): Promise<void> {
    const record = this.store.get(idOrName);
    if (record.State.Status !== 'running') throw new ConflictError(`Container ${record.Id} is not running`);
    await fs.writeFile(path.join(this.monitor.socketDir, record.Id, 'ctl'), `1 ${height} ${width}\n`);
  }

  /** Runs `fn` with the container's merged rootfs mounted (mounting it for the call if stopped). */
  async withRootfs<T>(record: ContainerRecord, fn: (rootfs: string) => Promise<T>): Promise<T> {
    const rootfs = new ContainerRootfs(this.store.dir(record.Id));
    if (await rootfs.isMounted()) return fn(rootfs.mountpoint);
    await rootfs.prepare();
    await rootfs.mount(record.SnapshotChainId ? await this.images.snapshots.lowerDirs(record.SnapshotChainId) : []);
    try {
      return await fn(rootfs.mountpoint);
    } finally {
      if (record.State.Status !== 'running' && record.State.Status !== 'paused') await rootfs.unmount();
    }
  }

  /** A promise that resolves when the container is not running (for logs -f and attach). */
  stopped(record: ContainerRecord): Promise<unknown> {
    return this.wait(record.Id, 'not-running');
  }

  async kill(idOrName: string, signal = 'SIGKILL'): Promise<void> {
    const record = this.store.get(idOrName);
    if (record.State.Status !== 'running' && record.State.Status !== 'paused') {
      throw new ConflictError(`Cannot kill container: ${idOrName}: Container ${record.Id} is not running`);
    }
    const normalized = normalizeSignal(signal);
    const killing = normalized === 'KILL' || normalized === '9';
    if (killing) {
      record.ManuallyStopped = true;
      await this.store.save(record);
    }
    const exited = killing ? this.wait(record.Id, 'next-exit') : undefined;
    await this.runtime.kill(record.Id, normalized, normalized === 'KILL');
    this.publish(record, 'kill', { signal: normalized });
    // As dockerd: a SIGKILL returns once the container has exited, so an inspect right after it
    // sees exited and 137, not running. (Bounded: a process stuck in the kernel must not hang the call.)
    if (exited) await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
  }

  /** `signal`: `docker stop --signal` (API 1.42), instead of the container's stop signal. */
  async stop(idOrName: string, timeoutSeconds: number | undefined, signal?: string): Promise<'stopped' | 'not-running'> {
    const record = this.store.get(idOrName);
    if (record.State.Status === 'restarting') {
      this.cancelRestart(record.Id);
      record.State = { ...record.State, Status: 'exited' };
      record.ManuallyStopped = true;
      await this.store.save(record);
      return 'stopped';
    }
    if (record.State.Status !== 'running' && record.State.Status !== 'paused') return 'not-running';
    record.ManuallyStopped = true;
    await this.store.save(record);
    const exited = this.wait(record.Id, 'next-exit');
    const timeout = timeoutSeconds ?? (typeof record.Config.StopTimeout === 'number' ? record.Config.StopTimeout : 10);
    const stopSignal = normalizeSignal(signal || record.Config.StopSignal || 'SIGTERM');
    await this.runtime.kill(record.Id, stopSignal).catch(() => undefined);
    const inTime = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), Math.max(0, timeout) * 1000).unref())]);
    if (!inTime) {
      await this.runtime.kill(record.Id, 'KILL', true).catch(() => undefined);
      await exited;
    }
    this.publish(record, 'stop');
    return 'stopped';
  }

  async rename(idOrName: string, newName: string): Promise<void> {
    const record = this.store.get(idOrName);
    if (!newName) throw new InvalidParameterError('Neither old nor new names may be empty');
    this.store.assertNameFree(newName, record.Id);
    const oldName = record.Name;
    record.Name = '/' + newName.replace(/^\//, '');
    await this.store.save(record);
    this.publish(record, 'rename', { oldName });
  }

  /** `docker update`: new limits (applied live with `runc update`) and restart policy. */
  async update(idOrName: string, changes: Partial<HostConfig>): Promise<void> {
    const record = this.store.get(idOrName);
    const allowed = ['Memory', 'MemorySwap', 'NanoCpus', 'CpuShares', 'CpuQuota', 'CpuPeriod', 'CpusetCpus', 'PidsLimit', 'RestartPolicy'] as const;
    const next: HostConfig = { ...record.HostConfig };
    for (const key of allowed) if (changes[key] !== undefined && changes[key] !== null && !(typeof changes[key] === 'number' && changes[key] === 0 && key !== 'PidsLimit')) (next as Record<string, unknown>)[key] = changes[key];
    if (next.AutoRemove && next.RestartPolicy?.Name && next.RestartPolicy.Name !== 'no') throw new InvalidParameterError('Restart policy cannot be updated because AutoRemove is enabled for the container');
    validateCreateRequest({ Image: record.ImageName, HostConfig: next });
    if (record.State.Status === 'running' || record.State.Status === 'paused') {
      const resources = buildSpec({ record: { ...record, HostConfig: next }, rootfs: '', user: { uid: 0, gid: 0 }, env: [], etcFiles: { hostname: '', hosts: '', resolvConf: '' }, network: { kind: 'host' } }).linux.resources ?? {};
      const file = path.join(this.store.dir(record.Id), 'resources.json');
      await fs.writeFile(file, JSON.stringify({ ...resources, devices: undefined }));
      await this.runtime.update(record.Id, file);
    }
    record.HostConfig = next;
    await this.store.save(record);
    this.publish(record, 'update');
  }

  async pause(idOrName: string): Promise<void> {
    const record = this.store.get(idOrName);
    if (record.State.Status === 'paused') throw new ConflictError(`Container ${record.Id} is already paused`);
    if (record.State.Status !== 'running') throw new ConflictError(`Container ${record.Id} is not running`);
    await this.runtime.pause(record.Id);
    record.State = { ...record.State, Status: 'paused' };
    await this.store.save(record);
    this.publish(record, 'pause');
  }

  async unpause(idOrName: string): Promise<void> {
    const record = this.store.get(idOrName);
    if (record.State.Status !== 'paused') throw new ConflictError(`Container ${record.Id} is not paused`);
    await this.runtime.resume(record.Id);
    record.State = { ...record.State, Status: 'running' };
    await this.store.save(record);
    this.publish(record, 'unpause');
  }

  /** Host PIDs of the container's processes (for `docker top`). */
  async processes(idOrName: string): Promise<number[]> {
    const record = this.store.get(idOrName);
    if (record.State.Status !== 'running' && record.State.Status !== 'paused') throw new ConflictError(`Container ${record.Id} is not running`);
    return this.runtime.ps(record.Id);
  }

  /** DELETE /containers/{parent}/{alias}?link=true: the parent forgets the link. */
  async removeLink(parentName: string, alias: string): Promise<void> {
    const parent = this.store.get(parentName);
    const links = parent.HostConfig.Links ?? [];
    const kept = links.filter((entry) => parseLink(entry).alias !== alias);
    if (kept.length === links.length) throw new NotFoundError(`Cannot get parent ${parent.Name} for link name ${alias}`);
    parent.HostConfig.Links = kept.length ? kept : null;
    await this.store.save(parent);
  }

  async remove(idOrName: string, options: { force: boolean; volumes?: boolean }): Promise<void> {
    const record = this.store.get(idOrName);
    this.cancelRestart(record.Id);
    if (record.State.Status === 'running' || record.State.Status === 'paused') {
      record.ManuallyStopped = true;
      await this.store.save(record);
    }
    if (record.State.Status === 'running' || record.State.Status === 'paused') {
      if (!options.force) {
        throw new ConflictError(`You cannot remove a running container ${record.Id}. Stop the container before attempting removal or force remove`);
      }
      const exited = this.wait(record.Id, 'next-exit');
      await this.runtime.kill(record.Id, 'KILL', true).catch(() => undefined);
      await exited;
    }
    await this.store.forget(record.Id);
    this.publish(record, 'destroy');
    if (options.volumes) await this.removeAnonymousVolumes(record);
    for (const attach of this.pendingAttach.get(record.Id) ?? []) void attach(false);
    this.pendingAttach.delete(record.Id);
    for (const waiter of this.removeWaiters.get(record.Id) ?? []) waiter();
    this.removeWaiters.delete(record.Id);
    this.cleanUpRemoved(record);
  }

  /**
   * What a removed container leaves behind (runtime state, its overlay mount, its directory) is
   * cleared after the removal is visible: `docker rm` and `run --rm` do not wait for it. Its
   * layers count as in use until then; a crash in between is swept by init.
   */
  private cleanUpRemoved(record: ContainerRecord): void {
    const id = record.Id;
    const done = (async () => {
      if (this.runtime.hasState(id)) await this.runtime.delete(id, true).catch(() => undefined);
      await new ContainerRootfs(this.store.dir(id)).unmount();
      await this.monitor.clearExit(id);
      await this.finishLogCollector(id);
      await this.store.removeDir(id);
    })()
      .catch((err: unknown) => log.warn('cleanup of a removed container incomplete', { id, error: String(err) }))
      .finally(() => this.usage.cleaning.delete(id));
    this.usage.cleaning.set(id, { chainId: record.SnapshotChainId, done });
    // The snapshots stay with their image; only an image deleted under the container (rmi -f)
    // leaves layers that nothing uses any more.
    void done.then(() => (this.images.images.get(record.Image) ? undefined : this.images.collectGarbage())).catch((err: unknown) => log.warn('garbage collection failed', { error: String(err) }));
  }

  /** rm -v and --rm: the container's anonymous volumes go with it (unless another container uses them). */
  private async removeAnonymousVolumes(record: ContainerRecord): Promise<void> {
    for (const m of record.MountPoints ?? []) {
      const volume = m.Name ? this.volumes.find(m.Name) : undefined;
      if (!volume || !isAnonymous(volume)) continue;
      await this.volumes.remove(volume.Name).catch((err: unknown) => log.debug('anonymous volume kept', { volume: volume.Name, error: String(err) }));
    }
  }

  /** Stops every running container (a VM shutting down), in parallel. */
  async stopAll(timeoutSeconds: number): Promise<void> {
    const running = this.store.all().filter((c) => c.State.Status === 'running' || c.State.Status === 'paused');
    await Promise.all(running.map((c) => this.stop(c.Id, timeoutSeconds).catch((err: unknown) => log.warn('stop failed', { id: c.Id, error: String(err) }))));
  }

  /** `docker container prune`: removes every container that is not running; returns their IDs. */
  /** `container prune`: stopped containers that the filters (until, label, label!) select. */
  async prune(filters: Filters): Promise<{ deleted: string[]; reclaimed: number }> {
    const until = filters.until();
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const record of this.store.all()) {
      if (record.State.Status === 'running' || record.State.Status === 'paused' || record.State.Status === 'restarting') continue;
      if (until !== undefined && Date.parse(record.Created) > until) continue;
      if (!filters.matchPruneLabels(record.Config.Labels)) continue;
      const size = await dirSize(new ContainerRootfs(this.store.dir(record.Id)).upper);
      await this.remove(record.Id, { force: false });
      deleted.push(record.Id);
      reclaimed += size;
    }
    return { deleted, reclaimed };
  }

  /** The image as `ps` shows it: the name used at create while it still names the image, else the short ID. */
  imageLabel(record: ContainerRecord): string {
    try {
      if (this.images.images.lookupRef(parseNormalizedNamed(record.ImageName)) === record.Image) return record.ImageName;
    } catch {
      // created by ID: show the ID
    }
    return record.ImageName.startsWith('sha256:') || /^[a-f0-9]+$/.test(record.ImageName) ? record.ImageName : record.Image.slice(7, 19);
  }
}

/** --health-* flags override the image's HEALTHCHECK field by field; Test NONE disables it. */
function mergeHealthcheck(image: unknown, requested: unknown): unknown {
  const base = (image ?? {}) as Record<string, unknown>;
  const over = (requested ?? {}) as Record<string, unknown>;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) if (value !== undefined && value !== null && value !== 0 && !(Array.isArray(value) && value.length === 0)) merged[key] = value;
  return merged;
}

function normalizeSignal(signal: string): string {
  const upper = signal.toUpperCase();
  if (/^\d+$/.test(upper)) return upper;
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  if (!/^SIG[A-Z0-9+-]+$/.test(name)) throw new InvalidParameterError(`Invalid signal: ${signal}`);
  return name.slice(3);
}

/** What the CLI exits with when the runtime could not start the process (dockerd's mapping). */
function exitCodeFor(message: string): number {
  if (/executable file not found|no such file or directory/i.test(message)) return 127;
  if (/permission denied/i.test(message)) return 126;
  return 128;
}
