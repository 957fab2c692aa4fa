// A gRPC server on one HTTP/2 connection that arrives already open (the hijacked `POST /grpc`,
// prior-knowledge h2c): services are registered by their protobufjs reflection, each method gets a
// call object whose messages are decoded and encoded with the method's types.
import type http2 from 'node:http2';
import type { Duplex } from 'node:stream';

import type protobuf from 'protobufjs';

import { log } from '../../util/log.js';
import { loadHttp2 } from '../../util/lazy-builtin.js';
import { CONNECTION_WINDOW, readMessages, STREAM_WINDOW, writeMessage } from './framing.js';
import { metadataFromRaw, type Metadata } from './metadata.js';
import { Code, encodeGrpcMessage, GrpcError, statusOf } from './status.js';

// Decoded messages are plain objects with protobufjs' camelCase field names.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Message = Record<string, any>;

export interface ServerCall {
  readonly method: string;
  readonly metadata: Metadata;
  /** Aborted when the client cancels the call or the connection goes. */
  readonly signal: AbortSignal;
  /** The client's messages, decoded; a unary method reads one. A reader may stop at any point. */
  messages(): AsyncGenerator<Message>;
  /** The first (for a unary or server-streaming method, the only) message. */
  request(): Promise<Message>;
  /** Sends a response message; resolves when the stream can take more. */
  send(message: Message): Promise<void>;
}

/** Returns the response of a unary method, or nothing after streaming with send(). */
export type Handler = (call: ServerCall) => Promise<Message | void>;

export const codec = {
  decode(type: protobuf.Type, bytes: Uint8Array): Message {
    try {
      return type.toObject(type.decode(bytes), { longs: Number, defaults: true, arrays: true, objects: true });
    } catch (err) {
      throw new GrpcError(Code.INVALID_ARGUMENT, `malformed ${type.name} message: ${err instanceof Error ? err.message : String(err)}`);
    }
  },
  encode(type: protobuf.Type, message: Message): Uint8Array {
    return type.encode(type.fromObject(message)).finish();
  },
};

interface Registered {
  method: protobuf.Method;
  handler: Handler;
}

export class GrpcServer {
  private readonly methods = new Map<string, Registered>();
  private readonly connections = new Set<http2.ServerHttp2Session>();

  /** Registers the handlers of a service; methods it lacks answer UNIMPLEMENTED. */
  addService(service: protobuf.Service, handlers: Record<string, Handler>): void {
    service.resolveAll();
    for (const [name, handler] of Object.entries(handlers)) {
      const method = service.methods[name];
      if (!method) throw new Error(`${service.fullName} has no method ${name}`);
      this.methods.set(`/${service.fullName.replace(/^\./, '')}/${name}`, { method, handler });
    }
  }

  /** Serves the connection until the client closes it. */
  serve(socket: Duplex): void {
    const server = loadHttp2().createServer({ maxSessionMemory: 64, settings: { initialWindowSize: STREAM_WINDOW } });
    server.on('session', (session) => {
      session.once('remoteSettings', () => session.setLocalWindowSize(CONNECTION_WINDOW));
      this.connections.add(session);
      session.on('close', () => this.connections.delete(session));
      session.on('error', (err) => log.debug('grpc connection error', { error: err.message }));
      session.on('frameError', (type, code, id) => log.debug('grpc frame error', { type, code, id }));
    });
    server.on('stream', (stream: http2.ServerHttp2Stream, _headers: http2.IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => void this.dispatch(stream, rawHeaders));
    // The engine's HTTP server keeps connections half-open: a client that goes away must end
    // this one, with the calls still running on it.
    socket.once('end', () => socket.destroy());
    server.emit('connection', socket);
  }

  /** Closes every connection (engine shutdown). */
  close(): void {
    for (const session of this.connections) session.destroy();
  }

  private async dispatch(stream: http2.ServerHttp2Stream, rawHeaders: string[]): Promise<void> {
    const path = pathOf(rawHeaders);
    const registered = this.methods.get(path);
    log.debug('grpc call', { path });
    stream.on('error', (err) => log.debug('grpc stream error', { path, error: err.message }));
    if (!registered) {
      respondStatus(stream, Code.UNIMPLEMENTED, `unknown method ${path}`);
      return;
    }
    const { method, handler } = registered;
    const requestType = method.resolvedRequestType!;
    const responseType = method.resolvedResponseType!;
    const controller = new AbortController();
    stream.once('close', () => controller.abort());
    let responded = false;
    const respond = () => {
      if (responded) return;
      responded = true;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    };
    let incoming: AsyncGenerator<Buffer> | undefined;
    const call: ServerCall = {
      method: path,
      metadata: metadataFromRaw(rawHeaders),
      signal: controller.signal,
      messages: async function* () {
        incoming ??= readMessages(stream);
        // next() rather than for-await: a message that fails to decode must not destroy the
        // stream on the way out, or the error could not be answered on it.
        for (let next = await incoming.next(); !next.done; next = await incoming.next()) yield codec.decode(requestType, next.value);
      },
      async request() {
        // next(), not a for-await with return: leaving that loop would destroy the stream (a
        // Readable's async iterator does so on return), and with it the response.
        const first = await call.messages().next();
        if (first.done) throw new GrpcError(Code.INVALID_ARGUMENT, `${path} needs a request message`);
        return first.value;
      },
      async send(message) {
        if (stream.destroyed || stream.closed) throw new GrpcError(Code.CANCELLED, 'the client went away');
        respond();
        await writeMessage(stream, codec.encode(responseType, message));
      },
    };
    try {
      const response = await handler(call);
      if (response) await call.send(response);
      finish(stream, responded, Code.OK, '');
    } catch (err) {
      const status = statusOf(err);
      if (status.code === Code.UNKNOWN && !(err instanceof GrpcError)) log.warn(`grpc ${path}: ${status.message}`);
      finish(stream, responded, status.code, status.message);
    }
  }
}

function pathOf(rawHeaders: string[]): string {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) if (rawHeaders[i] === ':path') return rawHeaders[i + 1]!;
  return '';
}

/** An answer with no messages: gRPC's trailers-only response. */
function respondStatus(stream: http2.ServerHttp2Stream, code: number, message: string): void {
  if (stream.destroyed || stream.closed) return;
  stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(message) }, { endStream: true });
}

function finish(stream: http2.ServerHttp2Stream, responded: boolean, code: number, message: string): void {
  if (stream.destroyed || stream.closed) return;
  if (!responded) {
    respondStatus(stream, code, message);
    return;
  }
  stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': String(code), ...(message ? { 'grpc-message': encodeGrpcMessage(message) } : {}) }));
  stream.end();
}
