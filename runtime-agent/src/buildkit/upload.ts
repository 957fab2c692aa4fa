// A context the CLI uploads (`docker build - < context.tar`): buildx names it
// `http://buildkit-session/<id>` and streams the tar through its session's Upload.Pull.
import { Readable } from 'node:stream';

import { Code, GrpcError } from './grpc/status.js';
import { method } from './protos.js';
import type { Session } from './sessions.js';

const UPLOAD_PULL = '/moby.upload.v1.Upload/Pull';
const SESSION_URL = /^http:\/\/buildkit-session(\/.*)$/;

export function isSessionUpload(url: string): boolean {
  return SESSION_URL.test(url);
}

/** The uploaded bytes as a stream; the transfer starts when it is read. */
export function uploadStream(session: Session, url: string, signal: AbortSignal): Readable {
  const path = SESSION_URL.exec(url)?.[1];
  if (!path) throw new GrpcError(Code.INVALID_ARGUMENT, `not an upload of the session: ${url}`);
  if (!session.methods.has(UPLOAD_PULL)) throw new GrpcError(Code.FAILED_PRECONDITION, `the client's session does not offer ${UPLOAD_PULL}`);
  const call = session.client.call(method('moby.upload.v1.Upload', 'Pull'), { urlpath: path, urlhost: 'buildkit-session' }, signal);
  call.end();
  return Readable.from(
    (async function* () {
      for await (const message of call.messages()) yield Buffer.from(message.data as Uint8Array);
    })(),
  );
}
