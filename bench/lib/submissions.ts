/**
 * The benches' loads, sent from a process of their own: comment submissions at a fixed rate (the
 * open loop), and closed loops of submissions or page reads (autocannon).
 *
 * A generator's own pauses count against the server: the open loop measures from each send's
 * scheduled time, and autocannon times a request until it reads the answer. In the bench's process
 * the generators shared a heap with every phase's results, pools and clients, and its collections
 * paused them for 10-70 ms several times a run (docs/performance.md, round 26): late sends and
 * late reads that the server never saw. One child process, started on first use and reused by
 * every run, holds only the generators, and collects its garbage between runs.
 */
import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import type { ClosedLoad, ClosedResult, GeneratorRequest } from './generator-child';
import type { OpenLoopResult } from './open-loop';
import { ROOT } from './procs';
import type { SubmissionRun } from './submission-request';

export type { ClosedLoad, ClosedResult } from './generator-child';

interface GeneratorReply {
  run: number;
  result?: OpenLoopResult;
  accepted?: Array<[string, number]>;
  closed?: ClosedResult;
  cpuMs?: number;
  error?: string;
}

let child: { proc: ChildProcess; ready: Promise<void> } | undefined;
let runs = 0;
const waiting = new Map<number, (reply: GeneratorReply) => void>();

function generator(): { proc: ChildProcess; ready: Promise<void> } {
  if (child && child.proc.exitCode === null && child.proc.connected) return child;
  const proc = fork(path.join(ROOT, 'bench/lib/generator-child.ts'), [], {
    cwd: ROOT,
    execArgv: ['--expose-gc', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  // It says when it listens: a message sent before that would be lost.
  const ready = new Promise<void>((resolve, reject) => {
    proc.once('error', reject);
    proc.once('exit', () => reject(new Error('load generator exited before it was ready')));
    proc.on('message', (reply: GeneratorReply | 'ready') => {
      if (reply === 'ready') return resolve();
      waiting.get(reply.run)?.(reply);
      waiting.delete(reply.run);
    });
  });
  ready.catch(() => {});
  proc.on('exit', (code, signal) => {
    for (const [run, settle] of waiting) settle({ run, error: `generator exited (${signal ?? code})` });
    waiting.clear();
  });
  // Between runs it must not keep the bench alive; a bench that exits takes it along (disconnect).
  proc.unref();
  proc.channel?.unref();
  child = { proc, ready };
  return child;
}

/** Sends one run to the generator's process and waits for its answer. */
async function runInGenerator(request: Omit<GeneratorRequest, 'run'>): Promise<GeneratorReply> {
  const { proc, ready } = generator();
  const run = ++runs;
  // While a run is out, the channel holds the bench open as any pending I/O would.
  proc.channel?.ref();
  try {
    await ready;
    const reply = await new Promise<GeneratorReply>((resolve) => {
      waiting.set(run, resolve);
      proc.send({ run, ...request } as GeneratorRequest);
    });
    if (reply.error) throw new Error(`load generator failed: ${reply.error}`);
    return reply;
  } finally {
    proc.channel?.unref();
  }
}

export interface SubmissionResult extends OpenLoopResult {
  /** The generator process's CPU time over the run, ms. */
  generatorCpuMs: number;
}

/**
 * Submissions of new bench comments at a fixed rate: comment `first + i` goes to article
 * `breaking-<(first + i) % articles>`. Once the run is over, each 202's comment id is handed to
 * `onAccepted` with the time its send was scheduled.
 */
export async function submitAtRate(
  opts: SubmissionRun & { onAccepted: (commentId: string, scheduledAt: number) => void },
): Promise<SubmissionResult> {
  const { onAccepted, ...run } = opts;
  const reply = await runInGenerator({ kind: 'open', opts: run });
  if (!reply.result || !reply.accepted) throw new Error('load generator answered without a result');
  for (const [commentId, at] of reply.accepted) onAccepted(commentId, at);
  return { ...reply.result, generatorCpuMs: reply.cpuMs ?? 0 };
}

/** A closed loop (autocannon) from the generator's process. */
export async function closedLoop(load: ClosedLoad): Promise<ClosedResult> {
  const reply = await runInGenerator({ kind: 'closed', opts: load });
  if (!reply.closed) throw new Error('load generator answered without a result');
  return reply.closed;
}
