// `berthd --host unix:///PATH.sock --data-root DIR`: the engine in the foreground, as dockerd runs.
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { parseArgs } from 'node:util';

import { listenUnix } from '../api/server.js';
import { buildRouter } from '../api/routes/index.js';
import { Engine } from '../engine.js';
import { checkReport, inspectRequirements, requirements, unmet, unmetMessage } from '../system/dependencies.js';
import { isLogLevel, log, setLogLevel } from '../util/log.js';
import { AUTHORIZED_KEYS_FILE } from '../vm/guest-boot.js';
import { GUEST_EXIT_CODES } from '../vm/guest-contract.js';

const USAGE = `Usage: berthd [OPTIONS]

Berth's container engine: the Docker Engine API on a unix socket.

Options:
  -H, --host string               Socket to listen on (default unix:///var/run/berth/docker.sock)
  -G, --group string              Group that may use the socket, besides root (name or GID)
      --data-root string          Root directory of persistent state (default /var/lib/berth)
      --insecure-registry list    Registry to reach over plain HTTP (host:port or CIDR); repeatable
      --log-level string          debug, info, warn, error, fatal (default info)
      --default-runtime string    OCI runtime for containers (default runc)
      --label list                Engine label shown by docker info; repeatable
      --bridge string             Device name of the default bridge network (default berth0)
      --bip string                Address and subnet of the default bridge, e.g. 172.17.0.1/16
      --ip-forward[=true|false]   Enable net.ipv4.ip_forward for bridge networking (default true)
      --ip-forward-no-drop        When enabling forwarding, keep the FORWARD policy (else DROP)
      --check                     Show the programs berthd needs, with versions; exit 0 or 1

VM mode (inside the Berth guest):
      --ssh-listen host:port      Serve SSH for the host: engine socket and port forwarding, control
      --ssh-host-key path         Host key (ed25519), made on first start
      --ssh-authorized-keys path  The host's public key(s); public-key logins only
      --ssh-debug-shell           Also allow commands and a shell over SSH (debugging)
  -h, --help                      Show this help
`;

export async function main(argv: string[]): Promise<void> {
  let values;
  let ipForward: boolean | undefined;
  let ipForwardNoDrop: boolean | undefined;
  try {
    let args: string[];
    ({ value: ipForward, rest: args } = takeBooleanFlag(argv, 'ip-forward'));
    ({ value: ipForwardNoDrop, rest: args } = takeBooleanFlag(args, 'ip-forward-no-drop'));
    ({ values } = parseArgs({
      args,
      options: {
        host: { type: 'string', short: 'H', multiple: true },
        group: { type: 'string', short: 'G' },
        'data-root': { type: 'string' },
        'insecure-registry': { type: 'string', multiple: true },
        'log-level': { type: 'string', short: 'l' },
        'default-runtime': { type: 'string' },
        label: { type: 'string', multiple: true },
        bridge: { type: 'string' },
        bip: { type: 'string' },
        'ssh-listen': { type: 'string' },
        'ssh-host-key': { type: 'string' },
        'ssh-authorized-keys': { type: 'string' },
        'ssh-debug-shell': { type: 'boolean' },
        check: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`berthd: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const level = values['log-level'] ?? 'info';
  if (!isLogLevel(level)) {
    process.stderr.write(`berthd: unknown log level ${JSON.stringify(level)}\n`);
    process.exit(2);
  }
  setLogLevel(level);

  // Before anything else: refuse to serve an API whose first `docker run` would fail.
  const runtime = values['default-runtime'] ?? 'runc';
  const findings = await inspectRequirements(requirements(runtime), { withVersions: Boolean(values.check) });
  if (values.check) {
    process.stdout.write(checkReport(findings));
    process.exit(unmet(findings).length ? 1 : 0);
  }
  const failures = unmet(findings);
  if (failures.length) {
    process.stderr.write(`berthd: ${unmetMessage(failures)}\n`);
    process.exit(1);
  }

  const hosts = values.host ?? ['unix:///var/run/berth/docker.sock'];
  const socketPaths = hosts.map((h) => {
    if (!h.startsWith('unix://')) {
      process.stderr.write(`berthd: only unix:// hosts are supported, got ${h}\n`);
      process.exit(2);
    }
    return h.slice('unix://'.length);
  });

  let socketGroup: number | undefined;
  if (values.group !== undefined) {
    socketGroup = await groupId(values.group);
    if (socketGroup === undefined) {
      process.stderr.write(`berthd: group ${JSON.stringify(values.group)} not found (make it with: groupadd --system ${values.group})\n`);
      process.exit(2);
    }
  }

  const engine = new Engine({
    dataRoot: values['data-root'] ?? '/var/lib/berth',
    insecureRegistries: values['insecure-registry'] ?? [],
    defaultRuntime: runtime,
    labels: values.label ?? [],
    bridge: values.bridge ?? 'berth0',
    ...(values.bip ? { bridgeIp: values.bip } : {}),
    ...(ipForward !== undefined ? { ipForward } : {}),
    ...(ipForwardNoDrop !== undefined ? { ipForwardNoDrop } : {}),
  });
  let exitCode = 0;
  const servers: Server[] = [];
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    // Let requests in flight finish (a pull's records are written atomically either way), then go.
    for (const server of servers) {
      server.close();
      server.closeIdleConnections();
    }
    let finishing = false;
    const finish = () => {
      if (finishing) return;
      finishing = true;
      engine.close().catch((err: unknown) => log.warn('engine shutdown incomplete', { error: String(err) })).finally(() => process.exit(exitCode));
    };
    setTimeout(finish, 10_000).unref();
    Promise.all(servers.map((s) => new Promise((r) => s.on('close', r)))).then(finish);
  };
  // In the guest the SSH server starts alongside the engine's init: the host's link is up by the
  // time the engine listens (a forward to the socket before then is refused, and the host retries).
  const guestSide = values['ssh-listen'] ? startGuestSide(values['ssh-listen'], values, engine, socketPaths, async () => {
    // A power-off: stop the containers (their processes would not survive it anyway), then exit
    // with the code the guest's init takes as "power off now" (not "restart berthd").
    await engine.containers.stopAll(10).catch((err: unknown) => log.warn('stopping containers for shutdown failed', { error: String(err) }));
    exitCode = GUEST_EXIT_CODES.powerOff;
    stop('shutdown');
  }) : undefined;
  try {
    await engine.init();
  } catch (err) {
    log.error('failed to start the engine', { error: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  }
  const router = buildRouter(engine);
  for (const socketPath of socketPaths) {
    try {
      servers.push(await listenUnix(router, socketPath, socketGroup));
    } catch (err) {
      log.error('failed to listen', { socket: socketPath, error: err instanceof Error ? err.message : String(err) });
      // Leave no bridge or firewall chain behind from an engine that never served.
      await engine.close().catch(() => undefined);
      process.exit(1);
    }
    log.info('API listen on ' + socketPath);
  }
  // In the guest, berthd-vm.ts prints the boot milestone with the uptime once SSH listens too.
  log.info('berthd is ready', { dataRoot: engine.config.dataRoot, pid: process.pid });
  await guestSide;

  process.on('SIGTERM', () => stop('SIGTERM'));
  // One request's stream going wrong must not take every container's engine down with it; the
  // stores are written atomically, so carrying on is safe. Log loudly so the bug gets fixed.
  process.on('uncaughtException', (err) => log.error('uncaught exception', { error: err.stack ?? err.message }));
  process.on('unhandledRejection', (err) => log.error('unhandled rejection', { error: err instanceof Error ? (err.stack ?? err.message) : String(err) }));
  process.on('SIGINT', () => stop('SIGINT'));
}

type Options = { 'ssh-host-key'?: string; 'ssh-authorized-keys'?: string; 'ssh-debug-shell'?: boolean };

/** VM mode: the SSH server the host's link uses, and the guest's memory and clock keepers. */
async function startGuestSide(listen: string, values: Options, engine: Engine, engineSockets: string[], shutdown: () => Promise<void>): Promise<void> {
  const [sshHost = '0.0.0.0', sshPort = '22'] = listen.split(/:(?=\d+$)/);
  const { startSshServer } = await import('../vm/ssh-server.js');
  const { readGuestMemory, startIdleCacheTrim } = await import('../vm/guest-memory.js');
  const { startClockFollower } = await import('../vm/guest-clock.js');
  startIdleCacheTrim();
  startClockFollower();
  await startSshServer({
    host: sshHost,
    port: Number(sshPort),
    hostKeyPath: values['ssh-host-key'] ?? `${engine.config.dataRoot}/ssh_host_ed25519_key`,
    authorizedKeysPath: values['ssh-authorized-keys'] ?? AUTHORIZED_KEYS_FILE,
    engineSockets,
    debugShell: Boolean(values['ssh-debug-shell']),
    status: async () => ({
      status: 'running',
      pid: process.pid,
      containers: engine.containers.store.all().filter((c) => c.State.Status === 'running').length,
      memory: await readGuestMemory().catch(() => undefined),
      time: Date.now(),
    }),
    resize: () => growDataFilesystem(engine.config.dataRoot),
    shutdown,
  }).catch((err: unknown) => {
    log.error('failed to start the SSH server', { error: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  });
}

/** A group's ID from its name (through NSS, as getent looks it up) or a number. */
async function groupId(group: string): Promise<number | undefined> {
  if (/^\d+$/.test(group)) return Number(group);
  const { runCommand } = await import('../util/command.js');
  const entry = await runCommand('getent', ['group', group]).catch(() => '');
  const gid = entry.split(':')[2];
  return gid && /^\d+$/.test(gid) ? Number(gid) : undefined;
}

/**
 * A boolean flag as Go's flag package reads it, which dockerd users know: `--name`,
 * `--name=true` or `--name=false` (node's parseArgs takes no value for a boolean).
 */
function takeBooleanFlag(argv: string[], name: string): { value: boolean | undefined; rest: string[] } {
  let value: boolean | undefined;
  const rest: string[] = [];
  for (const arg of argv) {
    const match = new RegExp(`^--${name}(?:=(.*))?$`).exec(arg);
    if (!match) {
      rest.push(arg);
      continue;
    }
    const text = match[1] ?? 'true';
    if (!['true', 'false', '1', '0'].includes(text)) throw new Error(`invalid boolean value ${JSON.stringify(text)} for --${name}`);
    value = text === 'true' || text === '1';
  }
  return { value, rest };
}

/** `berth-control resize`: resize2fs on the device that holds the data root (ext4 grows online). */
async function growDataFilesystem(dataRoot: string): Promise<Record<string, unknown>> {
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' '));
  const entry = mounts.filter((m) => m[1] && (dataRoot === m[1] || dataRoot.startsWith(`${m[1]}/`))).sort((a, b) => (b[1]?.length ?? 0) - (a[1]?.length ?? 0))[0];
  if (!entry?.[0]?.startsWith('/dev/')) throw new Error(`the data root ${dataRoot} is not on a disk of its own`);
  const { runCommand } = await import('../util/command.js');
  await runCommand('resize2fs', [entry[0]]);
  const { statfsSync } = await import('node:fs');
  const stats = statfsSync(dataRoot);
  return { device: entry[0], sizeBytes: stats.blocks * stats.bsize };
}
