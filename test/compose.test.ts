// docker-compose 1.29 (docker-py) against berthd (issue 5): a web + worker + healthchecked db stack
// with a build, ports, env files, named volumes, bind mounts and a user network; brought up,
// exercised, changed, scaled and torn down leaving nothing.
import assert from 'node:assert/strict';
import { mkdtempSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { TestEngine, registry, run } from './support/berthd.js';

const COMPOSE_FILE = `version: "2.4"
services:
  db:
    image: busybox
    command: sh -c 'touch /tmp/ready; trap "exit 0" TERM; while true; do sleep 1; done'
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      retries: 5
    volumes: ["dbdata:/data"]
  web:
    build: ./web
    init: true
    ports: ["18222:80"]
    depends_on:
      db:
        condition: service_healthy
    networks: [front, default]
  worker:
    image: busybox
    command: sh -c 'echo "worker $$GREETING $$MODE"; cat /host/note.txt; trap "exit 0" TERM; while true; do wget -qO- http://web/ >/dev/null && echo ok; sleep 1; done'
    env_file: app.env
    environment:
      MODE: batch
    volumes: ["./data:/host:ro"]
    depends_on:
      web:
        condition: service_healthy
volumes:
  dbdata: {}
networks:
  front: {}
`;

const WEB_DOCKERFILE = `FROM busybox
WORKDIR /www
COPY index.html .
HEALTHCHECK --interval=1s --retries=3 CMD wget -qO- http://127.0.0.1/ >/dev/null || exit 1
CMD ["httpd", "-f", "-p", "80", "-h", "/www"]
`;

describe('docker-compose stacks', () => {
  let engine: TestEngine;
  const project = mkdtempSync(path.join(tmpdir(), 'berth-stack-'));
  const compose = (args: string[]) => run('docker-compose', ['-p', 'stack', ...args], { cwd: project, env: engine.env() });
  const composeOk = async (args: string[]) => {
    const res = await compose(args);
    assert.equal(res.code, 0, `docker-compose ${args.join(' ')}:\n${res.stderr}`);
    return res;
  };

  before(async () => {
    engine = await TestEngine.start();
    await engine.dockerOk(['pull', '-q', `${registry()}/library/busybox`]);
    await engine.dockerOk(['tag', `${registry()}/library/busybox`, 'busybox']);
    await fs.mkdir(path.join(project, 'web'));
    await fs.mkdir(path.join(project, 'data'));
    await fs.writeFile(path.join(project, 'docker-compose.yml'), COMPOSE_FILE);
    await fs.writeFile(path.join(project, 'web/Dockerfile'), WEB_DOCKERFILE);
    await fs.writeFile(path.join(project, 'web/index.html'), 'hello from web\n');
    await fs.writeFile(path.join(project, 'app.env'), 'GREETING=from-env-file\n');
    await fs.writeFile(path.join(project, 'data/note.txt'), 'bind-mounted\n');
  });
  after(async () => {
    await compose(['down', '-v', '--rmi', 'local']);
    await engine.dispose();
    await fs.rm(project, { recursive: true, force: true });
  });

  it('brings the stack up in dependency order, with healthchecks, ports, env files and mounts', async () => {
    await composeOk(['up', '-d', '--build']);
    const ps = (await composeOk(['ps'])).stdout;
    assert.match(ps, /stack_db_1 .* Up \(healthy\)/);
    assert.match(ps, /stack_web_1 .* Up \(healthy\) .*0\.0\.0\.0:18222->80\/tcp/);
    assert.equal((await run('curl', ['-s', 'http://127.0.0.1:18222/'])).stdout, 'hello from web\n');
    let logs = '';
    for (let i = 0; i < 50 && !logs.includes('ok'); i++) {
      logs = (await composeOk(['logs', '--no-color', 'worker'])).stdout;
      if (!logs.includes('ok')) await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(logs, /worker from-env-file batch/);
    assert.match(logs, /bind-mounted/);
    assert.match(logs, /ok/, 'the worker reaches web by its service name');
    const labelled = (await engine.dockerOk(['ps', '--filter', 'label=com.docker.compose.project=stack', '--format', '{{.Names}}'])).split('\n').filter(Boolean).sort();
    assert.deepEqual(labelled, ['stack_db_1', 'stack_web_1', 'stack_worker_1']);
  });

  it('recreates nothing when nothing changed, and only the service that changed', async () => {
    const unchanged = await composeOk(['up', '-d']);
    assert.doesNotMatch(unchanged.stderr, /Recreating/);
    await fs.writeFile(path.join(project, 'docker-compose.yml'), COMPOSE_FILE.replace('MODE: batch', 'MODE: stream'));
    const changed = await composeOk(['up', '-d']);
    assert.match(changed.stderr, /Recreating stack_worker_1/);
    assert.doesNotMatch(changed.stderr, /Recreating stack_(db|web)_1/);
  });

  it('execs, runs one-off containers, scales, restarts and stops', async () => {
    assert.equal((await composeOk(['exec', '-T', 'web', 'cat', '/www/index.html'])).stdout, 'hello from web\n');
    assert.equal((await composeOk(['run', '--rm', '--no-deps', 'worker', 'echo', 'one-off'])).stdout.trim(), 'one-off');
    await composeOk(['up', '-d', '--scale', 'worker=2']);
    assert.match((await composeOk(['ps'])).stdout, /stack_worker_2 .* Up/);
    await composeOk(['restart', 'web']);
    await composeOk(['stop']);
    const stopped = (await composeOk(['ps'])).stdout;
    assert.doesNotMatch(stopped, / Up /);
  });

  it('tears the stack down with down -v --rmi local, leaving nothing', async () => {
    await composeOk(['down', '-v', '--rmi', 'local']);
    assert.equal((await engine.dockerOk(['ps', '-aq'])).trim(), '');
    assert.deepEqual((await engine.dockerOk(['network', 'ls', '--format', '{{.Name}}'])).split('\n').filter(Boolean).sort(), ['bridge', 'host', 'none']);
    assert.equal((await engine.dockerOk(['volume', 'ls', '-q'])).trim(), '');
    const images = (await engine.dockerOk(['images', '-a', '--format', '{{.Repository}}'])).split('\n').filter(Boolean);
    assert.ok(!images.some((r) => r.includes('stack') || r === '<none>'), images.join(','));
  });
});
