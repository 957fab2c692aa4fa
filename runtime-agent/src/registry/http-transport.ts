// HTTP for the registry client on Node's own http/https modules: keep-alive pools per scheme,
// redirects (blob downloads are often sent to a storage host), and body helpers. Node's core is
// already loaded; a client library would cost an idle engine ~20 MB of memory.
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';

export interface HttpResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
}

export interface RequestOptions {
  method: string;
  headers?: Record<string, string>;
  body?: Buffer | string | Readable | null;
  signal?: AbortSignal;
}

const MAX_REDIRECTS = 5;
/** A response that sends nothing for this long is given up on. */
const IDLE_TIMEOUT_MS = 120_000;

export class HttpTransport {
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  /** TLS is loaded on first use: loopback registries, the common case here, never need it. */
  private https: Promise<{ module: typeof import('node:https'); agent: import('node:https').Agent }> | undefined;

  async request(url: string, options: RequestOptions, redirects = 0): Promise<HttpResponse> {
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    if (secure) this.https ??= import('node:https').then((module) => ({ module, agent: new module.Agent({ keepAlive: true, maxSockets: 16 }) }));
    const tls = secure ? await this.https : undefined;
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const requestOptions = { method: options.method, headers: options.headers ?? {}, ...(options.signal ? { signal: options.signal } : {}) };
      const req = tls ? tls.module.request(target, { ...requestOptions, agent: tls.agent }, resolve) : http.request(target, { ...requestOptions, agent: this.httpAgent }, resolve);
      req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(new Error(`no answer from ${target.host} for ${IDLE_TIMEOUT_MS / 1000} s`)));
      req.on('error', reject);
      const body = options.body;
      if (body instanceof Readable) {
        body.on('error', (err) => req.destroy(err));
        body.pipe(req);
      } else req.end(body ?? undefined);
    });
    const location = res.headers.location;
    const redirect = [301, 302, 303, 307, 308].includes(res.statusCode ?? 0) && location && !(options.body instanceof Readable);
    if (redirect && redirects < MAX_REDIRECTS) {
      res.resume();
      const next = new URL(location, target);
      const headers = { ...options.headers };
      // Credentials are for the registry, not for the storage host it redirects to.
      if (next.origin !== target.origin) delete headers.authorization;
      const method = res.statusCode === 303 ? 'GET' : options.method;
      return this.request(next.toString(), { ...options, method, headers, ...(method === 'GET' ? { body: null } : {}) }, redirects + 1);
    }
    return { statusCode: res.statusCode ?? 0, headers: res.headers, body: res };
  }
}

/** Reads the whole body. */
export async function readBody(body: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

export async function readText(body: IncomingMessage): Promise<string> {
  return (await readBody(body)).toString('utf8');
}

/** Discards the body so the connection can be reused. */
export async function drain(body: IncomingMessage): Promise<void> {
  body.resume();
  if (body.readableEnded) return;
  await new Promise<void>((resolve) => {
    body.once('end', resolve);
    body.once('error', () => resolve());
    body.once('close', resolve);
  });
}
