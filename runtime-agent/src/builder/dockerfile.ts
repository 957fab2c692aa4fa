// The Dockerfile parser: parser directives, comments, line continuations, heredocs, JSON (exec)
// and shell forms, and --flags, into instructions that remember their line. Variable substitution
// happens later, per stage, when the values are known (build/variables.ts).
import { expandWord } from './variables.js';

/** A piece of hostile input as a message quotes it: a 10 MB "instruction" must not become a 10 MB error. */
function excerpt(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}...` : text;
}

export class DockerfileError extends Error {
  constructor(
    readonly line: number,
    /** What was wrong, without the line. */
    readonly detail: string,
  ) {
    super(line > 0 ? `Dockerfile parse error line ${line}: ${detail}` : detail);
  }
}

export interface Heredoc {
  name: string;
  content: string;
  /** <<"EOF" / <<'EOF': the content is taken literally, no variable expansion. */
  quoted: boolean;
}

export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY... */
  keyword: string;
  /** The argument text after the keyword and its flags, continuations joined. */
  rest: string;
  /** JSON array form (exec form) when the arguments are one. */
  json?: string[];
  /** Each flag's value; a flag given twice keeps the last (see flagValues). */
  flags: Record<string, string>;
  /** Every value of each flag, in order: RUN --mount and COPY --exclude may be given many times. */
  flagValues: Record<string, string[]>;
  heredocs: Heredoc[];
  /** The instruction as written (continuations joined), for `Step N/M : ...`. */
  original: string;
  line: number;
}

export interface ParsedDockerfile {
  instructions: Instruction[];
  escape: string;
  syntax?: string;
}

const KEYWORDS = new Set(['FROM', 'RUN', 'CMD', 'LABEL', 'MAINTAINER', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL']);

/** Flags each instruction accepts (anything else is dockerd's "Unknown flag"). */
const ALLOWED_FLAGS: Record<string, string[]> = {
  FROM: ['platform'],
  COPY: ['from', 'chown', 'chmod', 'link', 'parents', 'exclude'],
  ADD: ['chown', 'chmod', 'link', 'checksum', 'keep-git-dir', 'exclude'],
  RUN: ['mount', 'network', 'security'],
  HEALTHCHECK: ['interval', 'timeout', 'start-period', 'start-interval', 'retries'],
};

const HEREDOC_KEYWORDS = new Set(['RUN', 'COPY', 'ADD']);
const HEREDOC_RE = /<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)\2/g;

export function parseDockerfile(text: string): ParsedDockerfile {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  let escape = '\\';
  let syntax: string | undefined;
  let index = 0;

  // Parser directives: only at the very top, before any blank line, comment or instruction.
  const seen = new Set<string>();
  for (; index < lines.length; index++) {
    // The value is trimmed with trimEnd, not with `(.+?)\s*$`: that pattern backtracks
    // quadratically on a long run of spaces followed by a non-space (a hostile Dockerfile stalls
    // the event loop for minutes).
    const m = /^\s*#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*([\s\S]*)$/.exec(lines[index] ?? '');
    if (!m || m[2]!.trimEnd() === '') break;
    m[2] = m[2]!.trimEnd();
    const name = m[1]!.toLowerCase();
    if (name !== 'escape' && name !== 'syntax' && name !== 'check') break;
    if (seen.has(name)) throw new DockerfileError(index + 1, `only one ${name} parser directive can be used`);
    seen.add(name);
    if (name === 'escape') {
      if (m[2] !== '\\' && m[2] !== '`') throw new DockerfileError(index + 1, `invalid escape token '${excerpt(m[2]!)}' does not match ` + '` or \\');
      escape = m[2]!;
    } else if (name === 'syntax') {
      syntax = m[2];
    }
  }

  const instructions: Instruction[] = [];
  while (index < lines.length) {
    const raw = lines[index] ?? '';
    const startLine = index + 1;
    index++;
    if (/^\s*(#.*)?$/.test(raw)) continue;
    // Join continuation lines; comment and blank lines inside a continuation are dropped.
    // The pieces are kept apart and joined once: re-trimming the growing line for every
    // continuation is quadratic (200,000 continuation lines took two minutes). Only the newest
    // piece can end with the escape, since every piece is non-blank and a stripped piece never
    // ends with the escape character.
    const pieces = [raw];
    while (endsWithEscape(pieces[pieces.length - 1]!, escape)) {
      pieces[pieces.length - 1] = stripEscape(pieces[pieces.length - 1]!, escape);
      let next: string | undefined;
      while (index < lines.length) {
        const candidate = lines[index] ?? '';
        index++;
        if (/^\s*#/.test(candidate) || /^\s*$/.test(candidate)) continue;
        next = candidate;
        break;
      }
      if (next === undefined) break;
      pieces.push(next);
    }
    const joined = pieces.join('');
    const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(joined);
    if (!m) continue;
    const keyword = m[1]!.toUpperCase();
    if (!KEYWORDS.has(keyword)) throw new DockerfileError(startLine, `unknown instruction: ${excerpt(m[1]!)}`);
    let args = m[2]!.trimEnd();

    const heredocs: Heredoc[] = [];
    if (HEREDOC_KEYWORDS.has(keyword)) {
      for (const h of args.matchAll(HEREDOC_RE)) {
        const body: string[] = [];
        let closed = false;
        while (index < lines.length) {
          const line = lines[index] ?? '';
          index++;
          const compare = h[1] === '-' ? line.replace(/^\t+/, '') : line;
          if (compare === h[3]) {
            closed = true;
            break;
          }
          body.push(h[1] === '-' ? line.replace(/^\t+/, '') : line);
        }
        if (!closed) throw new DockerfileError(startLine, `unterminated heredoc ${excerpt(h[3]!)}`);
        heredocs.push({ name: h[3]!, content: body.join('\n') + '\n', quoted: Boolean(h[2]) });
      }
    }

    const flags: Record<string, string> = {};
    const flagValues: Record<string, string[]> = {};
    for (;;) {
      const flag = /^--([a-zA-Z][a-zA-Z0-9-]*)(?:=(\S*))?(?:\s+|$)/.exec(args);
      if (!flag) break;
      const name = flag[1]!;
      if (!(ALLOWED_FLAGS[keyword] ?? []).includes(name)) throw new DockerfileError(startLine, `Unknown flag: ${excerpt(name)}`);
      flags[name] = flag[2] ?? 'true';
      (flagValues[name] ??= []).push(flags[name]!);
      args = args.slice(flag[0].length);
    }
    const json = keywordTakesJson(keyword) ? parseJsonArray(args) : undefined;
    instructions.push({ keyword, rest: args, ...(json ? { json } : {}), flags, flagValues, heredocs, original: joined.trim(), line: startLine });
  }
  return { instructions, escape, ...(syntax ? { syntax } : {}) };
}

// trimEnd() strips what `\s` matches in linear time; `replace(/\s+$/, '')` is quadratic on a long
// run of whitespace that does not reach the end of the line.
function endsWithEscape(line: string, escape: string): boolean {
  const trimmed = line.trimEnd();
  return trimmed.endsWith(escape) && !trimmed.endsWith(escape + escape);
}

function stripEscape(line: string, escape: string): string {
  return line.trimEnd().slice(0, -escape.length);
}

function keywordTakesJson(keyword: string): boolean {
  return ['RUN', 'CMD', 'ENTRYPOINT', 'SHELL', 'VOLUME', 'COPY', 'ADD', 'HEALTHCHECK'].includes(keyword);
}

/** `["a", "b"]` -> ['a', 'b']; anything that is not a JSON array of strings -> undefined. */
export function parseJsonArray(text: string): string[] | undefined {
  const trimmed = text.trim();
  if (!trimmed.startsWith('[')) return undefined;
  try {
    const value: unknown = JSON.parse(trimmed);
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  } catch {
    // shell form that happens to start with [
  }
  return undefined;
}

/**
 * Splits `key=value key2="two words"` (ENV, LABEL, ARG) honouring quotes and the escape
 * character; the legacy `ENV key value` form gives one pair.
 */
export function parseKeyValues(text: string, keyword: string, line: number, escape = '\\', raw = false): [string, string][] {
  const finish = (value: string) => (raw ? value : unquote(value, escape));
  const words = splitWords(text, escape);
  if (words.length === 0) throw new DockerfileError(line, `${keyword} requires at least one argument`);
  if (!words[0]!.includes('=')) {
    if (keyword === 'ARG') return words.map((w) => [w, ''] as [string, string]);
    // Legacy form: the first word is the key, the rest of the line (unquoted) its value.
    const rest = text.trim().slice(text.trim().indexOf(words[0]!) + words[0]!.length).trim();
    if (!rest && keyword !== 'ARG') throw new DockerfileError(line, `${keyword} names can not be blank`);
    return [[words[0]!, finish(rest)]];
  }
  return words.map((word) => {
    const eq = word.indexOf('=');
    if (eq <= 0) throw new DockerfileError(line, `${keyword} names can not be blank`);
    return [word.slice(0, eq), finish(word.slice(eq + 1))] as [string, string];
  });
}

/** Whitespace-separated words; quotes group (and are kept, for unquote), the escape char escapes. */
export function splitWords(text: string, escape = '\\'): string[] {
  const words: string[] = [];
  let current = '';
  let quote = '';
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === escape && i + 1 < text.length) {
      current += c + text[i + 1];
      i++;
      inWord = true;
      continue;
    }
    if (quote) {
      current += c;
      if (c === quote) quote = '';
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      current += c;
      inWord = true;
      continue;
    }
    if (/\s/.test(c)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
      continue;
    }
    current += c;
    inWord = true;
  }
  if (inWord) words.push(current);
  return words;
}

/** Removes quotes and escapes from one word (as the shell would, without expansion). */
export function unquote(word: string, escape = '\\'): string {
  return expandWord(word, undefined, escape);
}
