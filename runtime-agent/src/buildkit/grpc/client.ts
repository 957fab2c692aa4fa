// A gRPC client on one HTTP/2 connection that is already open: the hijacked `POST /session`, on
// which the CLI serves its session services (files, credentials, secrets) and the engine asks.
import type http2 from 'node:http2';
import type { Duplex } from 'node:stream';

import type protobuf from 'protobufjs';

import { loadHttp2 } from '../../util/lazy-builtin.js';
import { CONNECTION_WINDOW, readMessages, STREAM_WINDOW, writeMessage } from './framing.js';
import { codec, type Message } from './server.js';
import { Code, decodeGrpcMessage, GrpcError, type CodeValue } from './status.js';

/** A method to call: its path and the types of its messages. */
export interface MethodSpec {
  path: string;
  requestType: protobuf.Type;
  responseType: protobuf.Type;
}

/** The spec of a method as its .proto declares it. */
export function methodSpec(method: protobuf.Method): MethodSpec {
  const service = method.parent as protobuf.Service;
  method.resolve();
  return { path: `/${service.fullName.replace(/^\./, '')}/${method.name}`, requestType: method.resolvedRequestType!, responseType: method.resolvedResponseType! };
}

function isSpec(method: protobuf.Method | MethodSpec): method is MethodSpec {
  return typeof (method as MethodSpec).requestType === 'object';
}

export interface ClientCall {
  send(message: Message): Promise<void>;
  /** Half-closes: the server sees the end of the requests. */
  end(): void;
  /** The server's messages; throws a GrpcError when the call ends with a status other than OK. */
  messages(): AsyncGenerator<Message>;
  cancel(): void;
}

export class GrpcClient {
  private readonly session: http2.ClientHttp2Session;

  constructor(socket: Duplex) {
    this.session = loadHttp2().connect('http://session', { createConnection: () => socket as never, maxSessionMemory: 64, settings: { initialWindowSize: STREAM_WINDOW } });
    this.session.on('error', () => undefined);
    this.session.once('connect', () => this.session.setLocalWindowSize(CONNECTION_WINDOW));
  }

  get closed(): boolean {
    return this.session.closed || this.session.destroyed;
  }

  onClose(listener: () => void): void {
    this.session.once('close', listener);
  }

  close(): void {
    this.session.destroy();
  }

  /**
   * Opens a call of `method` (any kind; unary is call + send + end + the one message). A spec
   * can name other message types than the .proto: BuildKit sends fsutil packets over FileSend.
   */
  call(method: protobuf.Method | MethodSpec, metadata: Record<string, string | string[]> = {}, signal?: AbortSignal): ClientCall {
    const { path, requestType, responseType } = isSpec(method) ? method : methodSpec(method);
    if (this.closed) throw new GrpcError(Code.UNAVAILABLE, 'the session is closed');
    const stream = this.session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...metadata });
    stream.on('error', () => undefined);
    const abort = () => stream.close(loadHttp2().constants.NGHTTP2_CANCEL);
    if (signal?.aborted) abort();
    else signal?.addEventListener('abort', abort, { once: true });
    stream.once('close', () => signal?.removeEventListener('abort', abort));
    let status: { code: CodeValue; message: string } | undefined;
    const statusFrom = (headers: http2.IncomingHttpHeaders) => {
      if (headers['grpc-status'] === undefined) return;
      status = { code: Number(headers['grpc-status']) as CodeValue, message: decodeGrpcMessage(String(headers['grpc-message'] ?? '')) };
    };
    stream.on('response', statusFrom);
    stream.on('trailers', statusFrom);
    return {
      async send(message) {
        if (stream.destroyed || stream.closed) throw new GrpcError(Code.UNAVAILABLE, `${path}: the stream is closed`);
        await writeMessage(stream, codec.encode(requestType, message));
      },
      end() {
        if (!stream.destroyed) stream.end();
      },
      cancel: abort,
      async *messages() {
        try {
          for await (const bytes of readMessages(stream)) yield codec.decode(responseType, bytes);
        } catch (err) {
          if (err instanceof GrpcError) throw err;
          if (!status) throw new GrpcError(Code.UNAVAILABLE, `${path}: ${err instanceof Error ? err.message : String(err)}`);
        } finally {
          // A reader that stops early (an error, a break) ends the call on both sides.
          if (!status) abort();
        }
        if (!status) {
          if (signal?.aborted) throw new GrpcError(Code.CANCELLED, `${path}: cancelled`);
          throw new GrpcError(Code.UNAVAILABLE, `${path}: the stream ended without a status`);
        }
        if (status.code !== Code.OK) throw new GrpcError(status.code, status.message);
      },
    };
  }

  async unary(method: protobuf.Method | MethodSpec, request: Message, metadata: Record<string, string | string[]> = {}, signal?: AbortSignal): Promise<Message> {
    const call = this.call(method, metadata, signal);
    await call.send(request);
    call.end();
    let response: Message | undefined;
    for await (const message of call.messages()) response ??= message;
    if (!response) throw new GrpcError(Code.INTERNAL, `${isSpec(method) ? method.path : method.name}: no response message`);
    return response;
  }
}
