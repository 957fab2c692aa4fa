// Property-based fuzz of the Dockerfile parser (issue 9, hostile input). A Dockerfile comes from
// whoever calls POST /build, and parseDockerfile runs on the engine's only thread: for any text it
// must either return instructions or throw its own DockerfileError, and it must do so in time
// linear in the input (a regex that backtracks quadratically stalls every client of the engine).
//
// Runs are bounded so the file finishes in a few seconds; BERTH_FUZZ_RUNS=N runs every property
// N times instead (for a longer local hunt), BERTH_FUZZ_SEED=S replays the seed a failure printed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker, isMainThread, parentPort } from 'node:worker_threads';

import fc from 'fast-check';

import { DockerfileError, parseDockerfile, parseJsonArray, parseKeyValues, splitWords, unquote } from './dockerfile.js';
import { SubstitutionError, expandWord } from './variables.js';
import { fuzzOptions } from '../testing/fuzz.js';

/** Calls `fn`; anything thrown must be one of the `allowed` error classes. */
function onlyThrows(fn: () => unknown, ...allowed: (new (...args: never[]) => Error)[]): void {
  try {
    fn();
  } catch (err) {
    if (allowed.some((cls) => err instanceof cls)) return;
    throw new Error(`threw ${err instanceof Error ? `${err.name}: ${err.message.slice(0, 200)}` : String(err)}`, { cause: err });
  }
}

const KEYWORDS = ['FROM', 'RUN', 'CMD', 'LABEL', 'MAINTAINER', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL'];

// The characters the parser gives a meaning to, so random text hits its branches often.
const SPECIAL = [' ', '\t', '\\', '`', '#', '=', '$', '{', '}', '<<', '<<-', '"', "'", '-', '--', '[', ']', ',', '\n', '\r\n', '\r', ':', '\0', 'EOF', 'a', 'é', '\u00a0', '\u2028'];
const specialText = fc.array(fc.oneof(fc.constantFrom(...SPECIAL), fc.constantFrom(...KEYWORDS), fc.string({ maxLength: 6 })), { maxLength: 80 }).map((parts) => parts.join(''));

/** Lines that look like a Dockerfile: instructions, flags, heredocs, directives, comments, continuations. */
const dockerfileLine = fc.oneof(
  fc.tuple(fc.constantFrom(...KEYWORDS, 'run', 'From', 'BOGUS', 'from'), specialText).map(([k, rest]) => `${k} ${rest}`),
  fc.tuple(fc.constantFrom('COPY', 'ADD', 'RUN', 'FROM', 'HEALTHCHECK'), fc.constantFrom('--from=a', '--chown=1:2', '--mount=type=cache', '--bogus', '--', '--=x', '--platform'), specialText).map(([k, f, rest]) => `${k} ${f} ${rest}`),
  fc.tuple(fc.constantFrom('RUN', 'COPY'), fc.constantFrom('<<EOF', '<<-EOF', '<<"EOF"', "<<'EOF'", '<<EOF <<TWO'), specialText).map(([k, h, rest]) => `${k} ${h} ${rest}`),
  fc.constantFrom('EOF', '\tEOF', 'TWO', '# escape=`', '# escape=\\', '# escape=x', '# syntax=docker/dockerfile:1', '#check=skip=all', '# comment', '', '   ', '\\', '`'),
  specialText,
);
const dockerfileText = fc.oneof(
  fc.array(dockerfileLine, { maxLength: 40 }).chain((lines) => fc.constantFrom('\n', '\r\n').map((eol) => lines.join(eol))),
  fc.string({ unit: 'binary', maxLength: 2000 }),
  // What fs.readFile(..., 'utf8') makes of random bytes.
  fc.uint8Array({ maxLength: 2000 }).map((bytes) => Buffer.from(bytes).toString('utf8')),
);

function checkShape(text: string): void {
  let parsed;
  try {
    parsed = parseDockerfile(text);
  } catch (err) {
    if (err instanceof DockerfileError) {
      assert.ok(err.message.length < 1000, `a readable message, not ${err.message.length} characters`);
      return;
    }
    throw err;
  }
  const lineCount = text.split('\n').length;
  let previous = 0;
  for (const instruction of parsed.instructions) {
    assert.ok(KEYWORDS.includes(instruction.keyword), instruction.keyword);
    assert.ok(instruction.line > previous && instruction.line <= lineCount, `line ${instruction.line} after ${previous} of ${lineCount}`);
    previous = instruction.line;
    assert.equal(typeof instruction.rest, 'string');
    if (instruction.json) assert.ok(instruction.json.every((w) => typeof w === 'string'));
  }
  assert.ok(parsed.escape === '\\' || parsed.escape === '`');
}

/**
 * Parses in a worker thread, so an input that sends the parser into a quadratic (or endless) loop
 * fails the property after `limitMs` instead of hanging the test run with the main thread.
 */
class TimedParser {
  private worker = TimedParser.spawn();

  private static spawn(): Worker {
    // A worker does not inherit the main thread's tsx loader: it registers one, then loads this file.
    const code = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); })`;
    return new Worker(code, { eval: true });
  }

  async parse(text: string, limitMs: number): Promise<{ ms: number; error?: string }> {
    const worker = this.worker;
    const answer = new Promise<{ ms: number; error?: string }>((resolve) => worker.once('message', resolve));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), limitMs)));
    worker.postMessage(text);
    const result = await Promise.race([answer, timeout]);
    clearTimeout(timer);
    if (result === 'timeout') {
      await worker.terminate();
      this.worker = TimedParser.spawn();
      return { ms: limitMs, error: `still parsing after ${limitMs} ms` };
    }
    return result;
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}

if (!isMainThread && parentPort) {
  // The worker side of TimedParser: parse, report the time and anything but a DockerfileError.
  const port = parentPort;
  port.on('message', (text: string) => {
    const started = performance.now();
    let error: string | undefined;
    try {
      parseDockerfile(text);
    } catch (err) {
      if (!(err instanceof DockerfileError)) error = err instanceof Error ? `${err.name}: ${err.message.slice(0, 200)}` : String(err);
    }
    port.postMessage({ ms: performance.now() - started, ...(error ? { error } : {}) });
  });
} else describe('Dockerfile parser fuzz', () => {
  it('returns instructions or throws a DockerfileError for any text', () => {
    fc.assert(fc.property(dockerfileText, checkShape), fuzzOptions(3000));
  });

  it('reads back generated instructions, whatever the comments, blank lines and continuations between them', () => {
    const word = fc.stringMatching(/^[a-z0-9][a-z0-9_./:-]{0,11}$/);
    const instruction = fc.tuple(fc.constantFrom(...KEYWORDS), fc.array(word, { minLength: 1, maxLength: 5 }));
    // Decoration between the words of one instruction: a continuation, possibly with comment and
    // blank lines inside it, which the parser drops.
    const gap = fc.constantFrom(' ', '  ', ' \\\n', ' \\\n# note\n', ' \\\n\n  ', '\t');
    fc.assert(
      fc.property(fc.array(fc.tuple(instruction, fc.array(gap, { minLength: 5, maxLength: 5 }), fc.constantFrom('\n', '\n\n', '\n# c\n', '\n   \n')), { maxLength: 15 }), fc.boolean(), (items, lowercase) => {
        let text = '';
        for (const [[keyword, words], gaps, separator] of items) {
          text += (lowercase ? keyword.toLowerCase() : keyword) + ' ' + words.map((w, i) => (i === 0 ? w : `${gaps[i - 1]}${w}`)).join('') + separator;
        }
        const parsed = parseDockerfile(text);
        assert.deepEqual(parsed.instructions.map((i) => i.keyword), items.map(([[k]]) => k));
        assert.deepEqual(
          parsed.instructions.map((i) => i.rest.split(/\s+/)),
          items.map(([[, words]]) => words),
        );
      }),
      fuzzOptions(500),
    );
  });

  it('parses in time linear in the input: no pattern repeated 100,000 times takes long', async () => {
    // The shape of a regex-backtracking attack: a short piece repeated many times after a prefix
    // that puts the parser in one state or another. Each input is up to ~400 KB; linear code
    // reads that in a few milliseconds, a quadratic regex takes minutes (200,000 continuation
    // lines took two before the fix), so the limit below has plenty of room for a slow machine.
    const prefix = fc.constantFrom('', 'FROM x\nRUN ', '# escape=', '#a=', 'FROM x\nCOPY --from=', 'FROM x\nRUN <<', 'FROM x\nENV A=', 'FROM x\nRUN a \\\n', 'FROM x\nRUN ["');
    const piece = fc.array(fc.constantFrom(' ', '\t', '\\', '\\\n', '`', '#', '=', '$', '${', '}', '<<', 'A', '\n', '\r', '"', "'", '--', '-', '[', 'x'), { minLength: 1, maxLength: 4 }).map((p) => p.join(''));
    const suffix = fc.constantFrom('', 'x', '\n', '\r', 'x\ry', '!', '\\');
    const parser = new TimedParser();
    try {
      await fc.assert(
        fc.asyncProperty(prefix, piece, fc.integer({ min: 20_000, max: 100_000 }), suffix, async (head, unit, times, tail) => {
          const { ms, error } = await parser.parse(head + unit.repeat(times) + tail, 2000);
          const input = `${JSON.stringify(head)} + ${JSON.stringify(unit)} x ${times} + ${JSON.stringify(tail)}`;
          assert.equal(error, undefined, `${input}: ${error}`);
          assert.ok(ms < 1000, `${input} took ${Math.round(ms)} ms`);
        }),
        fuzzOptions(60),
      );
    } finally {
      await parser.close();
    }
  });

  it('splits words, key=value pairs and JSON forms without throwing anything but its own error', () => {
    fc.assert(
      fc.property(specialText, fc.constantFrom('ENV', 'LABEL', 'ARG'), fc.constantFrom('\\', '`'), (text, keyword, escape) => {
        onlyThrows(() => splitWords(text, escape));
        onlyThrows(() => unquote(text, escape));
        onlyThrows(() => parseJsonArray(text));
        onlyThrows(() => parseKeyValues(text, keyword, 1, escape), DockerfileError);
      }),
      fuzzOptions(2000),
    );
  });

  it('expands variables or throws a SubstitutionError, however deep the ${...:-...} nesting', () => {
    const nested = fc.tuple(fc.integer({ min: 0, max: 5000 }), fc.constantFrom('${A:-', '${A:+', '${', '${NOPE:-', '$', '{'), fc.constantFrom('}', '', 'x}')).map(([n, open, close]) => open.repeat(n) + 'v' + close.repeat(n));
    fc.assert(
      fc.property(fc.oneof(specialText, nested), fc.constantFrom('\\', '`'), (word, escape) => {
        const started = performance.now();
        onlyThrows(() => expandWord(word, (name) => (name === 'A' ? 'a' : undefined), escape), SubstitutionError);
        assert.ok(performance.now() - started < 1000, `expanding ${word.length} characters took too long`);
      }),
      fuzzOptions(1000),
    );
  });
});
