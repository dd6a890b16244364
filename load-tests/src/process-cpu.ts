import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * CPU time a process has used, read from /proc (Linux). On a shared 2-core machine the load
 * generator and the server compete for the cores, so requests per second swing with whatever else
 * runs; the server's CPU time per request does not, which makes it the steadier number to compare.
 */

let ticksPerSecond: number | undefined;

function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** CPU milliseconds `pid` has spent in its own code (user) and in the kernel on its behalf (system). */
export interface ProcessCpuTimes {
  userMs: number;
  systemMs: number;
}

/** The user and system CPU time of `pid`, or undefined where /proc is not available. */
export function processCpuTimes(pid: number): ProcessCpuTimes | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; the fields after it are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const millisPerTick = 1000 / clockTicksPerSecond();
    return { userMs: Number(fields[11]) * millisPerTick, systemMs: Number(fields[12]) * millisPerTick };
  } catch {
    return undefined;
  }
}

/** User plus system CPU milliseconds of `pid`, or undefined where /proc is not available. */
export function cpuTimeMs(pid: number): number | undefined {
  const times = processCpuTimes(pid);
  return times === undefined ? undefined : times.userMs + times.systemMs;
}
