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

/** Objects named by ID or name: a filter value is the whole of either, or a prefix of it (dockerd's FuzzyMatch). */
const NAMED_TYPES = ['container', 'daemon', 'network', 'volume', 'plugin', 'node', 'service', 'secret', 'config'] as const;

/** `nginx:1.2` and `nginx@sha256:…` -> `nginx`: image filters match an image whatever tag it was used by. */
function withoutTag(name: string): string {
  const at = name.indexOf('@');
  const bare = at === -1 ? name : name.slice(0, at);
  const colon = bare.lastIndexOf(':');
  return colon > bare.lastIndexOf('/') ? bare.slice(0, colon) : bare;
}

/**
 * dockerd's events filter: every filter applies to every event (a `container=` filter drops the
 * image events whose ID or name does not match it too), values of one filter are alternatives.
 */
export function eventMatches(event: EngineEvent, filters: Filters): boolean {
  const id = event.Actor.ID;
  const attrs = event.Actor.Attributes;
  if (filters.has('type') && !filters.get('type').includes(event.Type)) return false;
  if (filters.has('scope') && !filters.get('scope').includes(event.scope)) return false;
  if (filters.has('event') && !filters.get('event').some((a) => event.Action === a || event.Action.startsWith(`${a}:`))) return false;
  for (const type of NAMED_TYPES) {
    if (!filters.has(type)) continue;
    const name = attrs.name ?? '';
    if (!filters.get(type).some((v) => id === v || id.startsWith(v) || name === v || (name !== '' && name.startsWith(v)))) return false;
  }
  if (filters.has('image')) {
    const names = [id, event.Type === 'image' ? attrs.name : attrs.image].filter((n): n is string => Boolean(n));
    const candidates = new Set([...names, ...names.map(withoutTag)]);
    if (!filters.get('image').some((v) => candidates.has(v))) return false;
  }
  return filters.matchLabels('label', attrs);
}

export function registerEventRoutes(router: Router, engine: Engine): void {
  router.get('/events', async (ctx) => {
    const filters = Filters.parse(ctx.query.get('filters'), EVENT_FILTERS);
    const since = toNano(ctx.query.get('since'));
    const until = toNano(ctx.query.get('until'));
    if (since !== undefined && until !== undefined && since > until) {
      throw new InvalidParameterError(`\`since\` time (${ctx.query.get('since')}) cannot be after \`until\` time (${ctx.query.get('until')})`);
    }
    ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
    ctx.res.flushHeaders();
    const send = (event: EngineEvent): void => {
      if (eventMatches(event, filters)) ctx.res.write(JSON.stringify(event) + '\n');
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
