// A small distribution-v2 registry for the failure cases a real one will not produce: blobs whose
// bytes do not match their digest, downloads cut off half way or hanging, and Bearer-token auth.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { gzip, imageConfig, sha256 } from './tar.js';

export type BlobFault = 'corrupt' | 'truncate' | 'hang';

export interface FakeImage {
  manifestDigest: string;
  configDigest: string;
  layerDigests: string[];
}

export class FakeRegistry {
  private readonly manifests = new Map<string, { body: Buffer; type: string }>();
  private readonly blobs = new Map<string, Buffer>();
  /** Fault per blob digest, applied to the next `times` downloads. */
  readonly faults = new Map<string, { fault: BlobFault; times: number }>();
  readonly requests: string[] = [];
  private readonly hanging = new Set<ServerResponse>();
  bearer: { user: string; password: string; token: string } | undefined;
  /** What GET /v1/search answers (the index search Docker Hub has and distribution registries lack). */
  searchResults: { name: string; description: string; star_count: number; is_official: boolean; is_automated: boolean }[] | undefined;

  private constructor(private readonly server: Server) {}

  static async start(): Promise<FakeRegistry> {
    const server = createServer();
    const registry = new FakeRegistry(server);
    server.on('request', (req, res) => registry.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return registry;
  }

  get host(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  /** Adds an image made of the given plain layer tars (served gzipped) under repo:tag. */
  addImage(repo: string, tag: string, layers: Buffer[], configExtra: Record<string, unknown> = {}): FakeImage {
    const config = imageConfig(layers, configExtra);
    const configDigest = sha256(config);
    this.blobs.set(configDigest, config);
    const gz = layers.map((l) => gzip(l));
    for (const blob of gz) this.blobs.set(sha256(blob), blob);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: configDigest },
        layers: gz.map((b) => ({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: b.length, digest: sha256(b) })),
      }),
    );
    const manifestDigest = sha256(manifest);
    const entry = { body: manifest, type: 'application/vnd.docker.distribution.manifest.v2+json' };
    this.manifests.set(`${repo}:${tag}`, entry);
    this.manifests.set(`${repo}:${manifestDigest}`, entry);
    return { manifestDigest, configDigest, layerDigests: gz.map((b) => sha256(b)) };
  }

  /**
   * Adds a manifest list (OCI index) under repo:tag with one image per platform, e.g.
   * { 'linux/amd64': [layer], 'linux/arm64/v8': [layer] }. Returns the index digest.
   */
  addIndex(repo: string, tag: string, platforms: Record<string, Buffer[]>): { indexDigest: string; images: Record<string, FakeImage> } {
    const images: Record<string, FakeImage> = {};
    const manifests = Object.entries(platforms).map(([platform, layers]) => {
      const [os = 'linux', architecture = 'amd64', variant] = platform.split('/');
      const image = this.addImage(repo, `${tag}-${architecture}`, layers, { architecture, os, ...(variant ? { variant } : {}) });
      images[platform] = image;
      const body = this.manifests.get(`${repo}:${image.manifestDigest}`)?.body ?? Buffer.alloc(0);
      return { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image.manifestDigest, size: body.length, platform: { os, architecture, ...(variant ? { variant } : {}) } };
    });
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
    const entry = { body: index, type: 'application/vnd.oci.image.index.v1+json' };
    this.manifests.set(`${repo}:${tag}`, entry);
    this.manifests.set(`${repo}:${sha256(index)}`, entry);
    return { indexDigest: sha256(index), images };
  }

  /** Adds an image whose single layer is served as the given blob and media type (zstd layers). */
  addRawLayerImage(repo: string, tag: string, plainLayer: Buffer, blob: Buffer, mediaType: string): FakeImage {
    const config = imageConfig([plainLayer]);
    const configDigest = sha256(config);
    this.blobs.set(configDigest, config);
    this.blobs.set(sha256(blob), blob);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: config.length, digest: configDigest },
        layers: [{ mediaType, size: blob.length, digest: sha256(blob) }],
      }),
    );
    const entry = { body: manifest, type: 'application/vnd.oci.image.manifest.v1+json' };
    this.manifests.set(`${repo}:${tag}`, entry);
    this.manifests.set(`${repo}:${sha256(manifest)}`, entry);
    return { manifestDigest: sha256(manifest), configDigest, layerDigests: [sha256(blob)] };
  }

  private authorized(req: IncomingMessage, res: ServerResponse, repo: string): boolean {
    if (!this.bearer) return true;
    if (req.headers.authorization === `Bearer ${this.bearer.token}`) return true;
    res.writeHead(401, {
      'content-type': 'application/json',
      'www-authenticate': `Bearer realm="http://${this.host}/token",service="fake-registry",scope="repository:${repo}:pull"`,
    });
    res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
    return false;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', `http://${this.host}`);
    this.requests.push(`${req.method} ${url.pathname}${url.search}`);
    if (url.pathname === '/token') {
      const expected = this.bearer ? 'Basic ' + Buffer.from(`${this.bearer.user}:${this.bearer.password}`).toString('base64') : '';
      if (!this.bearer || req.headers.authorization !== expected) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ details: 'incorrect username or password' }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token: this.bearer.token, expires_in: 300 }));
      return;
    }
    if (url.pathname === '/v1/search' && this.searchResults) {
      const wanted = url.searchParams.get('q') ?? '';
      const n = Number(url.searchParams.get('n') ?? '25');
      const results = this.searchResults.filter((r) => r.name.includes(wanted)).slice(0, n);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ query: wanted, num_results: results.length, results }));
      return;
    }
    if (url.pathname === '/v2/') {
      if (!this.authorized(req, res, '')) return;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
      return;
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    if (!m) {
      res.writeHead(404).end();
      return;
    }
    const [, repo = '', kind, ref = ''] = m;
    if (!this.authorized(req, res, repo)) return;
    if (kind === 'manifests') {
      const manifest = this.manifests.get(`${repo}:${ref}`);
      if (!manifest) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: { Tag: ref } }] }));
        return;
      }
      res.writeHead(200, { 'content-type': manifest.type, 'docker-content-digest': sha256(manifest.body), 'content-length': manifest.body.length });
      res.end(req.method === 'HEAD' ? undefined : manifest.body);
      return;
    }
    const blob = this.blobs.get(ref);
    if (!blob) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry' }] }));
      return;
    }
    const fault = this.faults.get(ref);
    if (fault && fault.times > 0) {
      fault.times--;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': blob.length });
      if (fault.fault === 'corrupt') {
        const bad = Buffer.from(blob);
        bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 0xff;
        res.end(bad);
      } else if (fault.fault === 'truncate') {
        res.write(blob.subarray(0, Math.floor(blob.length / 2)), () => res.destroy());
      } else {
        res.write(blob.subarray(0, Math.floor(blob.length / 2)));
        this.hanging.add(res);
      }
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': blob.length });
    res.end(req.method === 'HEAD' ? undefined : blob);
  }
}
