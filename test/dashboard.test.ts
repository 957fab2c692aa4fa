// The dashboard in a real browser (Debian's chromium through playwright-core) against a real
// berthd: live container list, stop from the UI, followed logs, pull progress, the engine's error
// for a volume in use, and the token. Screenshots of each page go to test/.artifacts/.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
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
  const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });

  before(async () => {
    await fs.mkdir(ARTIFACTS, { recursive: true });
    engine = await TestEngine.start();
    await engine.dockerOk(['pull', '-q', `${registry()}/library/busybox`]);
    await engine.dockerOk(['tag', `${registry()}/library/busybox`, 'busybox']);
    server = spawn(BERTH, ['dashboard', '--host', `unix://${engine.socket}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    url = await new Promise<string>((resolve) => createInterface({ input: server.stdout! }).once('line', resolve));
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
    page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
    page.on('dialog', (dialog) => void dialog.accept());
  });
  after(async () => {
    await browser?.close();
    server?.kill();
    await engine.dispose();
  });

  it('prints a URL with a token, and refuses requests without it', async () => {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{32}$/);
    const bare = await fetch(url.replace(/\?token=.*/, ''));
    assert.equal(bare.status, 403);
    assert.equal((await fetch(url)).status, 200);
  });

  it('shows a container started from the CLI without a reload, and stops it from the UI', async () => {
    await page.goto(url);
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

  it('pulls an image with progress, then lists it', async () => {
    await page.goto(`${url}#/images`);
    await page.getByLabel('Image to pull').fill(`${registry()}/library/debian:bookworm`);
    await page.getByRole('button', { name: 'Pull' }).click();
    await page.getByLabel('Pull progress').waitFor();
    await page.getByRole('cell', { name: new RegExp(`${registry()}/library/debian:bookworm`) }).waitFor({ timeout: 60_000 });
    await shot('images');
  });

  it('shows the engine\'s error when a volume in use is removed', async () => {
    await engine.dockerOk(['run', '-d', '--name', 'holder', '-v', 'busy:/data', 'busybox', 'sleep', '300']);
    await page.goto(`${url}#/volumes`);
    await page.locator('tr[data-name="busy"]').getByRole('button', { name: 'Remove' }).click();
    await page.getByRole('alert').getByText(/remove busy: volume is in use/).waitFor();
    await shot('volumes');
    await page.goto(`${url}#/networks`);
    await page.getByRole('cell', { name: 'bridge', exact: true }).first().waitFor();
    await shot('networks');
  });
});
