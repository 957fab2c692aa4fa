// The dashboard, measured in Debian's chromium against a berthd of its own:
//  1. the time from opening the dashboard's containers page to 100 containers rendered (five
//     fresh page loads; performance.now() counts from the navigation's start);
//  2. how the page keeps up while one container's `logs -f` streams about 10,000 lines a second:
//     animation frames per second, the longest frame, long tasks, how long a click on a tab
//     takes to show its page, and the lines the page actually received.
// Needs the fixtures' registry (eval "$(bash scripts/fixtures/start.sh)") and a built renderer.
//   node --import tsx scripts/bench/dashboard.ts
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

import { chromium } from 'playwright-core';

import { TestEngine, registry } from '../../test/support/berthd.js';

const BERTH = new URL('../../node_modules/.bin/berth', import.meta.url).pathname;
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const CONTAINERS = 100;

const engine = await TestEngine.start();
const server = spawn(BERTH, ['dashboard', '--host', `unix://${engine.socket}`], { stdio: ['ignore', 'pipe', 'inherit'] });
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: FLAGS });
try {
  const url = await new Promise<string>((resolve) => createInterface({ input: server.stdout! }).once('line', resolve));
  await engine.dockerOk(['pull', '-q', `${registry()}/library/busybox`]);
  await engine.dockerOk(['tag', `${registry()}/library/busybox`, 'busybox']);
  for (let i = 0; i < CONTAINERS; i++) await engine.dockerOk(['create', '--name', `c${String(i).padStart(3, '0')}`, '--label', `com.docker.compose.project=p${i % 5}`, 'busybox', 'true']);

  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  // tsx keeps function names with an `__name` helper, which functions sent to the page call.
  await page.addInitScript({ content: 'globalThis.__name = (f) => f;' });
  await page.goto(url); // the token becomes a cookie
  const loads: number[] = [];
  for (let i = 0; i < 5; i++) {
    await page.goto(`${url.replace(/\?token=.*/, '')}#/containers`);
    await page.waitForFunction((n) => document.querySelectorAll('tr[data-name]').length >= n, CONTAINERS, { polling: 'raf' });
    loads.push(await page.evaluate(() => performance.now()));
  }
  loads.sort((a, b) => a - b);
  console.log(`open dashboard → ${CONTAINERS} containers rendered: min ${loads[0]!.toFixed(0)} ms, median ${loads[2]!.toFixed(0)} ms (5 loads)`);

  // ~10,000 lines a second: busybox seq prints 1,000 lines, then 100 ms of sleep.
  const id = (await engine.dockerOk(['run', '-d', '--name', 'flood', 'busybox', 'sh', '-c', 'while :; do seq 1 1000; usleep 100000; done'])).trim();
  await page.goto(`${url.replace(/\?token=.*/, '')}#/container/${id}`);
  await page.getByLabel('Logs', { exact: true }).waitFor();
  await page.waitForTimeout(1000);
  const logLines = async () => (await engine.dockerOk(['logs', 'flood'])).split('\n').length;
  const before = { lines: await logLines(), at: Date.now() };
  const result = await page.evaluate(async () => {
    const frames: number[] = [];
    const longTasks: number[] = [];
    new PerformanceObserver((list) => list.getEntries().forEach((e) => longTasks.push(e.duration))).observe({ type: 'longtask', buffered: false });
    const seconds = 5;
    const until = performance.now() + seconds * 1000;
    await new Promise<void>((resolve) => {
      const tick = (t: number) => {
        frames.push(t);
        if (t < until) requestAnimationFrame(tick);
        else resolve();
      };
      requestAnimationFrame(tick);
    });
    const gaps = frames.slice(1).map((t, i) => t - frames[i]!);
    // A click that switches tabs, timed until the next frame shows the new page.
    const clicks: number[] = [];
    for (let i = 1; i <= 6; i++) {
      const tab = [...document.querySelectorAll<HTMLButtonElement>('[role=tab]')].find((b) => b.textContent === (i % 2 ? 'Inspect' : 'Logs'))!;
      const t0 = performance.now();
      tab.click();
      await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
      clicks.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 200));
    }
    return { fps: frames.length / seconds, worstFrame: Math.max(...gaps), longTasks: longTasks.length, longestTask: Math.max(0, ...longTasks), clicks };
  });
  const rate = ((await logLines()) - before.lines) / ((Date.now() - before.at) / 1000);
  console.log(`while logs -f streams ~10,000 lines/s: ${result.fps.toFixed(0)} frames/s, worst frame ${result.worstFrame.toFixed(0)} ms, ${result.longTasks} long tasks (longest ${result.longestTask.toFixed(0)} ms), tab click to next frame ${result.clicks.map((c) => c.toFixed(0)).join('/')} ms; the container logged ${rate.toFixed(0)} lines/s meanwhile`);
} finally {
  await browser.close();
  server.kill();
  await engine.dispose();
}
