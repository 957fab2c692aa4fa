// What a route handler gets: the parsed request, body readers with limits, and response writers
// that speak dockerd's conventions (JSON errors, lazily-committed JSON message streams).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

import { InvalidParameterError } from '../util/errors.js';
import { checkShape, type Shape } from '../util/json-shapes.js';
import { ProgressReporter, type JsonMessage } from '../vocabulary/progress.js';

/** Bodies of plain JSON requests (create, auth, tag...) are small; refuse anything bigger. */
export const MAX_JSON_BODY = 8 * 1024 * 1024;

/**
 * After refusing a body as too large, how much more of it is read and dropped so that a client
 * still sending it gets the answer rather than a reset; past this the connection is closed.
 */
const MAX_DISCARD = 256 * 1024 * 1024;

export class RequestContext {
  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly params: string[],
    readonly query: URLSearchParams,
    readonly apiVersion: string,
    /** Set when the client asked to upgrade the connection (attach, exec start): the raw socket. */
    readonly upgrade?: { socket: Duplex; head: Buffer; body?: Buffer },
  ) {}

  /**
   * Takes over the connection for a raw stream (attach): `101 UPGRADED` when the client asked for
   * an upgrade, else a plain 200 whose body is the stream, as dockerd answers both.
   */
  hijack(contentType: string): Duplex | ServerResponse {
    if (this.upgrade) {
      const { socket, head } = this.upgrade;
      socket.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
      if (head.length) socket.unshift(head);
      return socket;
    }
    this.res.writeHead(200, { 'Content-Type': contentType });
    this.res.flushHeaders();
    return this.res;
  }

  /**
   * Answers `101 Switching Protocols` to an `Upgrade: <protocol>` request (h2c for BuildKit's
   * /grpc and /session, as dockerd does) and hands over the raw connection.
   */
  switchProtocols(protocol: string): Duplex {
    const asked = this.header('upgrade');
    if (!this.upgrade || !asked) throw new InvalidParameterError('no upgrade proto in request');
    if (asked.toLowerCase() !== protocol) throw new InvalidParameterError(`protocol ${asked} not supported`);
    const { socket, head } = this.upgrade;
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${protocol}\r\n\r\n`);
    if (head.length) socket.unshift(head);
    return socket;
  }

  /** Every value of a repeated request header, as sent (Node joins them with ", " in `headers`). */
  headerValues(name: string): string[] {
    const lower = name.toLowerCase();
    const values: string[] = [];
    for (let i = 0; i + 1 < this.req.rawHeaders.length; i += 2) if (this.req.rawHeaders[i]!.toLowerCase() === lower) values.push(this.req.rawHeaders[i + 1]!);
    return values;
  }

  /** A request header's first value (Node joins or lists repeated ones). */
  header(name: string): string | undefined {
    const value = this.req.headers[name.toLowerCase()];
    return Array.isArray(value) ? value[0] : value;
  }

  /** A path parameter (URL-decoded by the router). */
  param(index = 0): string {
    return this.params[index] ?? '';
  }

  /** Boolean query flags as dockerd reads them: "1", "true", "True" are true; absent or "0"/"false" false. */
  flag(name: string): boolean {
    const value = this.query.get(name);
    if (value === null) return false;
    return !['', '0', 'false', 'False', 'FALSE', 'no'].includes(value);
  }

  /** The `h` and `w` query parameters of the resize endpoints. */
  terminalSize(): { height: number; width: number } {
    const height = Number(this.query.get('h'));
    const width = Number(this.query.get('w'));
    if (!Number.isInteger(height) || !Number.isInteger(width) || height < 0 || width < 0) throw new InvalidParameterError('invalid height or width');
    return { height, width };
  }

  /**
   * Reads and parses a JSON body; an empty body gives `undefined`. With a shape, the types of the
   * fields are checked as dockerd's decoder checks them (see json-shapes.ts).
   */
  async json<T>(shape?: Shape): Promise<T | undefined> {
    const type = this.req.headers['content-type'];
    if (type && !/^application\/json\b/i.test(type) && !/^text\/plain\b/i.test(type)) {
      throw new InvalidParameterError(`unsupported Content-Type header (${type}): must be 'application/json'`);
    }
    // An upgraded request's body was read off the socket by the server (see server.ts).
    const body = this.upgrade ? (this.upgrade.body ?? Buffer.alloc(0)) : await this.readBody();
    const text = body.toString('utf8').trim();
    if (text === '') return undefined;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new InvalidParameterError(`invalid JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (shape) checkShape(value, shape);
    return value as T;
  }

  /**
   * The request body, refused past MAX_JSON_BODY without holding more of it: a declared length
   * is refused before reading, a chunked body as soon as it passes the limit. The rest of the
   * body is then read and dropped (not destroyed with the socket, which would keep the 400 from
   * reaching a client that is still writing), up to MAX_DISCARD.
   */
  private readBody(): Promise<Buffer> {
    const tooLarge = () => new InvalidParameterError(`request body is too large (more than ${MAX_JSON_BODY} bytes)`);
    const req = this.req;
    const discardRest = () => {
      let dropped = 0;
      req.on('data', (chunk: Buffer) => {
        dropped += chunk.length;
        if (dropped > MAX_DISCARD) req.socket.destroy();
      });
      req.resume();
    };
    if (Number(req.headers['content-length']) > MAX_JSON_BODY) {
      discardRest();
      return Promise.reject(tooLarge());
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const cleanup = () => {
        req.off('data', onData);
        req.off('end', onEnd);
        req.off('error', onError);
        req.off('aborted', onAborted);
      };
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_JSON_BODY) {
          cleanup();
          chunks.length = 0;
          discardRest();
          reject(tooLarge());
          return;
        }
        chunks.push(chunk);
      };
      const onEnd = () => {
        cleanup();
        resolve(Buffer.concat(chunks));
      };
      const onError = (err: Error) => {
        cleanup();
        reject(err);
      };
      const onAborted = () => onError(new InvalidParameterError('the client closed the connection before sending the whole body'));
      req.on('data', onData);
      req.on('end', onEnd);
      req.on('error', onError);
      req.on('aborted', onAborted);
    });
  }

  /** Like json(), but an object is required. */
  async jsonObject<T extends object>(shape?: Shape): Promise<T> {
    const value = await this.json<unknown>();
    if (value === undefined) throw new InvalidParameterError('request body is empty: a JSON object is required');
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidParameterError('invalid JSON: expected an object');
    if (shape) checkShape(value, shape);
    return value as T;
  }

  send(status: number, body: unknown): void {
    const text = JSON.stringify(body) + '\n';
    this.res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    this.res.end(text);
  }

  noContent(status = 204): void {
    this.res.writeHead(status);
    this.res.end();
  }

  /**
   * A JSON message stream (pull, push, load). Nothing is sent until the first message, so an
   * error raised before any progress still becomes a proper HTTP error status, as in dockerd.
   */
  messageStream(): MessageStream {
    return new MessageStream(this.res);
  }
}

export class MessageStream {
  private started = false;
  readonly reporter: ProgressReporter;

  constructor(private readonly res: ServerResponse) {
    this.reporter = new ProgressReporter((m) => this.write(m));
  }

  get hasStarted(): boolean {
    return this.started;
  }

  write(message: JsonMessage): void {
    if (this.res.destroyed) return;
    if (!this.started) {
      this.started = true;
      this.res.writeHead(200, { 'Content-Type': 'application/json' });
    }
    this.res.write(JSON.stringify(message) + '\r\n');
  }

  end(): void {
    if (!this.started) {
      this.started = true;
      this.res.writeHead(200, { 'Content-Type': 'application/json' });
    }
    this.res.end();
  }
}
