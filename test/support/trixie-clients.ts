// Debian trixie's docker CLI 26.1 with buildx 0.13.1 and compose v2 2.26.1, the clients most people
// run today (DESIGN.md, "The real clients are the spec"). They behave unlike CLI 28 alone and
// compose 1.29: with buildx present `docker build` goes to BuildKit (/grpc, /session) whatever
// /_ping says, and `docker compose` is compose v2. scripts/install-deps.sh unpacks them into
// tools/trixie/root without installing them; the CLI looks for plugins in $DOCKER_CONFIG/cli-plugins
// before the system's folders, so each config folder a test uses gets links to these two.
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TRIXIE_ROOT = path.join(ROOT, 'tools/trixie/root');
const PLUGINS = path.join(TRIXIE_ROOT, 'usr/libexec/docker/cli-plugins');

export interface TrixieClients {
  /** trixie's `docker` binary. */
  docker: string;
  /**
   * The environment to run `docker` with against `dockerHost` (e.g. `unix:///tmp/x/docker.sock`):
   * `dockerConfig` (made when missing) becomes DOCKER_CONFIG, its cli-plugins/ linking trixie's
   * docker-buildx and docker-compose; buildx keeps its builders there too, never in ~/.docker.
   */
  env(dockerHost: string, dockerConfig: string, extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
}

export function trixieClients(): TrixieClients {
  const docker = path.join(TRIXIE_ROOT, 'usr/bin/docker');
  for (const binary of [docker, path.join(PLUGINS, 'docker-buildx'), path.join(PLUGINS, 'docker-compose')]) {
    if (!existsSync(binary)) throw new Error(`${binary} is missing: run scripts/install-deps.sh (npm test does)`);
  }
  return {
    docker,
    env(dockerHost, dockerConfig, extra = {}) {
      const plugins = path.join(dockerConfig, 'cli-plugins');
      mkdirSync(plugins, { recursive: true });
      for (const plugin of ['docker-buildx', 'docker-compose']) {
        rmSync(path.join(plugins, plugin), { force: true });
        symlinkSync(path.join(PLUGINS, plugin), path.join(plugins, plugin));
      }
      return { ...process.env, DOCKER_HOST: dockerHost, DOCKER_CONFIG: dockerConfig, ...extra };
    },
  };
}
