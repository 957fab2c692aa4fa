// The engine as one object: configuration plus the services the API routes call. Routes stay thin;
// everything they do goes through here.
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

import { Builder } from './builder/builder.js';
import { BuildKitService } from './buildkit/buildkit-service.js';
import { ContainerService } from './containers/container-service.js';
import { ContainerStore } from './state/container-store.js';
import { ContainerUsage } from './containers/container-usage.js';
import { ExecService } from './containers/exec-service.js';
import { EventBus } from './events/event-bus.js';
import { ArchiveService } from './images/archives.js';
import { ImageService } from './images/image-service.js';
import { Puller } from './images/pull.js';
import { Pusher } from './images/push.js';
import { NetworkService } from './networks/network-service.js';
import { VolumeService } from './volumes/volume-service.js';
import { RegistryClient } from './registry/client.js';
import { RegistryHosts } from './registry/endpoints.js';
import { resolveRuntime } from './system/dependencies.js';
import { readJsonIfExists, writeJsonAtomic } from './util/atomic-file.js';

export interface EngineConfig {
  dataRoot: string;
  insecureRegistries: string[];
  defaultRuntime: string;
  /** Engine labels shown by `docker info`. */
  labels: string[];
  /** Device name of the default bridge network. */
  bridge: string;
  /** --bip: the default bridge's address, e.g. 172.17.0.1/16 (else the first free default pool). */
  bridgeIp?: string;
  /** --ip-forward (default true) and --ip-forward-no-drop, as dockerd's. */
  ipForward?: boolean;
  ipForwardNoDrop?: boolean;
}

export class Engine {
  readonly images: ImageService;
  readonly registryHosts: RegistryHosts;
  readonly registry: RegistryClient;
  readonly puller: Puller;
  readonly pusher: Pusher;
  readonly archives: ArchiveService;
  readonly containers: ContainerService;
  readonly networks: NetworkService;
  readonly volumes: VolumeService;
  readonly events = new EventBus();
  readonly execs: ExecService;
  readonly builder: Builder;
  readonly buildkit: BuildKitService;
  readonly startedAt = new Date();
  id = '';

  constructor(readonly config: EngineConfig) {
    // Built bottom-up, each service handed what it needs: the container store and what it answers
    // about usage come first, because images, volumes and networks ask about containers.
    const store = new ContainerStore(path.join(config.dataRoot, 'containers'));
    const usage = new ContainerUsage(store);
    this.images = new ImageService(config.dataRoot, this.events, usage);
    this.registryHosts = new RegistryHosts(config.insecureRegistries);
    this.registry = new RegistryClient(this.registryHosts);
    this.puller = new Puller(this.images, this.registry);
    this.pusher = new Pusher(this.images, this.registry);
    this.archives = new ArchiveService(this.images);
    this.networks = new NetworkService(
      config.dataRoot,
      this.events,
      {
        bridge: config.bridge,
        ...(config.bridgeIp ? { bridgeIp: config.bridgeIp } : {}),
        ipForwarding: { enable: config.ipForward ?? true, keepForwardPolicy: config.ipForwardNoDrop ?? false },
      },
      store,
    );
    this.volumes = new VolumeService(path.join(config.dataRoot, 'volumes'), this.events, usage.volumeUsers);
    this.containers = new ContainerService(config.dataRoot, resolveRuntime(config.defaultRuntime), { store, usage, images: this.images, networks: this.networks, volumes: this.volumes, events: this.events });
    this.execs = new ExecService(this.containers, this.containers.monitor, this.events);
    this.builder = new Builder(this.images, this.containers, this.puller);
    this.buildkit = new BuildKitService({ hostGatewayIp: () => this.networks.hostGatewayIp(), builder: this.builder, images: this.images, pusher: this.pusher, archives: this.archives, workRoot: path.join(config.dataRoot, 'build'), registry: this.registry });
  }

  async init(): Promise<void> {
    // 0710 as dockerd's (CVE-2021-41091): image layers, container layers and volumes hold setuid
    // binaries an image or a container put there; with the root traversable (0711, as before),
    // any local user could run them from their path on the host and become root. chmod as well,
    // for a data root made by an earlier version.
    await fs.mkdir(this.config.dataRoot, { recursive: true, mode: 0o710 });
    await fs.chmod(this.config.dataRoot, 0o710);
    this.id = await this.loadEngineId();
    await this.images.init();
    await this.volumes.init();
    await this.containers.init();
    await this.containers.applyRestartPoliciesAtStartup();
  }

  /** Clean shutdown: listeners closed; network plumbing removed if no container needs it. */
  async close(): Promise<void> {
    this.buildkit.close();
    await this.containers.close();
  }

  /** A stable identity for `docker info`'s ID, made on first start. */
  private async loadEngineId(): Promise<string> {
    const file = path.join(this.config.dataRoot, 'engine-id.json');
    const existing = await readJsonIfExists<{ id: string }>(file);
    if (existing?.id) return existing.id;
    const id = randomUUID();
    await writeJsonAtomic(file, { id });
    return id;
  }
}
