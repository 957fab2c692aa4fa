// GET /events: replay (since) and follow (until, or until the client goes away), with filters.
import type { Engine } from '../../engine.js';
import type { EngineEvent } from '../../events/event-bus.js';
import { InvalidParameterError } from '../../util/errors.js';
import { Filters } from '../../util/filters.js';
import type { Router } from '../router.js';

const EVENT_FILTERS = ['container', 'image', 'event', 'type', 'label', 'network', 'volume', 'daemon', 'scope', 'plugin', 'node', 'service', 'secret', 'config'] as const;

/** `since`/`until`: Unix seconds with optional fractions, as the CLI sends them. */
function toNano(value: string | null): number | undefined {
  if (value === null || value === '') return undefined;
  if (!/^\d+(\.\d+)?$/.test(value)) throw new InvalidParameterError(`invalid timestamp: ${value}`);
  const [secs = '0', frac = ''] = value.split('.');
  return Number(secs) * 1e9 + Number((frac + '000000000').slice(0, 9));
}

function matches(event: EngineEvent, filters: Filters): boolean {
  const attrs = event.Actor.Attributes;
  const nameOrId = (values: string[]) => values.some((v) => event.Actor.ID.startsWith(v) || attrs.name === v || attrs.name === v.replace(/^\//, ''));
  if (filters.has('type') && !filters.get('type').includes(event.Type)) return false;
  if (filters.has('event') && !filters.get('event').some((a) => event.Action === a || event.Action.startsWith(`${a}:`))) return false;
  if (filters.has('container') && (event.Type !== 'container' || !nameOrId(filters.get('container')))) return false;
  if (filters.has('image') && !filters.get('image').some((i) => attrs.image === i || event.Actor.ID === i || attrs.name === i)) return false;
  if (filters.has('network') && (event.Type !== 'network' || !nameOrId(filters.get('network')))) return false;
  if (filters.has('volume') && (event.Type !== 'volume' || !nameOrId(filters.get('volume')))) return false;
  if (!filters.matchLabels('label', attrs)) return false;
  return true;
}

export function registerEventRoutes(router: Router, engine: Engine): void {
  router.get('/events', async (ctx) => {
    const filters = Filters.parse(ctx.query.get('filters'), EVENT_FILTERS);
    const since = toNano(ctx.query.get('since'));
    const until = toNano(ctx.query.get('until'));
    ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
    ctx.res.flushHeaders();
    const send = (event: EngineEvent): void => {
      if (matches(event, filters)) ctx.res.write(JSON.stringify(event) + '\n');
    };
    const unsubscribe = engine.events.subscribe((event) => {
      if (until === undefined || event.timeNano <= until) send(event);
    });
    if (since !== undefined) for (const event of engine.events.since(since)) if (until === undefined || event.timeNano <= until) send(event);
    const nowNano = Date.now() * 1e6;
    if (until !== undefined && until <= nowNano) {
      unsubscribe();
      ctx.res.end();
      return;
    }
    await new Promise<void>((resolve) => {
      ctx.res.on('close', resolve);
      if (until !== undefined) setTimeout(resolve, (until - nowNano) / 1e6).unref();
    });
    unsubscribe();
    ctx.res.end();
  });
}
