// Registry credentials from the CLI's session (Auth.Credentials): BuildKit's clients keep them on
// their side and hand them over per registry host, when a pull or a push needs them.
import type { AuthConfig } from '../registry/auth-config.js';
import { registryHost } from '../registry/endpoints.js';
import { Code, GrpcError } from './grpc/status.js';
import { method } from './protos.js';
import type { Session } from './sessions.js';

const CREDENTIALS = '/moby.filesync.v1.Auth/Credentials';

/** Credentials by registry domain, asked of the client by the host BuildKit names (Docker Hub by its API host). */
export function sessionCredentials(session: Session, signal?: AbortSignal): (domain: string) => Promise<AuthConfig | undefined> {
  const cache = new Map<string, Promise<AuthConfig | undefined>>();
  return (domain) => {
    if (!session.methods.has(CREDENTIALS)) return Promise.resolve(undefined);
    let found = cache.get(domain);
    if (!found) {
      found = session.client.unary(method('moby.filesync.v1.Auth', 'Credentials'), { Host: registryHost(domain) }, {}, signal).then(
        (r) => {
          if (!r.Username && !r.Secret) return undefined;
          // An empty user name with a secret is an identity token (a registry's refresh token).
          return r.Username ? { username: String(r.Username), password: String(r.Secret) } : { identitytoken: String(r.Secret) };
        },
        (err: unknown) => {
          // A client without credentials for the host pulls anonymously, as BuildKit does; another
          // failure (a broken credential helper) is not remembered, so the next ask tries again.
          cache.delete(domain);
          if (err instanceof GrpcError && (err.code === Code.NOT_FOUND || err.code === Code.UNIMPLEMENTED)) return undefined;
          throw err;
        },
      );
      cache.set(domain, found);
    }
    return found;
  };
}
