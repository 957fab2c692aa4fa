// The cache's own JSON and the --cache-to / --cache-from options, checked before anything is
// fetched or built: what is malformed or unsupported is refused with what was wrong.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Code, GrpcError } from '../grpc/status.js';
import { checkCacheConfig, checkInlineCache } from './cache-format.js';
import { checkCacheExport, checkCacheImport } from './options.js';

const D = (c: string) => `sha256:${c.repeat(64)}`;

function refused(fn: () => unknown, message: RegExp, code?: number): void {
  assert.throws(fn, (err: unknown) => err instanceof GrpcError && message.test(err.message) && (code === undefined || err.code === code));
}

describe('remote cache format', () => {
  const good = { schemaVersion: 0, records: [{ id: D('a'), parent: D('b'), buildCache: 'run:x' }], layers: [{ diffId: D('c'), digest: D('c'), mediaType: 'application/vnd.oci.image.layer.v1.tar', size: 10 }] };

  it('takes a well-formed cache config', () => {
    assert.deepEqual(checkCacheConfig(good), good);
  });

  it('refuses malformed records and layers by what is wrong', () => {
    refused(() => checkCacheConfig({ ...good, schemaVersion: 1 }), /schemaVersion 1 is not 0/);
    refused(() => checkCacheConfig({ ...good, records: [{ id: 'sha256:../../x', buildCache: 'k' }] }), /record 0 has no image ID/);
    refused(() => checkCacheConfig({ ...good, records: [{ id: D('a'), buildCache: '' }] }), /record 0 has no cache key/);
    refused(() => checkCacheConfig({ ...good, records: [good.records[0], good.records[0]] }), /listed twice/);
    refused(() => checkCacheConfig({ ...good, layers: [{ ...good.layers[0], mediaType: 'text/html' }] }), /not a layer's/);
    refused(() => checkCacheConfig({ ...good, layers: [{ ...good.layers[0], size: -1 }] }), /layer 0 has no size/);
    refused(() => checkCacheConfig([]), /not an object/);
    refused(() => checkInlineCache({ schemaVersion: 0, records: [{ id: D('a'), buildCache: 'k', config: '%%%' }] }), /no base64 config/);
  });
});

describe('--cache-to / --cache-from options', () => {
  it('takes what berthd honours', () => {
    checkCacheExport({ type: 'local', attrs: { dest: '/tmp/c', mode: 'max' } });
    checkCacheExport({ type: 'inline', attrs: {} });
    checkCacheImport({ type: 'local', attrs: { src: '/tmp/c', digest: D('a') } });
    checkCacheImport({ type: 'registry', attrs: { ref: 'localhost:5000/app:cache' } });
  });

  it('refuses other types and options by name', () => {
    refused(() => checkCacheExport({ type: 'gha', attrs: {} }), /--cache-to type=gha is not supported by berthd \(it has type=local and type=inline\)/, Code.UNIMPLEMENTED);
    refused(() => checkCacheExport({ type: 's3', attrs: {} }), /--cache-to type=s3 is not supported/);
    refused(() => checkCacheExport({ type: 'registry', attrs: { ref: 'x' } }), /--cache-to type=registry is not supported/);
    refused(() => checkCacheExport({ type: 'local', attrs: { dest: '/tmp/c', compression: 'zstd' } }), /option compression="zstd" is not supported/, Code.INVALID_ARGUMENT);
    refused(() => checkCacheExport({ type: 'local', attrs: { mode: 'max' } }), /type=local needs dest=/);
    refused(() => checkCacheExport({ type: 'inline', attrs: { mode: 'max' } }), /option mode="max"/);
    refused(() => checkCacheImport({ type: 'gha', attrs: {} }), /--cache-from type=gha is not supported by berthd \(it has type=local and type=registry\)/);
    refused(() => checkCacheImport({ type: 'local', attrs: { src: '/tmp/c' } }), /named no manifest digest/);
    refused(() => checkCacheImport({ type: 'registry', attrs: { ref: 'x', 'registry.insecure': 'true' } }), /option registry.insecure="true"/);
  });
});
