import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { K8sFileParser } from './container-logs.js';

describe("conmon's k8s-file log", () => {
  it('keeps the carriage return a TTY writes (a line of "hi\\r\\n" was dropped whole)', () => {
    const parser = new K8sFileParser();
    assert.deepEqual(parser.push('2026-12-07T09:21:28.535755767+00:00 stdout F hi\r\n'), [{ time: '2026-12-07T09:21:28.535755767+00:00', stream: 'stdout', text: 'hi\r\n' }]);
  });

  it('joins partial records and keeps streams apart', () => {
    const parser = new K8sFileParser();
    const entries = parser.push('t1 stdout P hel\nt2 stdout F lo\nt3 stderr F oops\nt4 stdout P tail');
    assert.deepEqual(entries.map((e) => [e.stream, e.text]), [['stdout', 'hello\n'], ['stderr', 'oops\n']]);
    assert.deepEqual(parser.push('\n'), []);
    assert.deepEqual(parser.flush().map((e) => e.text), ['tail']);
  });
});
