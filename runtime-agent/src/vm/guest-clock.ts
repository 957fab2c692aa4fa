// The guest's clock, kept to the host's across sleep. A VM that was not running (the laptop slept,
// the hypervisor paused it) comes back with its clock where it stopped, seconds or hours behind:
// TLS, make and every log would be wrong. QEMU's RTC follows the host's clock all along, so the
// guest compares its own clock with the RTC every second; when they disagree by more than the
// RTC's one-second resolution allows (and every ten seconds in any case), it waits for the RTC's next
// second to begin, which tells the host's time to a few milliseconds, and sets the clock to it
// when off: within a few tens of milliseconds of the host, with no round trip to the host.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

import { log } from '../util/log.js';

const run = promisify(execFile);
const RTC_SECONDS = '/sys/class/rtc/rtc0/since_epoch';

/**
 * Whether the clock (`nowMs`) is off from an RTC reading of whole seconds. In step, the clock is
 * within [rtc, rtc + 1) s, give or take how long the read took (a tenth of a second allowed); a
 * clock off by more than 1.1 s is always outside, a smaller error only at some phases of the
 * second, which the precise check catches.
 */
export function clockIsOff(nowMs: number, rtcSeconds: number): boolean {
  const offset = nowMs / 1000 - rtcSeconds;
  return offset < -0.1 || offset > 1.1;
}

async function readRtc(): Promise<number> {
  return Number((await readFile(RTC_SECONDS, 'utf8')).trim());
}

/** Waits for the RTC's next second to begin (at most ~1.2 s) and returns it. */
async function nextRtcSecond(): Promise<number> {
  const first = await readRtc();
  const giveUp = Date.now() + 1200; // the clock being off does not stop it from measuring intervals
  for (;;) {
    const now = await readRtc();
    if (now !== first || Date.now() > giveUp) return now;
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Checks the clock against the RTC every `intervalMs`, coarsely (the RTC counts whole seconds),
 * and to the millisecond at the start of an RTC second when the coarse check fails or once every
 * `preciseEvery` checks; sets the clock when it is off by more than a quarter second. Returns a
 * stop function.
 */
export function startClockFollower(intervalMs = 1000, preciseEvery = 10): () => void {
  let busy = false;
  let ticks = 0;
  let lastTick = performance.now();
  const tick = async () => {
    // A tick that comes long after the last one: the VM was paused (or berthd stalled). Then the
    // clock is checked precisely at once, not at the next of every tenth tick.
    const now = performance.now();
    const resumed = now - lastTick > 2 * intervalMs;
    lastTick = now;
    if (busy) return;
    busy = true;
    try {
      const coarseOff = clockIsOff(Date.now(), await readRtc());
      if (!coarseOff && !resumed && ticks++ % preciseEvery !== 0) return;
      const second = await nextRtcSecond();
      const offMs = Date.now() - second * 1000;
      if (Math.abs(offMs) <= 250) return;
      await run('date', ['-u', '-s', `@${second}`]);
      log.info('clock set from the RTC (the VM was paused or the host slept)', { offMs });
    } catch (err) {
      // No RTC (another hypervisor's machine) or no permission: nothing to follow.
      log.debug('clock check skipped', { error: err instanceof Error ? err.message : String(err) });
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
