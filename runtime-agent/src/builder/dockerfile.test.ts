import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parseDockerfile, parseKeyValues, splitWords } from './dockerfile.js';
import { expandWord } from './variables.js';

describe('Dockerfile parser', () => {
  it('joins continuations, skips comments inside them, and keeps line numbers', () => {
    const { instructions } = parseDockerfile('FROM busybox\n# comment\nRUN echo a \\\n  # inside\n  && echo b\nCMD ["x", "y"]\n');
    assert.deepEqual(instructions.map((i) => [i.keyword, i.line]), [['FROM', 1], ['RUN', 3], ['CMD', 6]]);
    assert.equal(instructions[1]?.rest, 'echo a   && echo b');
    assert.deepEqual(instructions[2]?.json, ['x', 'y']);
  });

  it('reads the escape directive and heredocs', () => {
    const parsed = parseDockerfile('# escape=`\nFROM x\nRUN echo a `\n  b\nRUN <<EOF\nline 1\nline 2\nEOF\n');
    assert.equal(parsed.escape, '`');
    assert.equal(parsed.instructions[1]?.rest, 'echo a   b');
    assert.equal(parsed.instructions[2]?.heredocs[0]?.content, 'line 1\nline 2\n');
  });

  it('parses flags and refuses unknown ones and instructions', () => {
    const [, copy] = parseDockerfile('FROM x\nCOPY --from=build --chown=1:2 a b\n').instructions;
    assert.deepEqual(copy?.flags, { from: 'build', chown: '1:2' });
    assert.equal(copy?.rest, 'a b');
    assert.throws(() => parseDockerfile('FROM x\nCOPY --bogus a b\n'), /line 2: Unknown flag: bogus/);
    assert.throws(() => parseDockerfile('FROM x\nFOO bar\n'), /line 2: unknown instruction: FOO/);
  });

  it('splits key=value pairs with quotes, and the legacy form', () => {
    assert.deepEqual(parseKeyValues('A=1 B="two words" C=it\\ s', 'ENV', 1), [['A', '1'], ['B', 'two words'], ['C', 'it s']]);
    assert.deepEqual(parseKeyValues('NAME some value here', 'ENV', 1), [['NAME', 'some value here']]);
    assert.deepEqual(splitWords(`a "b c" 'd e'`), ['a', '"b c"', "'d e'"]);
  });
});

describe('variable substitution', () => {
  const vars: Record<string, string> = { A: 'x', EMPTY: '' };
  const lookup = (n: string) => vars[n];
  it('expands $VAR, ${VAR}, defaults and alternatives, not in single quotes', () => {
    assert.equal(expandWord('$A-${A}', lookup), 'x-x');
    assert.equal(expandWord('${NOPE:-d} ${EMPTY:-e} ${A:+alt} ${NOPE:+alt}', lookup), 'd e alt ');
    assert.equal(expandWord(`'$A' "$A" \\$A`, lookup), '$A x $A');
  });
});
