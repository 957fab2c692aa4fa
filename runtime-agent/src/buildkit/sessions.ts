// The CLI's side of a build: on `POST /session` it opens a connection on which it serves its
// session services (the context's files, registry credentials, secrets, ssh agents, exports), and
// names the session in the headers. A Solve names the session it needs; the two may arrive in
// either order, so a solve waits a little for its session.
import type { Duplex } from 'node:stream';

import { log } from '../util/log.js';
import { GrpcClient } from './grpc/client.js';
import { Code, GrpcError } from './grpc/status.js';

export interface Session {
  readonly id: string;
  readonly name: string;
  readonly sharedKey: string;
  /** The gRPC methods the CLI serves on it, e.g. `/moby.filesync.v1.FileSync/DiffCopy`. */
  readonly methods: ReadonlySet<string>;
  readonly client: GrpcClient;
}

export interface SessionHeaders {
  id: string | undefined;
  name: string | undefined;
  sharedKey: string | undefined;
  methods: string[];
}

/** How long a Solve waits for the session it names to connect. */
const SESSION_WAIT_MS = 10_000;

export class SessionManager {
  private readonly sessions = new Map<string, Session>();
  private readonly waiting = new Map<string, Set<(session: Session) => void>>();

  /** Takes over a hijacked `/session` connection until the CLI closes it. */
  attach(socket: Duplex, headers: SessionHeaders): Session {
    if (!headers.id) throw new GrpcError(Code.INVALID_ARGUMENT, 'the session has no X-Docker-Expose-Session-Uuid');
    if (this.sessions.has(headers.id)) throw new GrpcError(Code.ALREADY_EXISTS, `session ${headers.id} is already connected`);
    // Method names may arrive as one header each or joined with commas.
    const methods = new Set(headers.methods.flatMap((m) => m.split(',')).map((m) => m.trim()).filter(Boolean));
    const session: Session = { id: headers.id, name: headers.name ?? '', sharedKey: headers.sharedKey ?? '', methods, client: new GrpcClient(socket) };
    this.sessions.set(session.id, session);
    log.debug('buildkit session', { id: session.id, methods: [...methods].join(' ') });
    session.client.onClose(() => {
      if (this.sessions.get(session.id) === session) this.sessions.delete(session.id);
    });
    // The engine's HTTP server keeps connections half-open; HTTP/2 does not notice the client's
    // end of the connection by itself, and a transfer would wait for it forever.
    socket.once('end', () => socket.destroy());
    socket.once('close', () => session.client.close());
    for (const resolve of this.waiting.get(session.id) ?? []) resolve(session);
    this.waiting.delete(session.id);
    return session;
  }

  has(id: string): boolean {
    return this.sessions.has(id);
  }

  /** The session `id`, once it has connected. */
  async get(id: string, signal?: AbortSignal): Promise<Session> {
    if (!id) throw new GrpcError(Code.INVALID_ARGUMENT, 'the build names no session');
    if (signal?.aborted) throw new GrpcError(Code.CANCELLED, 'the build was cancelled');
    const connected = this.sessions.get(id);
    if (connected) return connected;
    return new Promise<Session>((resolve, reject) => {
      const waiters = this.waiting.get(id) ?? new Set();
      this.waiting.set(id, waiters);
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        waiters.delete(found);
        if (waiters.size === 0) this.waiting.delete(id);
      };
      const found = (session: Session) => {
        cleanup();
        resolve(session);
      };
      const onAbort = () => {
        cleanup();
        reject(new GrpcError(Code.CANCELLED, 'the build was cancelled'));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new GrpcError(Code.FAILED_PRECONDITION, `no active session for ${id}: context deadline exceeded`));
      }, SESSION_WAIT_MS);
      waiters.add(found);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  close(): void {
    for (const session of this.sessions.values()) session.client.close();
    this.sessions.clear();
  }
}
