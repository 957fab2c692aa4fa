// The dashboard's Images, Volumes and Networks pages in a real browser (Debian's chromium through
// playwright-core) against a real berthd: pull with per-layer progress bars and a failed pull's
// error, an image's history and layers, the Run form's validation and a run that the engine's
// inspect confirms, volume sizes and users, the volume file browser, a network's containers.
// Screenshots of each view go to test/.artifacts/.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, promises as fs } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';

import { chromium, type Browser, type Page } from 'playwright-core';

import { buildRunSpec } from '../renderer/src/pages/images/run-spec.js';
import { formatMode } from '../renderer/src/pages/volumes/file-mode.js';
import { TestEngine, registry } from './support/berthd.js';

const BERTH = path.resolve(import.meta.dirname, '../node_modules/.bin/berth');
const ARTIFACTS = path.resolve(import.meta.dirname, '.artifacts');
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const DOCKERFILE = `FROM busybox
RUN mkdir -p /app && echo hello > /app/index.html
ENV GREETING=hi
WORKDIR /app
EXPOSE 80
CMD ["sleep", "300"]
`;

/**
 * The engine's archive of a container path under a mount must hold the mount's files (dockerd's
 * does, for created and stopped containers too); berthd's reads the container's rootfs alone, so
 * a volume lists as empty or missing. Cleared when berthd honours mounts in GET /containers/{id}/archive.
 */

/** A port nothing listens on now, so runs of other tests on this machine do not collide with it. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

describe('Run form rules (the notations of docker run)', () => {
  const spec = (fields: Partial<{ name: string; ports: string; env: string; volumes: string; command: string }>) =>
    buildRunSpec({ image: 'img', name: '', ports: '', env: '', volumes: '', command: '', ...fields });

  it('turns ports, env, volumes and a command into a create body', () => {
    const result = spec({ name: 'web-1', ports: '8080:80\n127.0.0.1:5353:53/udp, 9000', env: 'A=1\nB=x=y\n# comment\nEMPTY=', volumes: 'data:/data\n/srv/site:/usr/share/html:ro\n/cache', command: `sh -c 'echo "hi there"'` });
    assert.ok(result.ok);
    assert.equal(result.name, 'web-1');
    assert.deepEqual(result.body.HostConfig.PortBindings, {
      '80/tcp': [{ HostIp: '', HostPort: '8080' }],
      '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }],
      '9000/tcp': [{ HostIp: '', HostPort: '' }],
    });
    assert.deepEqual(Object.keys(result.body.ExposedPorts ?? {}), ['80/tcp', '53/udp', '9000/tcp']);
    assert.deepEqual(result.body.Env, ['A=1', 'B=x=y', 'EMPTY=']);
    assert.deepEqual(result.body.HostConfig.Binds, ['data:/data', '/srv/site:/usr/share/html:ro']);
    assert.deepEqual(result.body.Volumes, { '/cache': {} });
    assert.deepEqual(result.body.Cmd, ['sh', '-c', 'echo "hi there"']);
  });

  it('says what is wrong with each bad line and builds nothing', () => {
    const result = spec({ name: '-x', ports: 'abc:80\n8080:80/icmp\n70000:80\n1.2.3.999:80:80\n8080:80\n8080:81', env: 'NOEQUALS\n=value', volumes: 'data:relative\nbad name:/x\n/a:/b:rx', command: 'echo "open' });
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.match(result.errors.name?.[0] ?? '', /not a valid name/);
    assert.deepEqual(result.errors.ports, [
      '"abc:80": host port "abc" is not a number between 1 and 65535',
      '"8080:80/icmp": the protocol must be tcp, udp or sctp',
      '"70000:80": host port "70000" is not a number between 1 and 65535',
      '"1.2.3.999:80:80": "1.2.3.999" is not an IP address',
      '"8080:81": host port 8080/tcp is already listed',
    ]);
    assert.equal(result.errors.env?.length, 2);
    assert.equal(result.errors.volumes?.length, 3);
    assert.match(result.errors.command?.[0] ?? '', /double quote that is not closed/);
  });

  it('formats modes as ls -l does', () => {
    assert.equal(formatMode('file', 0o644), '-rw-r--r--');
    assert.equal(formatMode('directory', 0o755), 'drwxr-xr-x');
    assert.equal(formatMode('symlink', 0o777), 'lrwxrwxrwx');
    assert.equal(formatMode('directory', 0o1777), 'drwxrwxrwt');
    assert.equal(formatMode('file', 0o4755), '-rwsr-xr-x');
    assert.equal(formatMode('file', 0o2644), '-rw-r-Sr--');
  });
});

describe('dashboard: images, volumes, networks (chromium)', () => {
  let engine: TestEngine;
  let server: ChildProcess;
  let url = '';
  let browser: Browser;
  let page: Page;
  let bindDir = '';
  let appHex = '';
  // A modal dialog is drawn over the viewport only: a full-page shot would cut its backdrop.
  const shot = (name: string, fullPage = true) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage });
  const inspect = async <T>(what: string): Promise<T> => (JSON.parse(await engine.dockerOk(['inspect', what])) as T[])[0]!;
  const containerCount = async () => (await engine.dockerOk(['ps', '-aq'])).split('\n').filter(Boolean).length;

  before(async () => {
    await fs.mkdir(ARTIFACTS, { recursive: true });
    bindDir = mkdtempSync(path.join(tmpdir(), 'berth-bind-'));
    engine = await TestEngine.start();
    await engine.dockerOk(['pull', '-q', `${registry()}/library/busybox`]);
    await engine.dockerOk(['tag', `${registry()}/library/busybox`, 'busybox']);
    await engine.dockerOk(['build', '-q', '-t', 'res-app', '-'], { input: DOCKERFILE });
    appHex = (await engine.dockerOk(['inspect', '-f', '{{.Id}}', 'res-app'])).trim().replace(/^sha256:/, '');
    server = spawn(BERTH, ['dashboard', '--host', `unix://${engine.socket}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    url = await new Promise<string>((resolve) => createInterface({ input: server.stdout! }).once('line', resolve));
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('dialog', (dialog) => void dialog.accept());
  });
  after(async () => {
    await browser?.close();
    server?.kill();
    // dispose removes the containers and the whole data root; the network's bridge goes first,
    // so nothing of this test stays on the host.
    await engine.docker(['rm', '-f', 'res-run', 'resholder', 'resweb']);
    await engine.docker(['network', 'rm', 'resnet']);
    await engine.docker(['volume', 'rm', 'resvol', 'resdata']);
    await engine.dispose();
    await fs.rm(bindDir, { recursive: true, force: true });
  });

  it('pulls with a progress bar per layer, then lists the image', async () => {
    await page.goto(`${url}#/images`);
    await page.getByLabel('Image to pull').fill(`${registry()}/library/debian:latest`);
    await page.getByRole('button', { name: 'Pull', exact: true }).click();
    const progress = page.getByLabel('Pull progress');
    await progress.locator('progress').first().waitFor();
    await page.getByRole('link', { name: `${registry()}/library/debian:latest` }).waitFor({ timeout: 60_000 });
    await progress.getByText(/Status: Downloaded newer image/).waitFor();
    const bars = await progress.locator('progress').evaluateAll((els) => els.map((e) => ({ value: (e as HTMLProgressElement).value, max: (e as HTMLProgressElement).max })));
    assert.ok(bars.length >= 1);
    for (const bar of bars) assert.equal(bar.value, bar.max, 'every layer ends full');
    await progress.getByText('Pull complete').first().waitFor();
    await shot('images');
  });

  it('shows the engine\'s error when a pull fails', async () => {
    await page.getByLabel('Image to pull').fill(`${registry()}/library/no-such-image:1`);
    await page.getByRole('button', { name: 'Pull', exact: true }).click();
    await page.getByLabel('Pull progress').getByRole('alert').getByText(/Pull failed: .*not found/).waitFor();
  });

  it('shows an image\'s history, layers and config', async () => {
    await page.getByRole('link', { name: 'res-app:latest' }).click();
    await page.waitForURL(new RegExp(`#/image/${appHex}$`));
    const history = page.getByRole('table', { name: 'History' });
    await history.getByText('WORKDIR /app').waitFor();
    assert.equal(await history.locator('tbody tr').count(), 6, 'busybox\'s one step, then RUN, ENV, WORKDIR, EXPOSE, CMD');
    await history.getByRole('row').filter({ hasText: 'mkdir -p /app' }).getByRole('cell', { name: '6 B' }).waitFor();
    const image = await inspect<{ RootFS: { Layers: string[] } }>('res-app');
    const layers = page.getByRole('table', { name: 'Layers' });
    for (const digest of image.RootFS.Layers) await layers.getByText(digest).waitFor();
    const config = page.getByRole('table', { name: 'Configuration' });
    await config.getByText('GREETING=hi').waitFor();
    await config.getByText('80/tcp').waitFor();
    await config.getByRole('row', { name: /Working directory/ }).getByText('/app').waitFor();
    await shot('image-detail');
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot('image-detail-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('refuses a bad port in the Run form and creates nothing', async () => {
    const before = await containerCount();
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Run a new container' });
    await dialog.getByLabel('Ports').fill('abc:80');
    await dialog.getByRole('button', { name: 'Run', exact: true }).click();
    await dialog.getByRole('alert').getByText('"abc:80": host port "abc" is not a number between 1 and 65535').waitFor();
    assert.equal(await dialog.getByLabel('Ports').getAttribute('aria-invalid'), 'true');
    await shot('run-form', false);
    assert.equal(await containerCount(), before);
  });

  it('runs a container with ports, env and volumes, and opens its page', async () => {
    const port = await freePort();
    const dialog = page.getByRole('dialog', { name: 'Run a new container' });
    await dialog.getByLabel('Container name').fill('res-run');
    await dialog.getByLabel('Ports').fill(`127.0.0.1:${port}:80`);
    await dialog.getByLabel('Environment variables').fill('MODE=dashboard\nEMPTY=');
    await dialog.getByLabel('Volumes').fill(`resdata:/data\n${bindDir}:/host:ro`);
    await dialog.getByRole('button', { name: 'Run', exact: true }).click();
    await page.waitForURL(/#\/container\/[0-9a-f]{64}$/);
    const id = new URL(page.url()).hash.split('/')[2];
    const c = await inspect<{ Id: string; State: { Running: boolean }; Config: { Env: string[]; Image: string }; HostConfig: { PortBindings: Record<string, { HostIp: string; HostPort: string }[]>; Binds: string[] } }>('res-run');
    assert.equal(c.Id, id);
    assert.equal(c.State.Running, true);
    assert.equal(c.Config.Image, 'res-app:latest');
    assert.deepEqual(c.HostConfig.PortBindings['80/tcp'], [{ HostIp: '127.0.0.1', HostPort: String(port) }]);
    assert.ok(c.Config.Env.includes('MODE=dashboard') && c.Config.Env.includes('EMPTY=') && c.Config.Env.includes('GREETING=hi'));
    assert.deepEqual(c.HostConfig.Binds, ['resdata:/data', `${bindDir}:/host:ro`]);
  });

  it('shows the engine\'s refusal to remove an image a container uses', async () => {
    await page.goto(`${url}#/images`);
    await page.getByRole('button', { name: 'Remove res-app:latest' }).click();
    await page.getByRole('alert').getByText(/Cannot remove res-app:latest: .*(conflict|in use|being used)/).waitFor();
    await engine.dockerOk(['image', 'inspect', 'res-app']);
    await page.getByRole('row').filter({ hasText: 'res-app:latest' }).getByText('In use').waitFor();
  });

  it('lists volumes with their size and the containers that use them', async () => {
    await engine.dockerOk(['run', '--rm', '-v', 'resvol:/data', 'busybox', 'sh', '-c', 'mkdir -p /data/sub && echo hi > /data/sub/hello.txt && ln -s sub/hello.txt /data/link']);
    await engine.dockerOk(['run', '-d', '--name', 'resholder', '-v', 'resvol:/data', 'busybox', 'sleep', '300']);
    await page.goto(`${url}#/volumes`);
    const row = page.locator('tr[data-name="resvol"]');
    await row.getByRole('cell', { name: '3 B', exact: true }).waitFor();
    await row.getByRole('link', { name: 'resholder' }).waitFor();
    await page.locator('tr[data-name="resdata"]').getByRole('link', { name: 'res-run' }).waitFor();
    await row.getByRole('button', { name: 'Remove' }).click();
    await page.getByRole('alert').getByText(/volume is in use .*\(used by resholder\)/).waitFor();
    await shot('volumes');
  });

  it('browses a volume\'s files: folders, sizes, modes, symlink targets', async () => {
    await page.getByRole('link', { name: 'resvol' }).click();
    await page.waitForURL(/#\/volume\/resvol$/);
    const files = page.getByRole('table', { name: 'Files' });
    const failed = page.getByRole('alert').filter({ hasText: 'Cannot list this folder' });
    // One wait for either outcome: a raced second wait would hold the process until its timeout.
    await files.or(failed).waitFor({ timeout: 20_000 });
    await shot('volume-browser');
    if (await failed.count()) assert.fail((await failed.first().textContent()) ?? 'the folder was not listed');
    await files.locator('tr[data-entry="sub"]').getByText('drwxr-xr-x').waitFor();
    await files.locator('tr[data-entry="link"]').getByText('→ sub/hello.txt').waitFor();
    await page.getByRole('table', { name: 'Containers using this volume' }).getByRole('link', { name: 'resholder' }).waitFor();
    await files.getByRole('button', { name: 'Open folder sub' }).click();
    const hello = files.locator('tr[data-entry="hello.txt"]');
    await hello.getByRole('cell', { name: '3 B', exact: true }).waitFor({ timeout: 20_000 });
    await hello.getByText('-rw-r--r--').waitFor();
    await page.getByRole('navigation', { name: 'Folder path' }).getByText('sub').waitFor();
    await shot('volume-browser');
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot('volume-browser-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    await page.getByRole('navigation', { name: 'Folder path' }).getByRole('button', { name: 'resvol' }).click();
    await files.locator('tr[data-entry="sub"]').waitFor();
    // The browser's helper containers are gone once a listing is shown.
    assert.equal((await engine.dockerOk(['ps', '-aq', '--filter', 'label=io.berth.helper'])).trim(), '');
  });

  it('lists networks and shows a network\'s connected containers with their addresses', async () => {
    await engine.dockerOk(['network', 'create', 'resnet']);
    const [pool] = (await inspect<{ IPAM: { Config: { Subnet: string; Gateway: string }[] } }>('resnet')).IPAM.Config;
    await engine.dockerOk(['run', '-d', '--name', 'resweb', '--network', 'resnet', '--network-alias', 'webalias', 'busybox', 'sleep', '300']);
    const web = await inspect<{ NetworkSettings: { Networks: Record<string, { IPAddress: string; MacAddress: string }> } }>('resweb');
    const endpoint = web.NetworkSettings.Networks.resnet!;
    await page.goto(`${url}#/networks`);
    const row = page.locator('tr[data-name="resnet"]');
    await row.getByRole('cell', { name: pool!.Subnet, exact: true }).waitFor();
    await row.getByRole('cell', { name: pool!.Gateway, exact: true }).waitFor();
    await row.locator('td.num').getByText('1', { exact: true }).waitFor();
    await shot('networks');
    await row.getByRole('link', { name: 'resnet' }).click();
    await page.waitForURL(/#\/network\/[0-9a-f]{64}$/);
    const connected = page.getByRole('table', { name: 'Connected containers' }).locator('tr[data-name="resweb"]');
    await connected.getByText(`${endpoint.IPAddress}/${pool!.Subnet.split('/')[1]}`).waitFor();
    await connected.getByText(endpoint.MacAddress).waitFor();
    await connected.getByText('webalias').waitFor();
    await page.getByRole('table', { name: 'IPAM configuration' }).getByText(pool!.Gateway).waitFor();
    const json = page.getByLabel('Network inspect');
    assert.equal(await json.isVisible(), false, 'the inspect JSON starts collapsed');
    await page.getByText('Inspect (JSON)').click();
    await json.getByText('"Name": "resnet"').first().waitFor();
    await shot('network-detail');
  });
});
