// /networks/* routes: parse, call the network service, shape the answer.
import type { Engine } from '../../engine.js';
import type { EndpointSettings } from '../../vocabulary/network-record.js';
import type { NetworkCreateRequest } from '../../networks/network-service.js';
import { Filters } from '../../util/filters.js';
import { Shapes } from '../../util/json-shapes.js';
import type { Router } from '../router.js';

const LIST_FILTERS = ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type'] as const;
const PRUNE_FILTERS = ['until', 'label', 'label!'] as const;

export function registerNetworkRoutes(router: Router, engine: Engine): void {
  const networks = engine.networks;

  router.get('/networks/?', (ctx) => {
    ctx.send(200, networks.list(Filters.parse(ctx.query.get('filters'), LIST_FILTERS)));
  });

  router.post('/networks/create', async (ctx) => {
    ctx.send(201, await networks.create(await ctx.jsonObject<NetworkCreateRequest>(Shapes.networkCreate)));
  });

  router.post('/networks/prune', async (ctx) => {
    const deleted = await networks.prune(Filters.parse(ctx.query.get('filters'), PRUNE_FILTERS));
    ctx.send(200, { NetworksDeleted: deleted.length ? deleted : null });
  });

  router.get('/networks/([^/]+)', (ctx) => {
    ctx.send(200, networks.inspect(networks.store.get(ctx.param())));
  });

  router.delete('/networks/([^/]+)', async (ctx) => {
    await networks.remove(ctx.param());
    ctx.noContent();
  });

  router.post('/networks/([^/]+)/connect', async (ctx) => {
    await networks.connect(ctx.param(), await ctx.jsonObject<{ Container?: string; EndpointConfig?: Partial<EndpointSettings> | null }>(Shapes.networkConnect));
    ctx.noContent(200);
  });

  router.post('/networks/([^/]+)/disconnect', async (ctx) => {
    await networks.disconnect(ctx.param(), await ctx.jsonObject<{ Container?: string; Force?: boolean }>(Shapes.networkDisconnect));
    ctx.noContent(200);
  });
}
