import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import fc from 'fast-check';

import { InvalidParameterError } from './errors.js';
import { Shapes, checkShape } from './json-shapes.js';

describe('JSON body shapes', () => {
  it('accepts what the docker CLI sends, nulls anywhere and unknown fields', () => {
    checkShape(
      {
        Image: 'busybox',
        Cmd: 'sh',
        Entrypoint: ['/bin/sh', '-c'],
        Env: null,
        ExposedPorts: { '80/tcp': {} },
        Labels: { a: 'b' },
        StopTimeout: null,
        Future: { anything: [1, 'x'] },
        HostConfig: { Memory: 6 * 1024 * 1024, MemorySwappiness: null, CapAdd: 'NET_ADMIN', PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] }, ConsoleSize: [24, 80], Mounts: [{ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1024, Mode: 0o1777 } }] },
        NetworkingConfig: { EndpointsConfig: { bridge: null, other: { Aliases: ['a'], IPAMConfig: { IPv4Address: '10.0.0.2' } } } },
      },
      Shapes.containerCreate,
    );
  });

  it('names the field and the types as dockerd does', () => {
    assert.throws(() => checkShape({ HostConfig: { Memory: '1g' } }, Shapes.containerCreate), /^InvalidParameterError: json: cannot unmarshal string into Go struct field HostConfig\.Memory of type int64$/);
    assert.throws(() => checkShape({ Env: ['A=1', 2] }, Shapes.containerCreate), /cannot unmarshal number into Go struct field Env of type string/);
    assert.throws(() => checkShape({ HostConfig: { CpuShares: 1.5 } }, Shapes.containerCreate), /cannot unmarshal number 1\.5 into Go struct field HostConfig\.CpuShares of type int64/);
    assert.throws(() => checkShape({ HostConfig: { BlkioWeight: -1 } }, Shapes.containerCreate), /number -1 into .* of type uint16/);
    assert.throws(() => checkShape({ ExposedPorts: { '80/tcp': 'yes' } }, Shapes.containerCreate), /of type struct \{\}/);
    assert.throws(() => checkShape([], Shapes.volumeCreate), /cannot unmarshal array into Go value of type volume\.CreateOptions/);
  });

  it('throws nothing but its own 400 for any JSON value, at any depth', () => {
    const shapes = Object.values(Shapes);
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.constantFrom(...shapes), (value, shape) => {
        try {
          checkShape(value, shape);
        } catch (err) {
          assert.ok(err instanceof InvalidParameterError, String(err));
        }
      }),
      { numRuns: Number(process.env.BERTH_FUZZ_RUNS) || 2000 },
    );
    // Values shaped like the API's own, with random leaves, reach the nested checks too.
    const leaf = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 }), fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }));
    fc.assert(
      fc.property(fc.record({ HostConfig: fc.record({ Memory: leaf, PortBindings: leaf, Mounts: fc.array(fc.record({ Type: leaf, TmpfsOptions: leaf }), { maxLength: 2 }), LogConfig: fc.record({ Config: leaf }) }), NetworkingConfig: fc.record({ EndpointsConfig: fc.dictionary(fc.string(), fc.record({ IPAMConfig: leaf, Aliases: leaf })) }) }), (value) => {
        try {
          checkShape(value, Shapes.containerCreate);
        } catch (err) {
          assert.ok(err instanceof InvalidParameterError, String(err));
        }
      }),
      { numRuns: Number(process.env.BERTH_FUZZ_RUNS) || 1000 },
    );
  });
});
