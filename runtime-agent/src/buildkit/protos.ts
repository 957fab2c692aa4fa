// BuildKit's protobuf definitions (proto/, BuildKit's own .proto files), parsed on first use: an
// engine that never sees a BuildKit client does not pay for them.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import protobuf from 'protobufjs';

const ENTRY_POINTS = [
  'github.com/moby/buildkit/api/services/control/control.proto',
  'github.com/moby/buildkit/frontend/gateway/pb/gateway.proto',
  'github.com/moby/buildkit/session/filesync/filesync.proto',
  'github.com/moby/buildkit/session/auth/auth.proto',
  'github.com/moby/buildkit/session/secrets/secrets.proto',
  'github.com/moby/buildkit/session/sshforward/ssh.proto',
  'github.com/moby/buildkit/session/upload/upload.proto',
  'github.com/tonistiigi/fsutil/types/wire.proto',
  'github.com/containerd/containerd/api/services/content/v1/content.proto',
];

/** proto/ beside this module (source, bundle) or in the package's src/ (compiled into dist/). */
function protoDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, 'proto'), path.resolve(here, '../../src/buildkit/proto')];
  const found = candidates.find((dir) => existsSync(path.join(dir, ENTRY_POINTS[0]!)));
  if (!found) throw new Error(`BuildKit's .proto files are missing (looked in ${candidates.join(', ')})`);
  return found;
}

let root: protobuf.Root | undefined;

export function buildkitProtos(): protobuf.Root {
  if (root) return root;
  const dir = protoDir();
  const loaded = new protobuf.Root();
  // Imports name paths from the root of Go's module tree. protobufjs has the common
  // google/protobuf types built in (any, timestamp); descriptor.proto (for gogoproto's options) is in proto/.
  loaded.resolvePath = (origin, target) => {
    if (path.isAbsolute(target)) return target;
    // fsutil's wire.proto imports its sibling as "stat.proto".
    const sibling = origin ? path.join(path.dirname(origin), target) : '';
    if (sibling && existsSync(sibling)) return sibling;
    const local = path.join(dir, target);
    return target.startsWith('google/protobuf/') && !existsSync(local) ? target : local;
  };
  loaded.loadSync(ENTRY_POINTS.map((p) => path.join(dir, p)), { keepCase: false });
  loaded.resolveAll();
  root = loaded;
  return root;
}

export function service(name: string): protobuf.Service {
  return buildkitProtos().lookupService(name);
}

export function messageType(name: string): protobuf.Type {
  return buildkitProtos().lookupType(name);
}

export function method(serviceName: string, methodName: string): protobuf.Method {
  const found = service(serviceName).methods[methodName];
  if (!found) throw new Error(`${serviceName} has no method ${methodName}`);
  return found;
}
