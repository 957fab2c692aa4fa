// Variable substitution in Dockerfile instructions that allow it (FROM, ENV, ARG, LABEL, COPY, ADD,
// WORKDIR, USER, EXPOSE, VOLUME, STOPSIGNAL): $VAR, ${VAR}, ${VAR:-default}, ${VAR:+alternative},
// with quotes removed as the shell would, and nothing expanded inside single quotes.

export type Lookup = (name: string) => string | undefined;

export class SubstitutionError extends Error {}

/**
 * How deep `${A:-${B:-...}}` may nest. Each level rescans the rest of the word and recurses, so a
 * hostile Dockerfile with thousands of levels would cost quadratic time and then overflow the stack.
 */
const MAX_NESTING = 64;

/** A word as an error message shows it: long ones are cut, the message stays readable. */
function excerpt(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

/** One word: quotes removed, escapes resolved, variables expanded (kept as written without a lookup). */
export function expandWord(word: string, lookup: Lookup | undefined, escape = '\\', nesting = 0): string {
  if (nesting > MAX_NESTING) throw new SubstitutionError(`variable substitutions nested more than ${MAX_NESTING} deep in ${excerpt(word)}`);
  let out = '';
  let quote = '';
  for (let i = 0; i < word.length; i++) {
    const c = word[i]!;
    if (quote === "'") {
      if (c === "'") quote = '';
      else out += c;
      continue;
    }
    if (c === escape && i + 1 < word.length) {
      const next = word[i + 1]!;
      if (quote === '"' && next !== '"' && next !== escape && next !== '$') out += c;
      out += next;
      i++;
      continue;
    }
    if (c === '$' && lookup) {
      const [value, consumed] = expandVariable(word, i, lookup, escape, nesting);
      out += value;
      i += consumed - 1;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = '';
      else out += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      continue;
    }
    out += c;
  }
  return out;
}

/** The value of the variable reference starting at `start` ('$'), and how many characters it spans. */
function expandVariable(text: string, start: number, lookup: Lookup, escape: string, nesting: number): [string, number] {
  const rest = text.slice(start + 1);
  const simple = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
  if (simple) return [lookup(simple[0]) ?? '', 1 + simple[0].length];
  if (!rest.startsWith('{')) return ['$', 1];
  // ${...}: find the matching brace, allowing nested ${} in the word part.
  let depth = 0;
  let end = -1;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === escape) {
      i++;
      continue;
    }
    if (rest[i] === '{') depth++;
    else if (rest[i] === '}' && --depth === 0) {
      end = i;
      break;
    }
  }
  if (end === -1) throw new SubstitutionError(`missing '}' in ${excerpt(text)}`);
  const body = rest.slice(1, end);
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([\s\S]*))?$/.exec(body);
  if (!m) throw new SubstitutionError(`unsupported modifier in substitution: \${${excerpt(body)}}`);
  const value = lookup(m[1]!);
  let result: string;
  if (m[2] === '-') result = value ? value : expandWord(m[3] ?? '', lookup, escape, nesting + 1);
  else if (m[2] === '+') result = value ? expandWord(m[3] ?? '', lookup, escape, nesting + 1) : '';
  else result = value ?? '';
  return [result, 2 + end];
}

/** Names of the variables a text refers to (for "used before it is declared"). */
export function referencedVariables(text: string): string[] {
  return [...text.matchAll(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))/g)].map((m) => (m[1] ?? m[2])!);
}
