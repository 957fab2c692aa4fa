// The dashboard, measured in Debian's chromium against a berthd of its own:
//  1. the time from opening the dashboard's containers page to 100 containers rendered (fresh page
//     loads, five unless told, after one that is not counted; performance.now() counts from the
//     navigation's start);
//  2. how the page keeps up while one container's `logs -f` streams about 10,000 lines a second:
//     animation frames per second, the longest frame, long tasks, how long a click on a tab
//     takes to show its page, and the lines the page actually received.
// Needs the fixtures' registry (eval "$(bash scripts/fixtures/start.sh)") and a built renderer.
// It checks that its engine took its bridge and firewall chains with it, and fails if not.
//   node --import tsx scripts/bench/dashboard.ts [loads]
import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

import { chromium, type Browser } from 'playwright-core';

import { TestEngine, registry } from '../../test/support/berthd.js';

import { cleanupOnSignal, minMedian, record } from './results.js';

const BERTH = new URL('../../node_modules/.bin/berth', import.meta.url).pathname;
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const CONTAINERS = 100;
const LOADS = Number(process.argv[2] ?? 5);

const engine = await TestEngine.start();
let browser: Browser | undefined;
const server = spawn(BERTH, ['dashboard', '--host', `unix://${engine.socket}`], { stdio: ['ignore', 'pipe', 'inherit'] });
const cleanup = cleanupOnSignal(async () => {
  await browser?.close();
  server.kill();
  await engine.dispose();
  // The engine removes its bridge and chains when it stops with nothing running; say so if not.
  const left: string[] = [];
  if (execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).includes(`${engine.bridge}:`)) left.push(`link ${engine.bridge}`);
  for (const table of ['filter', 'nat']) if (execFileSync('iptables-save', ['-t', table], { encoding: 'utf8' }).includes(engine.bridge)) left.push(`${table} rules naming ${engine.bridge}`);
  if (left.length) {
    console.error(`bench: LEFT BEHIND after cleanup: ${left.join(', ')}`);
    process.exitCode = 1;
  }
});
try {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: FLAGS });
  const url = await new Promise<string>((resolve) => createInterface({ input: server.stdout! }).once('line', resolve));
  await engine.dockerOk(['pull', '-q', `${registry()}/library/busybox`]);
  await engine.dockerOk(['tag', `${registry()}/library/busybox`, 'busybox']);
  for (let i = 0; i < CONTAINERS; i++) await engine.dockerOk(['create', '--name', `c${String(i).padStart(3, '0')}`, '--label', `com.docker.compose.project=p${i % 5}`, 'busybox', 'true']);

  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  // tsx keeps function names with an `__name` helper, which functions sent to the page call.
  await page.addInitScript({ content: 'globalThis.__name = (f) => f;' });
  await page.goto(url); // the token becomes a cookie
  const loads: number[] = [];
  for (let i = 0; i <= LOADS; i++) {
    await page.goto(`${url.replace(/\?token=.*/, '')}#/containers`);
    await page.waitForFunction((n) => document.querySelectorAll('tr[data-name]').length >= n, CONTAINERS, { polling: 'raf' });
    const ms = await page.evaluate(() => performance.now());
    if (i > 0) loads.push(Math.round(ms)); // load 0 is the warm-up
  }
  const { min, median } = minMedian(loads);
  console.log(`open dashboard → ${CONTAINERS} containers rendered: min ${min.toFixed(0)} ms, median ${median.toFixed(0)} ms (${LOADS} loads after a warm-up)`);

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
  const common = { suite: 'dashboard', engine: 'berthd', goal: '', warmups: 0 };
  record({ ...common, name: `open containers page → ${CONTAINERS} containers rendered`, unit: 'ms', warmups: 1, samples: loads });
  record({ ...common, name: 'frames/s while logs -f streams ~10,000 lines/s', unit: 'frames/s', samples: [Math.round(result.fps)] });
  record({ ...common, name: 'worst frame while logs -f streams', unit: 'ms', samples: [Math.round(result.worstFrame)] });
  record({ ...common, name: 'tab click → next frame while logs -f streams', unit: 'ms', samples: result.clicks.map((c) => Math.round(c)) });
  record({ ...common, name: 'lines/s the container logged meanwhile', unit: 'lines/s', samples: [Math.round(rate)] });
  console.log(`while logs -f streams ~10,000 lines/s: ${result.fps.toFixed(0)} frames/s, worst frame ${result.worstFrame.toFixed(0)} ms, ${result.longTasks} long tasks (longest ${result.longestTask.toFixed(0)} ms), tab click to next frame ${result.clicks.map((c) => c.toFixed(0)).join('/')} ms; the container logged ${rate.toFixed(0)} lines/s meanwhile`);
} finally {
  await cleanup();
}
