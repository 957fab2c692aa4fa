// `-u name[:group]` to numeric IDs, from the container's own /etc/passwd and /etc/group.
import { promises as fs } from 'node:fs';
import path from 'node:path';

import type { OciUser } from '../oci/spec.js';
import { InvalidParameterError } from '../util/errors.js';

async function readTable(rootfs: string, file: string): Promise<string[][]> {
  try {
    // The file is read through the mounted rootfs, so a symlink in the image cannot point at the host's.
    const text = await fs.readFile(path.join(rootfs, file), 'utf8');
    return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
  } catch {
    return [];
  }
}

/** `groupAdd`: --group-add, names from the image's /etc/group or numeric IDs. */
export async function resolveUser(rootfs: string, spec: string | undefined, groupAdd: readonly string[] = []): Promise<OciUser> {
  const [userPart = '', groupPart] = (spec ?? '').split(':');
  const passwd = await readTable(rootfs, 'etc/passwd');
  const group = await readTable(rootfs, 'etc/group');
  let uid = 0;
  let gid = 0;
  let name = 'root';
  if (userPart !== '') {
    if (/^\d+$/.test(userPart)) {
      uid = Number(userPart);
      const entry = passwd.find((p) => Number(p[2]) === uid);
      gid = entry ? Number(entry[3]) : 0;
      name = entry?.[0] ?? '';
    } else {
      const entry = passwd.find((p) => p[0] === userPart);
      if (!entry) throw new InvalidParameterError(`unable to find user ${userPart}: no matching entries in passwd file`);
      uid = Number(entry[2]);
      gid = Number(entry[3]);
      name = userPart;
    }
  }
  if (groupPart !== undefined && groupPart !== '') {
    if (/^\d+$/.test(groupPart)) gid = Number(groupPart);
    else {
      const entry = group.find((g) => g[0] === groupPart);
      if (!entry) throw new InvalidParameterError(`unable to find group ${groupPart}: no matching entries in group file`);
      gid = Number(entry[2]);
    }
  }
  const memberOf = name ? group.filter((g) => (g[3] ?? '').split(',').includes(name)).map((g) => Number(g[2])) : [];
  const added = groupAdd.map((g) => {
    if (/^\d+$/.test(g)) return Number(g);
    const entry = group.find((e) => e[0] === g);
    if (!entry) throw new InvalidParameterError(`Unable to find group ${g}: no matching entries in group file`);
    return Number(entry[2]);
  });
  const additionalGids = [...new Set([...memberOf, ...added])].filter((g) => g !== gid);
  return { uid, gid, ...(additionalGids.length ? { additionalGids } : {}) };
}
