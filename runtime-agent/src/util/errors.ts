// Errors that carry the HTTP status dockerd would answer with. The API layer turns them into
// `{"message": ...}` bodies; anything else becomes a 500.
export class EngineError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** 400: the request itself is wrong (bad JSON, bad reference, bad parameter). */
export class InvalidParameterError extends EngineError {
  constructor(message: string) {
    super(400, message);
  }
}

/** 403 */
export class ForbiddenError extends EngineError {
  constructor(message: string) {
    super(403, message);
  }
}

/** 404: no such object. */
export class NotFoundError extends EngineError {
  constructor(message: string) {
    super(404, message);
  }
}

/** 409: the object is in a state that forbids the operation. */
export class ConflictError extends EngineError {
  constructor(message: string) {
    super(409, message);
  }
}

/** 500 with a message worth showing (e.g. a registry that answered nonsense). */
export class SystemError extends EngineError {
  constructor(message: string) {
    super(500, message);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function isErrnoException(err: unknown, code?: string): err is NodeJS.ErrnoException {
  return err instanceof Error && 'code' in err && (code === undefined || (err as NodeJS.ErrnoException).code === code);
}

/** 503: what the engine cannot do in its present state (swarm endpoints on a node in no swarm). */
export class UnavailableError extends EngineError {
  constructor(message: string) {
    super(503, message);
  }
}
