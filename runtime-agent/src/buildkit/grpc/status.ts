// gRPC status codes (grpc/grpc doc/statuscodes.md) and the error that carries one to the peer.
import { EngineError } from '../../util/errors.js';

export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type CodeValue = (typeof Code)[keyof typeof Code];

export class GrpcError extends Error {
  constructor(
    readonly code: CodeValue,
    message: string,
  ) {
    super(message);
    this.name = 'GrpcError';
  }
}

/** The status an error leaves the engine with: the engine's own errors keep their meaning. */
export function statusOf(err: unknown): { code: CodeValue; message: string } {
  if (err instanceof GrpcError) return { code: err.code, message: err.message };
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof EngineError) {
    const byHttp: Record<number, CodeValue> = { 400: Code.INVALID_ARGUMENT, 401: Code.UNAUTHENTICATED, 403: Code.PERMISSION_DENIED, 404: Code.NOT_FOUND, 409: Code.FAILED_PRECONDITION, 501: Code.UNIMPLEMENTED };
    return { code: byHttp[err.statusCode] ?? Code.UNKNOWN, message };
  }
  return { code: Code.UNKNOWN, message };
}

/** grpc-message is percent-encoded (everything outside printable ASCII, and '%'). */
export function encodeGrpcMessage(message: string): string {
  return Array.from(Buffer.from(message, 'utf8'))
    .map((b) => (b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('');
}

export function decodeGrpcMessage(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
