// `ls -l` style modes for the volume browser: the type letter, then rwx for owner, group, other,
// with setuid, setgid and sticky shown where ls shows them. No imports: the test checks it directly.

export type EntryType = 'file' | 'directory' | 'symlink' | 'other';

const TYPE_LETTER: Record<EntryType, string> = { file: '-', directory: 'd', symlink: 'l', other: '?' };

export function formatMode(type: EntryType, mode: number): string {
  const triplet = (bits: number, special: boolean, letter: string) => {
    const x = bits & 1;
    const exec = special ? (x ? letter : letter.toUpperCase()) : x ? 'x' : '-';
    return `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${exec}`;
  };
  return (
    TYPE_LETTER[type] +
    triplet((mode >> 6) & 7, (mode & 0o4000) !== 0, 's') +
    triplet((mode >> 3) & 7, (mode & 0o2000) !== 0, 's') +
    triplet(mode & 7, (mode & 0o1000) !== 0, 't')
  );
}
