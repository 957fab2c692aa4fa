// A Docker Registry HTTP API v2 (OCI distribution) client: manifests, blobs, uploads, tags, with
// Bearer-token and Basic authentication negotiated from the registry's WWW-Authenticate challenge.
import { Readable } from 'node:stream';

import { MANIFEST_ACCEPT } from '../vocabulary/media-types.js';
import { sha256Digest } from '../util/digest.js';
import { EngineError, SystemError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { hasCredentials, type AuthConfig } from './auth-config.js';
import { parseChallenges, type Challenge } from './challenge.js';
import type { RegistryHosts } from './endpoints.js';
import { HttpTransport, drain, readBody, readText, type HttpResponse } from './http-transport.js';
import { RegistryError, describeRegistryErrors, engineStatusFor } from './registry-error.js';

export type Action = 'pull' | 'push';

export interface FetchedManifest {
  body: Buffer;
  mediaType: string;
  digest: string;
}

type RawResponse = HttpResponse;

const USER_AGENT = 'berthd/0.1 (docker-compatible)';
/** Blobs above this size are uploaded in PATCH chunks; smaller ones in a single PUT. */
export const CHUNKED_UPLOAD_THRESHOLD = 8 * 1024 * 1024;
const CHUNK_SIZE = 16 * 1024 * 1024;

function header(headers: RawResponse['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export class RegistryClient {
  readonly transport = new HttpTransport();

  constructor(readonly hosts: RegistryHosts) {}

  repository(domain: string, path: string, auth: AuthConfig | undefined, actions: Action[]): Repository {
    return new Repository(this, domain, path, auth, actions);
  }

  /** `docker login`: checks the credentials against the registry's /v2/ endpoint. */
  async login(domain: string, auth: AuthConfig): Promise<void> {
    await new Repository(this, domain, '', auth, []).checkLogin();
  }
}

/** One repository on one registry, with the credentials and token for the actions asked for. */
export class Repository {
  private authorization: string | undefined;
  private readonly base: string;

  constructor(
    private readonly client: RegistryClient,
    readonly domain: string,
    readonly path: string,
    private readonly auth: AuthConfig | undefined,
    private readonly actions: Action[],
  ) {
    this.base = client.hosts.baseUrl(domain);
    if (auth?.registrytoken) this.authorization = `Bearer ${auth.registrytoken}`;
  }

  /** `127.0.0.1:5000/library/busybox` for messages. */
  get name(): string {
    return `${this.domain}/${this.path}`;
  }

  async getManifest(reference: string): Promise<FetchedManifest> {
    const res = await this.send('GET', `/v2/${this.path}/manifests/${reference}`, { headers: { accept: MANIFEST_ACCEPT.join(', ') } });
    if (res.statusCode !== 200) throw await this.errorFrom(res, `manifest for ${this.name}:${reference}`);
    const body = await readBody(res.body);
    const digest = sha256Digest(body);
    const claimed = header(res.headers, 'docker-content-digest');
    if (reference.startsWith('sha256:') && digest !== reference) {
      throw new SystemError(`manifest verification failed for digest ${reference}`);
    }
    if (claimed && claimed !== digest && claimed.startsWith('sha256:')) {
      throw new SystemError(`manifest verification failed: registry says ${claimed}, content is ${digest}`);
    }
    let mediaType = (header(res.headers, 'content-type') ?? '').split(';')[0]?.trim() ?? '';
    try {
      const parsed = JSON.parse(body.toString('utf8')) as { mediaType?: string };
      if (parsed.mediaType) mediaType = parsed.mediaType;
    } catch {
      throw new SystemError(`invalid manifest for ${this.name}:${reference}: not JSON`);
    }
    return { body, mediaType, digest };
  }

  /** Streams a blob; the caller verifies its digest while storing it. */
  async fetchBlob(digest: string, signal?: AbortSignal): Promise<{ stream: Readable; size: number | undefined }> {
    const res = await this.send('GET', `/v2/${this.path}/blobs/${digest}`, signal ? { signal } : {});
    if (res.statusCode !== 200) throw await this.errorFrom(res, `blob ${digest}`);
    const length = header(res.headers, 'content-length');
    return { stream: res.body, size: length ? Number(length) : undefined };
  }

  /** Size of a blob the registry already has in this repository, or undefined. */
  async statBlob(digest: string): Promise<number | undefined> {
    const res = await this.send('HEAD', `/v2/${this.path}/blobs/${digest}`);
    await drain(res.body);
    if (res.statusCode === 200) return Number(header(res.headers, 'content-length') ?? '0');
    if (res.statusCode === 404) return undefined;
    throw await this.errorFrom(res, `blob ${digest}`);
  }

  /** Asks the registry to link a blob from another repository; true when it did. */
  async mountBlob(digest: string, fromPath: string): Promise<boolean> {
    const res = await this.send('POST', `/v2/${this.path}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(fromPath)}`, {}, [`repository:${fromPath}:pull`]);
    await drain(res.body);
    if (res.statusCode === 201) return true;
    const location = header(res.headers, 'location');
    if (res.statusCode === 202 && location) await this.cancelUpload(location);
    return false;
  }

  /**
   * Uploads a blob: one PUT for small blobs (monolithic), PATCH chunks and a closing PUT for large
   * ones (chunked), as the distribution spec describes both.
   */
  async uploadBlob(digest: string, size: number, open: () => Readable, onProgress?: (sent: number) => void): Promise<void> {
    const start = await this.send('POST', `/v2/${this.path}/blobs/uploads/`, { headers: { 'content-length': '0' } });
    await drain(start.body);
    let location = header(start.headers, 'location');
    if (start.statusCode !== 202 || !location) throw await this.errorFrom(start, `upload of ${digest}`);
    if (size <= CHUNKED_UPLOAD_THRESHOLD) {
      const res = await this.send('PUT', withQuery(this.absolute(location), { digest }), {
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
        body: counted(open(), onProgress),
      });
      await drain(res.body);
      if (res.statusCode !== 201) throw await this.errorFrom(res, `upload of ${digest}`);
      return;
    }
    let offset = 0;
    for await (const chunk of rechunk(open(), CHUNK_SIZE)) {
      const res = await this.send('PATCH', this.absolute(location), {
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(chunk.length), 'content-range': `${offset}-${offset + chunk.length - 1}` },
        body: chunk,
      });
      await drain(res.body);
      if (res.statusCode !== 202) throw await this.errorFrom(res, `upload of ${digest}`);
      location = header(res.headers, 'location') ?? location;
      offset += chunk.length;
      onProgress?.(offset);
    }
    const done = await this.send('PUT', withQuery(this.absolute(location), { digest }), { headers: { 'content-length': '0' } });
    await drain(done.body);
    if (done.statusCode !== 201) throw await this.errorFrom(done, `upload of ${digest}`);
  }

  async putManifest(reference: string, body: Buffer, mediaType: string): Promise<string> {
    const res = await this.send('PUT', `/v2/${this.path}/manifests/${reference}`, { headers: { 'content-type': mediaType }, body });
    await drain(res.body);
    if (res.statusCode !== 201) throw await this.errorFrom(res, `manifest ${this.name}:${reference}`);
    return header(res.headers, 'docker-content-digest') ?? sha256Digest(body);
  }

  async listTags(): Promise<string[]> {
    const tags: string[] = [];
    let next: string | undefined = `/v2/${this.path}/tags/list?n=1000`;
    while (next) {
      const res = await this.send('GET', next);
      if (res.statusCode !== 200) throw await this.errorFrom(res, `tags of ${this.name}`);
      const body = JSON.parse(await readText(res.body)) as { tags?: string[] | null };
      tags.push(...(body.tags ?? []));
      const link = header(res.headers, 'link');
      next = link ? /<([^>]+)>/.exec(link)?.[1] : undefined;
    }
    return tags;
  }

  /** GET /v2/ with the credentials; throws when the registry refuses them. */
  async checkLogin(): Promise<void> {
    const res = await this.send('GET', '/v2/');
    await drain(res.body);
    if (res.statusCode === 200) return;
    // 500 as in dockerd: a 401 from the engine would make the CLI prompt for credentials.
    if (res.statusCode === 401) throw new SystemError(`login attempt to ${this.base}/v2/ failed with status: 401 Unauthorized`);
    throw new SystemError(`login attempt to ${this.base}/v2/ failed with status: ${res.statusCode}`);
  }

  private async cancelUpload(location: string): Promise<void> {
    try {
      const res = await this.send('DELETE', this.absolute(location));
      await drain(res.body);
    } catch {
      // an abandoned upload is cleaned up by the registry eventually
    }
  }

  private absolute(location: string): string {
    return new URL(location, this.base).toString();
  }

  /**
   * Sends a request; on a 401 it answers the challenge (fetching a token for Bearer, adding the
   * credentials for Basic) and retries once. Bodies given as streams cannot be replayed, so the
   * auth handshake happens on the first request of a session (the upload start or a HEAD).
   */
  private async send(
    method: string,
    pathOrUrl: string,
    options: { headers?: Record<string, string>; body?: Buffer | Readable; signal?: AbortSignal } = {},
    extraScopes: string[] = [],
  ): Promise<RawResponse> {
    const url = pathOrUrl.startsWith('http') ? pathOrUrl : this.base + pathOrUrl;
    const attempt = async (): Promise<RawResponse> => {
      const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...options.headers };
      if (this.authorization) headers.authorization = this.authorization;
      try {
        return await this.client.transport.request(url, {
          method,
          headers,
          body: options.body ?? null,
          ...(options.signal ? { signal: options.signal } : {}),
        });
      } catch (err) {
        throw new SystemError(`${goMethod(method)} "${url}": ${errorMessage(err)}`);
      }
    };
    const sentWith = this.authorization;
    let res = await attempt();
    if (res.statusCode === 401 && !(options.body instanceof Readable)) {
      const challenges = parseChallenges(res.headers['www-authenticate']);
      await drain(res.body);
      let answered: boolean;
      try {
        answered = await this.answerChallenge(challenges, extraScopes, sentWith);
      } catch (err) {
        // dockerd's wording: `Head "http://host/v2/x/manifests/latest": no basic auth credentials`
        throw new SystemError(`${goMethod(method)} "${url}": ${errorMessage(err)}`);
      }
      if (!answered) return res;
      res = await attempt();
    }
    return res;
  }

  /**
   * `sentWith`: the authorization the refused request carried. Requests run side by side (a push
   * uploads five layers at once): when another one already answered the challenge, this one only
   * has to retry; only credentials that were sent and refused are wrong.
   */
  private async answerChallenge(challenges: Challenge[], extraScopes: string[], sentWith: string | undefined): Promise<boolean> {
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer) {
      this.authorization = `Bearer ${await this.fetchToken(bearer, extraScopes)}`;
      return true;
    }
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (basic && !hasCredentials(this.auth)) throw new SystemError('no basic auth credentials');
    if (basic && hasCredentials(this.auth) && this.auth.username) {
      const encoded = Buffer.from(`${this.auth.username}:${this.auth.password ?? ''}`).toString('base64');
      const next = `Basic ${encoded}`;
      if (sentWith === next) return false;
      this.authorization = next;
      return true;
    }
    return false;
  }

  private async fetchToken(challenge: Challenge, extraScopes: string[]): Promise<string> {
    const realm = challenge.params.realm;
    if (!realm) throw new SystemError('registry sent a Bearer challenge without a realm');
    const url = new URL(realm);
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    const scopes = this.path ? [`repository:${this.path}:${this.actions.join(',')}`, ...extraScopes] : [];
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const headers: Record<string, string> = { 'user-agent': USER_AGENT };
    if (this.auth?.identitytoken) {
      // OAuth2 refresh-token grant (the identity token from `docker login`).
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: this.auth.identitytoken, client_id: 'docker', service: challenge.params.service ?? '' });
      for (const scope of scopes) form.append('scope', scope);
      const res = await this.client.transport.request(realm, { method: 'POST', headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
      return this.readToken(res);
    }
    if (hasCredentials(this.auth) && this.auth.username) {
      headers.authorization = `Basic ${Buffer.from(`${this.auth.username}:${this.auth.password ?? ''}`).toString('base64')}`;
    }
    log.debug('fetching registry token', { realm, scopes: scopes.join(' ') });
    let res: RawResponse;
    try {
      res = await this.client.transport.request(url.toString(), { method: 'GET', headers });
    } catch (err) {
      throw new SystemError(`Get "${url.toString()}": ${errorMessage(err)}`);
    }
    return this.readToken(res);
  }

  private async readToken(res: RawResponse): Promise<string> {
    const text = await readText(res.body);
    if (res.statusCode === 401) throw new SystemError('unauthorized: incorrect username or password');
    if (res.statusCode !== 200) throw new SystemError(`token request failed with status ${res.statusCode}: ${text.slice(0, 200)}`);
    const body = JSON.parse(text) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new SystemError('token server answered without a token');
    return token;
  }

  private async errorFrom(res: RawResponse, what: string): Promise<EngineError> {
    const text = res.statusCode === 404 && res.headers['content-length'] === '0' ? '' : await readText(res.body).catch(() => '');
    const { text: described, codes } = describeRegistryErrors(text, res.statusCode);
    log.debug('registry error', { what, status: res.statusCode, body: text.slice(0, 300) });
    return new RegistryError(engineStatusFor(res.statusCode), described, res.statusCode, codes);
  }
}

function withQuery(url: string, params: Record<string, string>): string {
  const u = new URL(url);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

function counted(source: Readable, onProgress?: (sent: number) => void): Readable {
  if (!onProgress) return source;
  let sent = 0;
  source.on('data', (chunk: Buffer) => onProgress((sent += chunk.length)));
  return source;
}

/** Regroups a stream into buffers of exactly `size` bytes (the last may be shorter). */
async function* rechunk(source: Readable, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let length = 0;
  for await (const chunk of source as AsyncIterable<Buffer>) {
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(size - length, chunk.length - offset);
      parts.push(chunk.subarray(offset, offset + take));
      length += take;
      offset += take;
      if (length === size) {
        yield Buffer.concat(parts);
        parts = [];
        length = 0;
      }
    }
  }
  if (length) yield Buffer.concat(parts);
}

/** Go's net/http spells methods this way in its error messages (`Get "url": ...`). */
function goMethod(method: string): string {
  return method.charAt(0) + method.slice(1).toLowerCase();
}
