// The rate of the host's TSC. Under TCG a guest's TSC ticks at it (QEMU's rdtsc reads the host's
// counter), so the guest's kernel, told that rate, keeps time; told another, its clock runs fast or
// slow by the ratio (2 GHz on this 2.096 GHz host: 4.8 % fast, stepped back by berthd's clock
// follower every few seconds).
//
// Linux says it without privileges only in one case: /proc/cpuinfo's "cpu MHz" is the kernel's
// calibrated rate (cpu_khz, the TSC's on CPUs of the last decade) when no cpufreq driver and no
// APERF/MPERF counters give a current frequency instead, as in most VMs. Elsewhere it is unknown.
import { existsSync, readFileSync } from 'node:fs';

export interface HostTscSources {
  cpuinfo: string;
  cpufreqDir: string;
}

const LINUX: HostTscSources = { cpuinfo: '/proc/cpuinfo', cpufreqDir: '/sys/devices/system/cpu/cpu0/cpufreq' };

/** The host's TSC rate in kHz, when Linux tells it (see above). */
export function hostTscKhz(sources: HostTscSources = LINUX): number | undefined {
  let cpuinfo: string;
  try {
    cpuinfo = readFileSync(sources.cpuinfo, 'utf8');
  } catch {
    return undefined; // not Linux
  }
  if (existsSync(sources.cpufreqDir) || /^flags\s*:.*\baperfmperf\b/m.test(cpuinfo)) return undefined;
  const mhz = Number(/^cpu MHz\s*:\s*([\d.]+)$/m.exec(cpuinfo)?.[1]);
  return mhz >= 500 && mhz <= 10_000 ? Math.round(mhz * 1000) : undefined;
}
