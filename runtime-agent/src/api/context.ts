// What a route handler gets: the parsed request, body readers with limits, and response writers
// that speak dockerd's conventions (JSON errors, lazily-committed JSON message streams).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

import { InvalidParameterError } from '../util/errors.js';
import { ProgressReporter, type JsonMessage } from './progress-stream.js';

/** Bodies of plain JSON requests (create, auth, tag...) are small; refuse anything bigger. */
const MAX_JSON_BODY = 8 * 1024 * 1024;

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

  /** Reads and parses a JSON body; an empty body gives `undefined`. */
  async json<T>(): Promise<T | undefined> {
    const type = this.req.headers['content-type'];
    if (type && !/^application\/json\b/i.test(type) && !/^text\/plain\b/i.test(type)) {
      throw new InvalidParameterError(`unsupported Content-Type header (${type}): must be 'application/json'`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    // An upgraded request's body was read off the socket by the server (see server.ts).
    const source: Iterable<Buffer> | AsyncIterable<Buffer> = this.upgrade ? [this.upgrade.body ?? Buffer.alloc(0)] : (this.req as AsyncIterable<Buffer>);
    for await (const chunk of source) {
      size += chunk.length;
      if (size > MAX_JSON_BODY) {
        this.req.destroy();
        throw new InvalidParameterError(`request body is too large (more than ${MAX_JSON_BODY} bytes)`);
      }
      chunks.push(chunk);
    }
    const text = Buffer.concat(chunks).toString('utf8').trim();
    if (text === '') return undefined;
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new InvalidParameterError(`invalid JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Like json(), but an object is required. */
  async jsonObject<T extends object>(): Promise<T> {
    const value = await this.json<unknown>();
    if (value === undefined) throw new InvalidParameterError('request body is empty: a JSON object is required');
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidParameterError('invalid JSON: expected an object');
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
