// Swarm and plugin endpoints, answered as a dockerd that is in no swarm and has no plugins
// answers them (SDK fixtures call `swarm/leave` in their set-up; clients list plugins). berthd
// runs neither: whatever would start one is refused with a message that says so.
import { InvalidParameterError, NotFoundError, UnavailableError } from '../../util/errors.js';
import { Filters } from '../../util/filters.js';
import type { Router } from '../router.js';

export const NOT_A_MANAGER = 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';
const METHODS = ['GET', 'POST', 'DELETE', 'PUT', 'HEAD'];

const notAManager = () => {
  throw new UnavailableError(NOT_A_MANAGER);
};

export function registerSwarmRoutes(router: Router): void {
  router.get('/swarm', notAManager);
  router.post('/swarm/(?:update|unlock)', notAManager);
  router.get('/swarm/unlockkey', notAManager);
  router.post('/swarm/leave', () => {
    throw new UnavailableError('This node is not part of a swarm');
  });
  router.post('/swarm/(?:init|join)', () => {
    throw new UnavailableError('berthd does not run swarm mode: use compose for multi-container applications');
  });
  // Nodes, services, tasks, secrets and configs live in the swarm's state: every call needs a manager.
  for (const method of METHODS) router.add(method, '/(?:nodes|services|tasks|secrets|configs)(?:/.*)?', notAManager);
  router.add('PUT', '/volumes/(.+)', () => {
    throw new UnavailableError('volume update only valid for cluster volumes, but swarm is unavailable');
  });

  router.get('/plugins', (ctx) => {
    const filters = Filters.parse(ctx.query.get('filters'), ['enabled', 'capability']);
    filters.bool('enabled');
    ctx.send(200, []);
  });
  router.get('/plugins/privileges', (ctx) => {
    if (!ctx.query.get('remote')) throw new InvalidParameterError('remote is required');
    ctx.send(200, []);
  });
  router.post('/plugins/(?:pull|create)', () => {
    throw new InvalidParameterError('berthd does not support plugins');
  });
  const pluginNotFound = (name: string) => {
    throw new NotFoundError(`plugin ${JSON.stringify(name)} not found`);
  };
  router.get('/plugins/(.+)/json', (ctx) => pluginNotFound(ctx.param()));
  router.post('/plugins/(.+)/(?:enable|disable|set|push|upgrade)', (ctx) => pluginNotFound(ctx.param()));
  router.delete('/plugins/(.+)', (ctx) => pluginNotFound(ctx.param()));
}
