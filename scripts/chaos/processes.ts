import { readdirSync, readFileSync } from 'node:fs';

/**
 * What a suite's processes use, read from Linux's /proc: the tree under the vitest process
 * (its worker, the service nodes, a redis-server) with their resident memory, and, after the
 * suite exits, any process that still carries the run's marker in its environment: every child a
 * suite spawns inherits it, so an orphan the tree no longer shows is still found.
 */

interface ProcessInfo {
  pid: number;
  parentPid: number;
  rssKiB: number;
}

function readProcess(pid: number): ProcessInfo | undefined {
  try {
    const fields = new Map(
      readFileSync(`/proc/${pid}/status`, 'utf8')
        .split('\n')
        .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()]),
    );
    // A zombie or a kernel thread has no VmRSS line: it holds no memory of its own.
    const rssKiB = Number.parseInt(fields.get('VmRSS') ?? '0', 10);
    return { pid, parentPid: Number.parseInt(fields.get('PPid') ?? '0', 10), rssKiB };
  } catch {
    // It exited between the listing and the read.
    return undefined;
  }
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

/** The process `rootPid` and all its descendants: how many, and their resident memory in MiB. */
export function sampleTree(rootPid: number): { processes: number; rssMiB: number } {
  const processes = allPids()
    .map(readProcess)
    .filter((info): info is ProcessInfo => info !== undefined);
  const children = new Map<number, ProcessInfo[]>();
  for (const info of processes) children.set(info.parentPid, [...(children.get(info.parentPid) ?? []), info]);
  const root = processes.find((info) => info.pid === rootPid);
  if (root === undefined) return { processes: 0, rssMiB: 0 };
  const tree: ProcessInfo[] = [root];
  for (let index = 0; index < tree.length; index++) tree.push(...(children.get(tree[index]!.pid) ?? []));
  return { processes: tree.length, rssMiB: tree.reduce((sum, info) => sum + info.rssKiB, 0) / 1_024 };
}

/** Live processes whose environment holds `marker` (`NAME=value`), with their command lines. */
export function processesMarked(marker: string): { pid: number; command: string }[] {
  const found: { pid: number; command: string }[] = [];
  for (const pid of allPids()) {
    if (pid === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(marker)) continue;
      const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
      found.push({ pid, command: command.length > 120 ? `${command.slice(0, 117)}...` : command });
    } catch {
      // Gone, or not ours to read: not a process of this run.
    }
  }
  return found;
}
