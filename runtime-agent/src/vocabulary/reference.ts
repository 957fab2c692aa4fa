// Image references, parsed and normalized the way dockerd does it:
// `busybox` is `docker.io/library/busybox:latest`; `127.0.0.1:5000/x@sha256:...` keeps its registry.
import { InvalidParameterError } from '../util/errors.js';

export const DEFAULT_DOMAIN = 'docker.io';
export const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
export const OFFICIAL_REPO_PREFIX = 'library/';
export const DEFAULT_TAG = 'latest';

const ALPHANUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALPHANUM}(?:${SEPARATOR}${ALPHANUM})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const REFERENCE_RE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const TAG_RE = new RegExp(`^${TAG}$`);
const HEX_ID_RE = /^[a-f0-9]{64}$/;
const NAME_TOTAL_LENGTH_MAX = 255;

export interface Reference {
  /** Registry host, e.g. `docker.io` or `127.0.0.1:5000`. */
  readonly domain: string;
  /** Repository path inside the registry, e.g. `library/busybox`. */
  readonly path: string;
  readonly tag?: string;
  readonly digest?: string;
}

export class ReferenceFormatError extends InvalidParameterError {}

/** `docker.io/library/busybox` */
export function fullName(ref: Pick<Reference, 'domain' | 'path'>): string {
  return `${ref.domain}/${ref.path}`;
}

/** The name the CLI shows: `busybox`, `user/app`, `127.0.0.1:5000/x`. */
export function familiarName(ref: Pick<Reference, 'domain' | 'path'>): string {
  if (ref.domain !== DEFAULT_DOMAIN) return fullName(ref);
  return ref.path.startsWith(OFFICIAL_REPO_PREFIX) && ref.path.indexOf('/', OFFICIAL_REPO_PREFIX.length) === -1
    ? ref.path.slice(OFFICIAL_REPO_PREFIX.length)
    : ref.path;
}

/** `docker.io/library/busybox:latest` or `...@sha256:...` (a digest wins over a tag, as in dockerd). */
export function referenceString(ref: Reference): string {
  if (ref.digest) return `${fullName(ref)}@${ref.digest}`;
  return `${fullName(ref)}:${ref.tag ?? DEFAULT_TAG}`;
}

/** `busybox:latest`, `127.0.0.1:5000/x@sha256:...` */
export function familiarString(ref: Reference): string {
  if (ref.digest) return `${familiarName(ref)}@${ref.digest}`;
  return `${familiarName(ref)}:${ref.tag ?? DEFAULT_TAG}`;
}

function splitDomain(name: string): { domain: string; path: string } {
  const slash = name.indexOf('/');
  let domain = DEFAULT_DOMAIN;
  let path = name;
  if (slash !== -1) {
    const first = name.slice(0, slash);
    if (/[.:]/.test(first) || first === 'localhost') {
      domain = first;
      path = name.slice(slash + 1);
    }
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = OFFICIAL_REPO_PREFIX + path;
  return { domain, path };
}

/**
 * Parses a reference as a user types it. Neither a tag nor a digest is added: callers decide
 * whether `latest` applies (pull does, `images --filter reference` does not).
 */
export function parseReference(input: string): Reference {
  if (input.length === 0) throw new ReferenceFormatError('invalid reference format');
  const match = REFERENCE_RE.exec(input);
  if (!match) {
    const lowered = REFERENCE_RE.exec(input.toLowerCase());
    if (lowered) throw new ReferenceFormatError('invalid reference format: repository name must be lowercase');
    throw new ReferenceFormatError('invalid reference format');
  }
  const [, name = '', tag, digest] = match;
  if (name.length > NAME_TOTAL_LENGTH_MAX) {
    throw new ReferenceFormatError(`invalid reference format: repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }
  if (HEX_ID_RE.test(name)) {
    throw new ReferenceFormatError(`invalid repository name (${name}), cannot specify 64-byte hexadecimal strings`);
  }
  const { domain, path } = splitDomain(name);
  if (path.toLowerCase() !== path) throw new ReferenceFormatError('invalid reference format: repository name must be lowercase');
  if (digest && !/^sha256:[a-f0-9]{64}$/.test(digest)) throw new ReferenceFormatError('invalid reference format');
  return { domain, path, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** Parses and applies the default tag when neither tag nor digest is given (`docker pull busybox`). */
export function parseNormalizedNamed(input: string): Reference {
  const ref = parseReference(input);
  return ref.tag || ref.digest ? ref : { ...ref, tag: DEFAULT_TAG };
}

/** A repository name alone (push target, pull `-a`), rejecting a digest. */
export function parseRepositoryName(input: string): Reference {
  const ref = parseReference(input);
  return { domain: ref.domain, path: ref.path, ...(ref.tag ? { tag: ref.tag } : {}) };
}

export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/** Combines the `fromImage` and `tag` query parameters of `POST /images/create` (tag may be a digest). */
export function withTagOrDigest(ref: Reference, tagOrDigest: string | undefined): Reference {
  if (!tagOrDigest) return ref;
  if (tagOrDigest.includes(':') && /^[A-Za-z][A-Za-z0-9]*:/.test(tagOrDigest)) {
    if (!/^sha256:[a-f0-9]{64}$/.test(tagOrDigest)) throw new ReferenceFormatError('invalid reference format');
    return { domain: ref.domain, path: ref.path, digest: tagOrDigest };
  }
  if (!isValidTag(tagOrDigest)) throw new ReferenceFormatError('invalid reference format');
  return { domain: ref.domain, path: ref.path, tag: tagOrDigest };
}

