// Built-in modules that only some requests need, loaded on first use rather than when berthd starts:
// http2 (BuildKit's gRPC). Debian's Node compiles each built-in from source when it is first
// required, and in the guest under an emulated CPU http2 alone took 0.3-0.8 s of the boot.
import type http2 from 'node:http2';
import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

/** A getter that requires `node:NAME` the first time it is called. */
function lazyBuiltin<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= load(`node:${name}`) as T);
}

export const loadHttp2 = lazyBuiltin<typeof http2>('http2');
