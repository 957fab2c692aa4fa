// Credentials as the CLI hands them over: the X-Registry-Auth header (base64url JSON) on pull and
// push, and the JSON body of POST /auth (`docker login`).
import { InvalidParameterError } from '../util/errors.js';

export interface AuthConfig {
  username?: string;
  password?: string;
  /** base64 of "user:password", as stored in ~/.docker/config.json */
  auth?: string;
  serveraddress?: string;
  /** An OAuth refresh token some registries hand out instead of a password. */
  identitytoken?: string;
  /** A bearer token to send as-is. */
  registrytoken?: string;
  email?: string;
}

/** Decodes X-Registry-Auth; an absent or unreadable header means anonymous, as in dockerd. */
export function decodeRegistryAuthHeader(header: string | undefined): AuthConfig | undefined {
  if (!header) return undefined;
  try {
    const json = Buffer.from(header.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
    const parsed: unknown = JSON.parse(json);
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    return normalizeAuthConfig(parsed as AuthConfig);
  } catch {
    return undefined;
  }
}

/** Splits `auth` into username and password when only it was given. */
export function normalizeAuthConfig(config: AuthConfig): AuthConfig {
  if (config.auth && !config.username) {
    const decoded = Buffer.from(config.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) return { ...config, username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  return config;
}

export function hasCredentials(config: AuthConfig | undefined): config is AuthConfig {
  return Boolean(config && ((config.username && config.password !== undefined) || config.identitytoken || config.registrytoken));
}

/**
 * The X-Registry-Config header of POST /build: base64 JSON of registry -> credentials, keyed as
 * the CLI keeps them (`https://index.docker.io/v1/` for Docker Hub, `127.0.0.1:5000`, or with a
 * scheme). Returns the credentials for a registry domain.
 */
export function decodeRegistryConfigHeader(header: string | undefined): (domain: string) => AuthConfig | undefined {
  if (!header) return () => undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(header.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8'));
  } catch {
    throw new InvalidParameterError('invalid X-Registry-Config header: not base64-encoded JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidParameterError('invalid X-Registry-Config header: not a map of registries');
  const byDomain = new Map<string, AuthConfig>();
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof value !== 'object' || value === null) continue;
    const host = key.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '');
    byDomain.set(host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host, normalizeAuthConfig(value as AuthConfig));
  }
  return (domain) => byDomain.get(domain);
}
