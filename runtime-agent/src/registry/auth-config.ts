// Credentials as the CLI hands them over: the X-Registry-Auth header (base64url JSON) on pull and
// push, and the JSON body of POST /auth (`docker login`).
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
