// /volumes/* routes: parse, call the volume service, shape the answer.
import type { Engine } from '../../engine.js';
import type { VolumeCreateRequest } from '../../volumes/volume-service.js';
import { UnavailableError } from '../../util/errors.js';
import { Filters } from '../../util/filters.js';
import { Shapes } from '../../util/json-shapes.js';
import type { Router } from '../router.js';
import { NOT_A_MANAGER } from './swarm.js';
import { compareVersions } from '../version.js';

const LIST_FILTERS = ['dangling', 'driver', 'label', 'name'] as const;
const PRUNE_FILTERS = ['label', 'label!', 'all'] as const;

export function registerVolumeRoutes(router: Router, engine: Engine): void {
  const volumes = engine.volumes;

  router.get('/volumes/?', (ctx) => {
    ctx.send(200, { Volumes: volumes.list(Filters.parse(ctx.query.get('filters'), LIST_FILTERS)), Warnings: null });
  });

  router.post('/volumes/create', async (ctx) => {
    const body = await ctx.jsonObject<VolumeCreateRequest & { ClusterVolumeSpec?: unknown }>(Shapes.volumeCreate);
    // Cluster volumes live in a swarm's state (API 1.42), as a dockerd in no swarm answers.
    if (body.ClusterVolumeSpec) throw new UnavailableError(NOT_A_MANAGER);
    ctx.send(201, await volumes.create(body));
  });

  router.post('/volumes/prune', async (ctx) => {
    const { deleted, reclaimed } = await volumes.prune(Filters.parse(ctx.query.get('filters'), PRUNE_FILTERS), compareVersions(ctx.apiVersion, '1.42') >= 0);
    ctx.send(200, { VolumesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed });
  });

  router.get('/volumes/(.+)', (ctx) => {
    ctx.send(200, volumes.get(ctx.param()));
  });

  router.delete('/volumes/(.+)', async (ctx) => {
    await volumes.remove(ctx.param(), ctx.flag('force'));
    ctx.noContent();
  });
}
