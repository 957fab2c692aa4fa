// Secrets and ssh agents the CLI holds (`--secret id=...`, `--ssh default`), fetched through its
// session. RUN --mount=type=secret|ssh (issue 18) is what will use them, so that they never rest
// in an image; until then nothing in a build calls these.
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { Code, GrpcError } from './grpc/status.js';
import { method } from './protos.js';
import type { Session } from './sessions.js';

const GET_SECRET = '/moby.buildkit.secrets.v1.Secrets/GetSecret';
const CHECK_AGENT = '/moby.sshforward.v1.SSH/CheckAgent';
const FORWARD_AGENT = '/moby.sshforward.v1.SSH/ForwardAgent';

/** The secret `id`'s bytes; NOT_FOUND when the client has no such secret (as BuildKit says it). */
export async function getSecret(session: Session, id: string, signal?: AbortSignal): Promise<Buffer> {
  if (!session.methods.has(GET_SECRET)) throw new GrpcError(Code.NOT_FOUND, `secret ${id}: not found (the client offers no secrets)`);
  try {
    const response = await session.client.unary(method('moby.buildkit.secrets.v1.Secrets', 'GetSecret'), { ID: id }, {}, signal);
    return Buffer.from(response.data as Uint8Array);
  } catch (err) {
    if (err instanceof GrpcError && (err.code === Code.NOT_FOUND || err.code === Code.UNIMPLEMENTED)) throw new GrpcError(Code.NOT_FOUND, `secret ${id}: not found`);
    throw err;
  }
}

export interface ForwardedAgent {
  /** A unix socket that speaks to the client's agent, for SSH_AUTH_SOCK inside a step. */
  socketPath: string;
  close(): Promise<void>;
}

/**
 * Listens on a unix socket of its own; each connection to it becomes a ForwardAgent call that
 * carries the ssh-agent protocol's bytes both ways to the client's agent `id`.
 */
export async function forwardAgent(session: Session, id: string): Promise<ForwardedAgent> {
  if (!session.methods.has(CHECK_AGENT) || !session.methods.has(FORWARD_AGENT)) throw new GrpcError(Code.NOT_FOUND, `no SSH agent ${id} was forwarded by the client (use --ssh ${id})`);
  try {
    await session.client.unary(method('moby.sshforward.v1.SSH', 'CheckAgent'), { ID: id });
  } catch (err) {
    if (err instanceof GrpcError && err.code === Code.NOT_FOUND) throw new GrpcError(Code.NOT_FOUND, `no SSH agent ${id} was forwarded by the client (use --ssh ${id})`);
    throw err;
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-ssh-'));
  const socketPath = path.join(dir, 'agent.sock');
  const server = net.createServer((conn) => {
    const call = session.client.call(method('moby.sshforward.v1.SSH', 'ForwardAgent'), { 'buildkit.ssh.id': id });
    conn.on('data', (data: Buffer) => {
      conn.pause();
      call.send({ data }).then(() => conn.resume(), () => conn.destroy());
    });
    conn.on('end', () => call.end());
    conn.on('error', () => call.cancel());
    void (async () => {
      try {
        for await (const message of call.messages()) conn.write(Buffer.from(message.data as Uint8Array));
      } catch {
        // The agent went away: so does this connection.
      }
      conn.end();
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  await fs.chmod(socketPath, 0o600);
  return {
    socketPath,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
