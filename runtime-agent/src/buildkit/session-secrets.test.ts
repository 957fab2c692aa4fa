// The session's secrets and ssh agents, against a fake CLI that serves BuildKit's Secrets and SSH
// services on the other end of a socket: what a RUN --mount=type=secret|ssh step will get.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { frame, readMessages } from './grpc/framing.js';
import { messageType } from './protos.js';
import { forwardAgent, getSecret } from './session-secrets.js';
import { SessionManager, type Session } from './sessions.js';

const SECRETS = { token: 's3cr3t\n' };

/** The CLI's side: GetSecret from SECRETS, CheckAgent for "default", ForwardAgent echoing in upper case. */
function serveFakeCli(socket: net.Socket): void {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    const reply = (typeName: string, message: Record<string, unknown>) => {
      const type = messageType(typeName);
      stream.write(frame(type.encode(type.fromObject(message)).finish()));
    };
    const fail = (code: number, message: string) => stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': message }, { endStream: true });
    const path = headers[':path'];
    void (async () => {
      const incoming = readMessages(stream);
      if (path === '/moby.buildkit.secrets.v1.Secrets/GetSecret') {
        const request = messageType('moby.buildkit.secrets.v1.GetSecretRequest').decode((await incoming.next()).value as Buffer) as unknown as { ID: string };
        const data = SECRETS[request.ID as keyof typeof SECRETS];
        if (data === undefined) return fail(5, `secret ${request.ID} not found`);
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        reply('moby.buildkit.secrets.v1.GetSecretResponse', { data: Buffer.from(data) });
      } else if (path === '/moby.sshforward.v1.SSH/CheckAgent') {
        const request = messageType('moby.sshforward.v1.CheckAgentRequest').decode((await incoming.next()).value as Buffer) as unknown as { ID: string };
        if (request.ID !== 'default') return fail(5, `unset ssh forward key ${request.ID}`);
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        reply('moby.sshforward.v1.CheckAgentResponse', {});
      } else if (path === '/moby.sshforward.v1.SSH/ForwardAgent') {
        assert.equal(headers['buildkit.ssh.id'], 'default');
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        const type = messageType('moby.sshforward.v1.BytesMessage');
        for await (const bytes of incoming) {
          const { data } = type.decode(bytes) as unknown as { data: Uint8Array };
          reply('moby.sshforward.v1.BytesMessage', { data: Buffer.from(Buffer.from(data).toString().toUpperCase()) });
        }
      } else return fail(12, 'unknown');
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end();
    })();
  });
  server.emit('connection', socket);
}

describe('session secrets and ssh agents', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-session-'));
  const sessions = new SessionManager();
  let session: Session;
  let listener: net.Server;

  before(async () => {
    const socketPath = path.join(dir, 'pair.sock');
    listener = net.createServer(serveFakeCli);
    await new Promise<void>((resolve) => listener.listen(socketPath, resolve));
    const engineSide = net.connect(socketPath);
    await new Promise((resolve) => engineSide.once('connect', resolve));
    const methods = ['/moby.buildkit.secrets.v1.Secrets/GetSecret', '/moby.sshforward.v1.SSH/CheckAgent', '/moby.sshforward.v1.SSH/ForwardAgent'];
    session = sessions.attach(engineSide, { id: 'unit', name: 'unit', sharedKey: '', methods });
  });
  after(() => {
    sessions.close();
    listener.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fetches a secret by id, and says which one is missing', async () => {
    assert.equal((await getSecret(session, 'token')).toString(), 's3cr3t\n');
    await assert.rejects(getSecret(session, 'nope'), /secret nope: not found/);
  });

  it('forwards an agent: bytes written to its socket reach the client and come back', async () => {
    await assert.rejects(forwardAgent(session, 'other'), /no SSH agent other was forwarded by the client \(use --ssh other\)/);
    const agent = await forwardAgent(session, 'default');
    try {
      const conn = net.connect(agent.socketPath);
      conn.write('request-identities');
      const answer = await new Promise<string>((resolve) => conn.once('data', (d: Buffer) => resolve(d.toString())));
      assert.equal(answer, 'REQUEST-IDENTITIES');
      conn.end();
    } finally {
      await agent.close();
    }
  });
});
