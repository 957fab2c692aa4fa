// Method + path-pattern routing. Image names contain slashes (`127.0.0.1:5000/lib/x:tag`), so
// patterns are regular expressions rather than segment templates.
import { InvalidParameterError } from '../util/errors.js';
import type { RequestContext } from './context.js';

export type Handler = (ctx: RequestContext) => Promise<void> | void;

interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
}

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, handler: Handler): this {
    this.routes.push({ method, pattern: new RegExp(`^${pattern}$`), handler });
    return this;
  }

  get(pattern: string, handler: Handler): this {
    return this.add('GET', pattern, handler);
  }

  post(pattern: string, handler: Handler): this {
    return this.add('POST', pattern, handler);
  }

  delete(pattern: string, handler: Handler): this {
    return this.add('DELETE', pattern, handler);
  }

  head(pattern: string, handler: Handler): this {
    return this.add('HEAD', pattern, handler);
  }

  /** The handler and decoded path parameters for a request, or why there is none. */
  match(method: string, path: string): { handler: Handler; params: string[] } | 'not-found' | 'method-not-allowed' {
    let pathMatched = false;
    for (const route of this.routes) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (route.method !== method) continue;
      return { handler: route.handler, params: m.slice(1).map((p) => decodeParam(p ?? '')) };
    }
    return pathMatched ? 'method-not-allowed' : 'not-found';
  }
}

/** A path parameter, URL-decoded; a broken escape (`%E0%A4%A`) is the client's error, not a 500. */
function decodeParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new InvalidParameterError(`invalid URL escape in ${JSON.stringify(raw.slice(0, 200))}`);
  }
}
