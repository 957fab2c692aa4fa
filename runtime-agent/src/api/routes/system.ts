// /_ping, /version, /info, /system/df and /auth.
import { cpus, hostname, release, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';

import { listBuildCache } from '../../builder/build-cache.js';
import type { Engine } from '../../engine.js';
import { imageSummary, withoutPlaceholders } from '../../images/image-views.js';
import { hostPlatform } from '../../images/platform.js';
import { normalizeAuthConfig, type AuthConfig } from '../../registry/auth-config.js';
import { InvalidParameterError } from '../../util/errors.js';
import type { RequestContext } from '../context.js';
import type { Router } from '../router.js';
import { listContainers } from '../../containers/container-queries.js';
import { machineUsage } from '../../system/machine-usage.js';
import { Shapes } from '../../util/json-shapes.js';
import { API_VERSION, MIN_API_VERSION, compareVersions } from '../version.js';

export const ENGINE_VERSION = '0.1.0';
const DF_TYPES = ['container', 'image', 'volume', 'build-cache'];

function pingHeaders(ctx: RequestContext): void {
  ctx.res.setHeader('Api-Version', API_VERSION);
  // "2" = BuildKit (served on /grpc and /session); the classic POST /build stays for
  // DOCKER_BUILDKIT=0 and the SDKs.
  ctx.res.setHeader('Builder-Version', '2');
  ctx.res.setHeader('Docker-Experimental', 'false');
  ctx.res.setHeader('Ostype', 'linux');
  ctx.res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
  ctx.res.setHeader('Pragma', 'no-cache');
  ctx.res.setHeader('Content-Type', 'text/plain; charset=utf-8');
}

function operatingSystem(): { name: string; version: string } {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    const get = (key: string) => new RegExp(`^${key}="?([^"\\n]*)"?`, 'm').exec(text)?.[1] ?? '';
    return { name: get('PRETTY_NAME') || 'Linux', version: get('VERSION_ID') };
  } catch {
    return { name: 'Linux', version: '' };
  }
}

function cgroupVersion(): string {
  try {
    readFileSync('/sys/fs/cgroup/cgroup.controllers');
    return '2';
  } catch {
    return '1';
  }
}

export function registerSystemRoutes(router: Router, engine: Engine): void {
  const ping = (ctx: RequestContext) => {
    pingHeaders(ctx);
    ctx.res.writeHead(200);
    ctx.res.end(ctx.req.method === 'HEAD' ? undefined : 'OK');
  };
  router.get('/_ping', ping);
  router.head('/_ping', ping);

  router.get('/version', (ctx) => {
    const platform = hostPlatform();
    const details = {
      ApiVersion: API_VERSION,
      Arch: platform.architecture,
      BuildTime: '',
      Experimental: 'false',
      GitCommit: '',
      GoVersion: `node ${process.version}`,
      KernelVersion: release(),
      MinAPIVersion: MIN_API_VERSION,
      Os: 'linux',
    };
    ctx.send(200, {
      Platform: { Name: 'Berth' },
      Components: [{ Name: 'Engine', Version: ENGINE_VERSION, Details: details }],
      Version: ENGINE_VERSION,
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: '',
      GoVersion: `node ${process.version}`,
      Os: 'linux',
      Arch: platform.architecture,
      KernelVersion: release(),
      BuildTime: '',
    });
  });

  router.get('/info', (ctx) => {
    const os = operatingSystem();
    const hosts = engine.registryHosts;
    const containers = engine.containers.store.all();
    const running = containers.filter((c) => c.State.Status === 'running').length;
    const paused = containers.filter((c) => c.State.Status === 'paused').length;
    ctx.send(200, {
      ID: engine.id,
      Containers: containers.length,
      ContainersRunning: running,
      ContainersPaused: paused,
      ContainersStopped: containers.length - running - paused,
      Images: engine.images.images.all().length,
      Driver: 'overlay2',
      DriverStatus: [['Backing Filesystem', 'extfs'], ['Supports d_type', 'true']],
      Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'null'], Authorization: null, Log: ['json-file'] },
      MemoryLimit: true,
      SwapLimit: true,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: true,
      IPv4Forwarding: true,
      BridgeNfIptables: true,
      BridgeNfIp6tables: true,
      Debug: false,
      NFd: 0,
      OomKillDisable: false,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: 'json-file',
      CgroupDriver: 'cgroupfs',
      CgroupVersion: cgroupVersion(),
      NEventsListener: 0,
      KernelVersion: release(),
      OperatingSystem: os.name,
      OSVersion: os.version,
      OSType: 'linux',
      Architecture: process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : process.arch,
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: {
        AllowNondistributableArtifactsCIDRs: [],
        AllowNondistributableArtifactsHostnames: [],
        InsecureRegistryCIDRs: hosts.insecureCidrs,
        IndexConfigs: {
          'docker.io': { Name: 'docker.io', Mirrors: [], Secure: true, Official: true },
          ...Object.fromEntries(hosts.insecureHostnames.map((h) => [h, { Name: h, Mirrors: [], Secure: false, Official: false }])),
        },
        Mirrors: [],
      },
      NCPU: cpus().length,
      MemTotal: totalmem(),
      GenericResources: null,
      DockerRootDir: engine.config.dataRoot,
      HttpProxy: process.env.HTTP_PROXY ?? '',
      HttpsProxy: process.env.HTTPS_PROXY ?? '',
      NoProxy: process.env.NO_PROXY ?? '',
      Name: hostname(),
      Labels: engine.config.labels,
      ExperimentalBuild: false,
      ServerVersion: ENGINE_VERSION,
      Runtimes: { runc: { path: 'runc' }, crun: { path: 'crun' } },
      DefaultRuntime: engine.config.defaultRuntime,
      Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
      LiveRestoreEnabled: true,
      Isolation: '',
      InitBinary: 'tini',
      ContainerdCommit: { ID: '', Expected: '' },
      RuncCommit: { ID: '', Expected: '' },
      InitCommit: { ID: '', Expected: '' },
      SecurityOptions: ['name=seccomp,profile=builtin'],
      Warnings: null,
    });
  });

  router.get('/system/df', async (ctx) => {
    // API 1.42 added `type` (repeatable); objects not asked for come back as null, as in dockerd.
    const types = compareVersions(ctx.apiVersion, '1.42') >= 0 ? ctx.query.getAll('type') : [];
    for (const type of types) if (!DF_TYPES.includes(type)) throw new InvalidParameterError(`unknown object type: ${type}`);
    const wants = (type: string) => types.length === 0 || types.includes(type);
    const images = engine.images;
    const containers = engine.containers.store.all();
    const imageRows = async () => {
      const shared = await images.sharedSizes();
      return Promise.all(
        images.images.all().map(async (record) => ({
          ...(await imageSummary(images, record, containers.filter((c) => c.Image === record.id).length)),
          SharedSize: shared.get(record.id) ?? 0,
        })),
      );
    };
    ctx.send(200, {
      LayersSize: wants('image') ? await images.diskUsage() : 0,
      Images: wants('image') ? (compareVersions(ctx.apiVersion, '1.43') >= 0 ? (await imageRows()).map(withoutPlaceholders) : await imageRows()) : null,
      Containers: wants('container') ? await listContainers(engine.containers, engine.images, { filters: null, all: true, limit: -1, withSize: true }) : null,
      Volumes: wants('volume') ? await engine.volumes.usage() : null,
      BuildCache: wants('build-cache') ? await listBuildCache(engine.images) : null,
      ...(compareVersions(ctx.apiVersion, '1.42') < 0 ? { BuilderSize: 0 } : {}),
    });
  });

  // Not part of Docker's API: the desktop app's dashboard shows it, and shows nothing when an
  // engine (dockerd) answers 404.
  router.get('/_berth/usage', async (ctx) => ctx.send(200, await machineUsage(engine.config.dataRoot)));

  router.post('/auth', async (ctx) => {
    const body = normalizeAuthConfig(await ctx.jsonObject<AuthConfig>(Shapes.auth));
    if (!body.serveraddress) throw new InvalidParameterError('serveraddress is required');
    const domain = body.serveraddress.replace(/^https?:\/\//, '').replace(/\/v[12]\/?$/, '').replace(/\/$/, '');
    const registryDomain = domain === 'index.docker.io' ? 'docker.io' : domain;
    await engine.registry.login(registryDomain, body);
    ctx.send(200, { IdentityToken: '', Status: 'Login Succeeded' });
  });
}
