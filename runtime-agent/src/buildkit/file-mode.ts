// fsutil sends Go's os.FileMode on the wire: permissions in the low bits, the file's type as
// flags in the high ones (not the S_IFMT bits of a Unix mode).
export const GoMode = {
  DIR: 1 << 31,
  SYMLINK: 1 << 27,
  DEVICE: 1 << 26,
  NAMED_PIPE: 1 << 25,
  SOCKET: 1 << 24,
  SETUID: 1 << 23,
  SETGID: 1 << 22,
  CHAR_DEVICE: 1 << 21,
  STICKY: 1 << 20,
  IRREGULAR: 1 << 19,
} as const;

const TYPE_BITS = GoMode.DIR | GoMode.SYMLINK | GoMode.DEVICE | GoMode.NAMED_PIPE | GoMode.SOCKET | GoMode.CHAR_DEVICE | GoMode.IRREGULAR;

export type FileKind = 'file' | 'dir' | 'symlink' | 'other';

export function kindOf(goMode: number): FileKind {
  const mode = goMode >>> 0;
  if (mode & GoMode.DIR) return 'dir';
  if (mode & GoMode.SYMLINK) return 'symlink';
  if ((mode & TYPE_BITS) === 0) return 'file';
  return 'other';
}

/** The permission bits with setuid, setgid and sticky, as chmod takes them. */
export function unixPermissions(goMode: number): number {
  const mode = goMode >>> 0;
  return (mode & 0o777) | (mode & GoMode.SETUID ? 0o4000 : 0) | (mode & GoMode.SETGID ? 0o2000 : 0) | (mode & GoMode.STICKY ? 0o1000 : 0);
}

/** A Unix st_mode as Go's FileMode, for sending files to the client. */
export function goModeOf(unixMode: number): number {
  const type = unixMode & 0o170000;
  let mode = unixMode & 0o777;
  if (type === 0o040000) mode |= GoMode.DIR;
  else if (type === 0o120000) mode |= GoMode.SYMLINK;
  if (unixMode & 0o4000) mode |= GoMode.SETUID;
  if (unixMode & 0o2000) mode |= GoMode.SETGID;
  if (unixMode & 0o1000) mode |= GoMode.STICKY;
  return mode >>> 0;
}
