// API versions this engine speaks, and the parsing of the `/v1.NN/` path prefix.
import { InvalidParameterError } from '../util/errors.js';

export const API_VERSION = '1.43';
export const MIN_API_VERSION = '1.24';

export function compareVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split('.').map(Number);
  const [bMajor = 0, bMinor = 0] = b.split('.').map(Number);
  return aMajor - bMajor || aMinor - bMinor;
}

/** Splits `/v1.41/images/json` into the version and the route path. */
export function splitVersion(pathname: string): { version: string; path: string } {
  const match = /^\/v([0-9]+\.[0-9]+)(\/.*)$/.exec(pathname);
  if (!match) return { version: API_VERSION, path: pathname };
  const version = match[1] ?? API_VERSION;
  if (compareVersions(version, API_VERSION) > 0) {
    throw new InvalidParameterError(`client version ${version} is too new. Maximum supported API version is ${API_VERSION}`);
  }
  if (compareVersions(version, MIN_API_VERSION) < 0) {
    throw new InvalidParameterError(`client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
  }
  return { version, path: match[2] ?? '/' };
}
