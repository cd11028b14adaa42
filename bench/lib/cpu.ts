/**
 * CPU time used by a process and by the local Postgres and Redis servers, from /proc (Linux). On a
 * machine shared with other work, CPU milliseconds per accepted comment are steadier than
 * throughput: they do not drop when another program takes the cores. Postgres and Redis serve
 * everyone on this machine, so their share is only an upper bound.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;

function procCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at ") ".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

function commandOf(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** CPU ms of every process whose command name starts with `comm`, by pid. */
function byCommand(comm: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    if (commandOf(pid).startsWith(comm)) out.set(pid, procCpuMs(Number(pid)));
  }
  return out;
}

export interface CpuSnapshot {
  processes: number;
  postgres: Map<string, number>;
  redis: Map<string, number>;
}

export function cpuSnapshot(pids: number[]): CpuSnapshot {
  return {
    processes: pids.reduce((s, p) => s + procCpuMs(p), 0),
    postgres: byCommand('postgres'),
    redis: byCommand('redis-server'),
  };
}

/**
 * What processes used between two snapshots: processes alive at the end only (a backend that
 * exited in between, say another test's connection, would otherwise count negative).
 */
function delta(a: Map<string, number>, b: Map<string, number>): number {
  let total = 0;
  for (const [pid, ms] of b) total += ms - (a.get(pid) ?? 0);
  return total;
}

/** CPU ms per unit of work between two snapshots. */
export function cpuPer(a: CpuSnapshot, b: CpuSnapshot, units: number) {
  const per = (x: number) => Math.round((x / Math.max(1, units)) * 1000) / 1000;
  return {
    process: per(b.processes - a.processes),
    postgres: per(delta(a.postgres, b.postgres)),
    redis: per(delta(a.redis, b.redis)),
  };
}
