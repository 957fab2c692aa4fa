// Errors from a registry, worded as dockerd words them so the CLI prints the same text.
import { EngineError } from '../util/errors.js';

export interface RegistryErrorEntry {
  code?: string;
  message?: string;
  detail?: unknown;
}

export class RegistryError extends EngineError {
  constructor(
    statusCode: number,
    message: string,
    readonly httpStatus: number,
    readonly codes: string[],
  ) {
    super(statusCode, message);
  }

  has(code: string): boolean {
    return this.codes.includes(code);
  }
}

/** "manifest unknown: manifest unknown", as distribution's errcode prints an error. */
export function describeRegistryErrors(body: string, httpStatus: number): { text: string; codes: string[] } {
  try {
    const parsed = JSON.parse(body) as { errors?: RegistryErrorEntry[] };
    if (Array.isArray(parsed.errors) && parsed.errors.length) {
      const texts = parsed.errors.map((e) => {
        const code = (e.code ?? 'unknown').toLowerCase().replace(/_/g, ' ');
        return e.message ? `${code}: ${e.message}` : code;
      });
      return { text: texts.length === 1 ? (texts[0] ?? '') : `errors:\n${texts.join('\n')}`, codes: parsed.errors.map((e) => e.code ?? '') };
    }
  } catch {
    // not JSON: fall through to the status line
  }
  const trimmed = body.trim().slice(0, 200);
  return { text: trimmed ? `unexpected status ${httpStatus}: ${trimmed}` : `unexpected status code ${httpStatus}`, codes: [] };
}

/** Maps a registry's HTTP status to the status the engine answers with. */
export function engineStatusFor(httpStatus: number): number {
  // Never 401: the CLI answers a 401 from the engine by prompting for credentials on a pull.
  if (httpStatus === 404) return 404;
  if (httpStatus === 400) return 400;
  return 500;
}
