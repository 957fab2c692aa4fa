// The dashboard in a real browser (Debian's chromium through playwright-core) against a real
// berthd: the token, the dashboard page, live container list, stop / pause from the UI, followed
// logs, stats, the container terminal, host terminals, settings, troubleshoot and diagnostics,
// pull progress, the engine's error for a volume in use. Screenshots of each page go to
// test/.artifacts/.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';

import { chromium, type Browser, type Page } from 'playwright-core';

import { TestEngine, registry } from './support/berthd.js';

const BERTH = path.resolve(import.meta.dirname, '../node_modules/.bin/berth');
const ARTIFACTS = path.resolve(import.meta.dirname, '.artifacts');
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe('dashboard (chromium)', () => {
  let engine: TestEngine;
  let server: ChildProcess;
  let url = '';
  let browser: Browser;
  let page: Page;
  // The dashboard's own state (settings) lives here, not in the user's ~/.berth.
  const berthHome = mkdtempSync(path.join(tmpdir(), 'berth-dashboard-'));
  const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });

  before(async () => {
    await fs.mkdir(ARTIFACTS, { recursive: true });
    engine = await TestEngine.start();
    await engine.dockerOk(['pull', '-q', `${registry()}/library/busybox`]);
    await engine.dockerOk(['tag', `${registry()}/library/busybox`, 'busybox']);
    server = spawn(BERTH, ['dashboard', '--host', `unix://${engine.socket}`], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, BERTH_HOME: berthHome } });
    url = await new Promise<string>((resolve) => createInterface({ input: server.stdout! }).once('line', resolve));
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
    page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
    page.on('dialog', (dialog) => void dialog.accept());
  });
  after(async () => {
    await browser?.close();
    server?.kill();
    await engine.dispose();
    await fs.rm(berthHome, { recursive: true, force: true });
  });

  it('prints a URL with a token, and refuses requests without it', async () => {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{32}$/);
    const bare = await fetch(url.replace(/\?token=.*/, ''));
    assert.equal(bare.status, 403);
    assert.equal((await fetch(url)).status, 200);
  });

  it('refuses a WebSocket from another origin', async () => {
    const { WebSocket } = await import('ws');
    const socket = new WebSocket(url.replace(/^http/, 'ws').replace('/?', '/api?'), { headers: { Origin: 'http://evil.example' } });
    const outcome = await new Promise<string>((resolve) => {
      socket.on('open', () => resolve('open'));
      socket.on('error', (err) => resolve(err.message));
    });
    assert.match(outcome, /403/);
  });

  it('shows the engine, its versions and the machine\'s use on the dashboard page', async () => {
    await page.goto(url);
    const engineCard = page.getByLabel('Engine', { exact: true });
    await engineCard.getByText('API', { exact: true }).waitFor();
    assert.equal(await engineCard.locator('dt:text-is("Version") + dd').textContent(), '0.1.0');
    await engineCard.getByText(/^linux\//).waitFor();
    await page.getByLabel('Virtual machine').getByText(/No VM: attached to/).waitFor();
    // berthd reports CPU, memory and disk of its machine (GET /_berth/usage).
    await page.getByText(/ of \d+ CPUs/).waitFor();
    const memory = await page.getByRole('progressbar', { name: 'Memory' }).getAttribute('value');
    assert.ok(Number(memory) > 0, `memory gauge ${memory}`);
    assert.equal(await page.getByRole('button', { name: 'Restart' }).count(), 0, 'no VM buttons when attached to a socket');
    await shot('dashboard');
    await page.emulateMedia({ colorScheme: 'dark' });
    assert.equal(await page.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(17, 19, 24)');
    await shot('dashboard-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('can be driven from the keyboard', async () => {
    await page.goto(`${url}#/dashboard`);
    await page.getByRole('link', { name: 'Dashboard' }).waitFor();
    for (let i = 0; i < 10 && !(await page.evaluate(() => document.activeElement?.textContent === 'Containers')); i++) await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.waitForURL(/#\/containers$/);
    await page.getByRole('heading', { name: 'Containers' }).waitFor();
  });

  it('shows a container started from the CLI without a reload, and stops it from the UI', async () => {
    await page.goto(`${url}#/containers`);
    await page.getByText('No containers yet').waitFor();
    await engine.dockerOk(['run', '-d', '--name', 'uitest', '--stop-timeout', '1', 'busybox', 'sh', '-c', 'echo first-line; sleep 1; echo second-line; exec sleep 300']);
    const row = page.locator('tr[data-name="uitest"]');
    await row.waitFor();
    await row.getByText(/^Up /).waitFor();
    await shot('containers');
    await row.getByRole('button', { name: 'Stop' }).click();
    await row.getByText(/^Exited /).waitFor({ timeout: 20_000 });
    assert.equal((await engine.dockerOk(['inspect', '-f', '{{.State.Status}}', 'uitest'])).trim(), 'exited');
  });

  it('follows a container\'s logs', async () => {
    await engine.dockerOk(['run', '-d', '--name', 'talker', 'busybox', 'sh', '-c', 'echo hello-from-logs; sleep 1.5; echo later-line; exec sleep 300']);
    await page.goto(`${url}#/containers`);
    await page.locator('tr[data-name="talker"] a').first().click();
    const logs = page.getByLabel('Logs');
    await logs.getByText('hello-from-logs').waitFor();
    await logs.getByText('later-line').waitFor();
    await shot('logs');
  });

  it('charts a running container\'s stats', async () => {
    await page.getByRole('tab', { name: 'Stats' }).click();
    const memory = page.getByRole('img', { name: /^Memory: \d/ });
    await memory.waitFor({ timeout: 15_000 });
    assert.match((await memory.getAttribute('aria-label')) ?? '', /^Memory: [\d.]+ (B|KiB|MiB)$/);
    await page.getByText(/\d+ processes/).waitFor();
    await shot('stats');
  });

  it('opens a terminal into the container (exec -it sh through the hijacked stream)', async () => {
    await page.getByRole('tab', { name: 'Terminal' }).click();
    const terminal = page.getByLabel('Terminal');
    await terminal.locator('.xterm-rows').waitFor();
    await page.waitForTimeout(500);
    await page.keyboard.type('echo term-$((6*7))');
    await page.keyboard.press('Enter');
    await terminal.getByText('term-42', { exact: true }).waitFor();
    await shot('terminal');
  });

  it('pauses and resumes a container, and filters the list by state', async () => {
    await page.goto(`${url}#/containers`);
    const row = page.locator('tr[data-name="talker"]');
    await row.getByRole('button', { name: 'Pause talker' }).click();
    await row.getByText(/\(Paused\)/).waitFor();
    assert.equal((await engine.dockerOk(['inspect', '-f', '{{.State.Status}}', 'talker'])).trim(), 'paused');
    await row.getByRole('button', { name: 'Resume talker' }).click();
    await row.getByRole('button', { name: 'Pause talker' }).waitFor();
    assert.equal((await engine.dockerOk(['inspect', '-f', '{{.State.Status}}', 'talker'])).trim(), 'running');
    await page.getByLabel('Show').selectOption('stopped');
    await page.locator('tr[data-name="talker"]').waitFor({ state: 'detached' });
    await page.locator('tr[data-name="uitest"]').waitFor();
    await page.getByLabel('Show').selectOption('all');
    await page.getByLabel('Search containers').fill('talk');
    await page.locator('tr[data-name="uitest"]').waitFor({ state: 'detached' });
    await page.locator('tr[data-name="talker"]').waitFor();
  });

  it('opens host terminals with DOCKER_HOST pointing at the engine, in several tabs', async () => {
    await page.goto(`${url}#/terminal`);
    const first = page.getByLabel('Host shell 1');
    await first.locator('.xterm-rows').waitFor();
    await page.waitForTimeout(500);
    await page.keyboard.type("docker ps --format 'name={{.Names}}'");
    await page.keyboard.press('Enter');
    await first.getByText('name=talker', { exact: true }).waitFor({ timeout: 15_000 });
    await page.getByRole('button', { name: 'New shell' }).click();
    const second = page.getByLabel('Host shell 2');
    await second.locator('.xterm-rows').waitFor();
    await page.waitForTimeout(500);
    await page.keyboard.type('echo "host=$DOCKER_HOST"');
    await page.keyboard.press('Enter');
    await second.getByText(`host=unix://${engine.socket}`, { exact: true }).waitFor();
    await shot('host-terminal');
    // The first shell lives on behind its tab.
    await page.getByRole('tab', { name: 'Shell 1' }).click();
    await first.getByText('name=talker', { exact: true }).waitFor();
  });

  it('validates settings, saves them, and says what needs a restart', async () => {
    await page.goto(`${url}#/settings`);
    const cpus = page.getByLabel('CPUs');
    await cpus.fill('999');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('alert').getByText(/cpus must be a whole number from 1 to \d+/).waitFor();
    await fs.access(path.join(berthHome, 'settings.json')).then(() => assert.fail('nothing may be saved'), () => undefined);
    await cpus.fill('1');
    await page.getByLabel('Memory (MiB)').fill('1024');
    await page.getByLabel('Folder to share').fill('/srv/projects');
    await page.getByRole('button', { name: 'Add' }).click();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').getByText('Saved.').waitFor();
    const saved = JSON.parse(await fs.readFile(path.join(berthHome, 'settings.json'), 'utf8')) as { cpus: number; memoryMiB: number; sharedFolders: string[] };
    assert.equal(saved.cpus, 1);
    assert.equal(saved.memoryMiB, 1024);
    assert.ok(saved.sharedFolders.includes('/srv/projects'));
    await shot('settings');
  });

  it('runs the troubleshoot checks and collects a diagnostics bundle', async () => {
    await page.goto(`${url}#/troubleshoot`);
    await page.locator('[data-check="engine"][data-state="ok"]').waitFor();
    await page.locator('[data-check="vm"][data-state="skipped"]').waitFor();
    await page.locator('[data-check="socket"][data-state="ok"]').waitFor();
    await page.locator('[data-check="disk"]').getByText(/GiB free on the host/).waitFor();
    await shot('troubleshoot');
    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: 'Collect diagnostics' }).click();
    const bundle = path.join(berthHome, 'diagnostics.tar.gz');
    await (await download).saveAs(bundle);
    const listing = await new Promise<string>((resolve, reject) => {
      const tar = spawn('tar', ['-tzf', bundle], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      tar.stdout.on('data', (d: Buffer) => (out += d.toString()));
      tar.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`tar exited ${code}`))));
    });
    for (const file of ['summary.json', 'settings.json', 'engine/version.json', 'engine/containers.json']) assert.match(listing, new RegExp(`^berth-diagnostics/${file}$`, 'm'));
  });

  it('pulls an image with progress, then lists it', async () => {
    await page.goto(`${url}#/images`);
    await page.getByLabel('Image to pull').fill(`${registry()}/library/debian:bookworm`);
    await page.getByRole('button', { name: 'Pull' }).click();
    await page.getByLabel('Pull progress').waitFor();
    await page.getByRole('cell', { name: `${registry()}/library/debian:bookworm`, exact: true }).waitFor({ timeout: 60_000 });
    await shot('images-pulled');
  });

  it('shows the engine\'s error when a volume in use is removed', async () => {
    await engine.dockerOk(['run', '-d', '--name', 'holder', '-v', 'busy:/data', 'busybox', 'sleep', '300']);
    await page.goto(`${url}#/volumes`);
    await page.locator('tr[data-name="busy"]').getByRole('button', { name: 'Remove' }).click();
    await page.getByRole('alert').getByText(/remove busy: volume is in use/).waitFor();
    await shot('volume-in-use');
    await page.goto(`${url}#/networks`);
    await page.getByRole('cell', { name: 'bridge', exact: true }).first().waitFor();
    await shot('networks-list');
  });
});
