// GET /images/search: the v1 search of a registry's index (Docker Hub's, or the registry a term
// names, `127.0.0.1:5000/web`), with dockerd's limit and filters checked before anything is sent.
import { InvalidParameterError, SystemError } from '../util/errors.js';
import type { Filters } from '../util/filters.js';
import type { AuthConfig } from './auth-config.js';
import type { RegistryHosts } from './endpoints.js';
import { drain, type HttpTransport } from './http-transport.js';

export interface SearchResult {
  name: string;
  description: string;
  star_count: number;
  is_official: boolean;
  is_automated: boolean;
}

export interface SearchQuery {
  term: string;
  limit: string | null;
  filters: Filters;
  auth: AuthConfig | undefined;
}

const HUB_INDEX = 'https://index.docker.io';
const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

/** `127.0.0.1:5000/web` -> that registry and `web`; a term without a registry host searches Docker Hub. */
function splitTerm(term: string): { domain: string | undefined; query: string } {
  const slash = term.indexOf('/');
  const first = slash === -1 ? '' : term.slice(0, slash);
  if (first && (first.includes('.') || first.includes(':') || first === 'localhost')) return { domain: first, query: term.slice(slash + 1) };
  return { domain: undefined, query: term };
}

function checkedLimit(raw: string | null): number {
  if (raw === null || raw === '') return 25;
  if (!/^-?\d+$/.test(raw)) throw new InvalidParameterError(`invalid limit specified: strconv.Atoi: parsing ${JSON.stringify(raw)}: invalid syntax`);
  const limit = Number(raw);
  if (limit < 1 || limit > 100) throw new InvalidParameterError(`limit ${limit} is outside the range of [1, 100]`);
  return limit;
}

export async function searchImages(hosts: RegistryHosts, transport: HttpTransport, search: SearchQuery): Promise<SearchResult[]> {
  const limit = checkedLimit(search.limit);
  const automated = search.filters.bool('is-automated');
  const official = search.filters.bool('is-official');
  const stars = search.filters.get('stars').map((value) => {
    if (!/^-?\d+$/.test(value)) throw new InvalidParameterError(`invalid filter 'stars=${value}': strconv.Atoi: parsing ${JSON.stringify(value)}: invalid syntax`);
    return Number(value);
  });
  const { domain, query } = splitTerm(search.term);
  const base = domain ? hosts.baseUrl(domain) : HUB_INDEX;
  const url = `${base}/v1/search?q=${encodeURIComponent(query)}&n=${limit}`;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (search.auth?.username && search.auth.password) headers.authorization = `Basic ${Buffer.from(`${search.auth.username}:${search.auth.password}`).toString('base64')}`;
  let res;
  try {
    res = await transport.request(url, { method: 'GET', headers });
  } catch (err) {
    throw new SystemError(`Get ${JSON.stringify(url)}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (res.statusCode !== 200) {
    await drain(res.body);
    // Distribution (v2-only) registries have no search: say which registry, as dockerd does.
    if (domain) throw new InvalidParameterError(`invalid registry endpoint ${base}/v1/: the registry answered ${res.statusCode} to a search; it has no v1 search API`);
    throw new SystemError(`Unexpected status code ${res.statusCode}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_ANSWER_BYTES) {
      res.body.destroy();
      throw new SystemError(`the search answer of ${base} is larger than ${MAX_ANSWER_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks);
  let results: SearchResult[];
  try {
    results = (JSON.parse(body.toString('utf8')) as { results?: SearchResult[] }).results ?? [];
  } catch {
    throw new SystemError(`the search answer of ${base} is not JSON`);
  }
  return results
    .filter((r) => automated === undefined || Boolean(r.is_automated) === automated)
    .filter((r) => official === undefined || Boolean(r.is_official) === official)
    .filter((r) => stars.every((min) => (r.star_count ?? 0) >= min))
    .slice(0, limit);
}
