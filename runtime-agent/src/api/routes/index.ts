import type { Engine } from '../../engine.js';
import { Router } from '../router.js';
import { registerBuildRoutes } from './build.js';
import { registerBuildKitRoutes } from './buildkit.js';
import { registerContainerRoutes } from './containers.js';
import { registerEventRoutes } from './events.js';
import { registerExecRoutes } from './exec.js';
import { registerImageRoutes } from './images.js';
import { registerNetworkRoutes } from './networks.js';
import { registerSwarmRoutes } from './swarm.js';
import { registerSystemRoutes } from './system.js';
import { registerVolumeRoutes } from './volumes.js';

export function buildRouter(engine: Engine): Router {
  const router = new Router();
  registerSystemRoutes(router, engine);
  registerImageRoutes(router, engine);
  registerContainerRoutes(router, engine);
  registerEventRoutes(router, engine);
  registerExecRoutes(router, engine);
  registerNetworkRoutes(router, engine);
  registerVolumeRoutes(router, engine);
  registerBuildRoutes(router, engine);
  registerBuildKitRoutes(router, engine);
  registerSwarmRoutes(router);
  return router;
}
