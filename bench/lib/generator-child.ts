/**
 * The load generators' own process (see submissions.ts): it takes one run's settings over IPC,
 * sends, and answers with the run's result. It imports nothing but the generators, so its heap
 * stays small and its collections short.
 */
import autocannon from 'autocannon';
import { openLoop } from './open-loop';
import { commentBody, type SubmissionRun, submissionPath, submissionRequest } from './submission-request';

/** A closed loop (autocannon): `connections` keep-alive connections, each one request at a time. */
export interface ClosedLoad {
  url: string;
  connections: number;
  /** Seconds. */
  duration: number;
  headers?: Record<string, string>;
  /** POSTs of new bench comments (comment `first + i`) instead of GETs of the URL. */
  submissions?: Omit<SubmissionRun, 'port' | 'rate' | 'durationMs' | 'maxConnections'>;
}

export interface ClosedResult {
  /** Seconds the run lasted. */
  duration: number;
  p50: number;
  p99: number;
  statusCounts: Record<string, number>;
  errors: number;
  timeouts: number;
}

export type GeneratorRequest =
  | { run: number; kind: 'open'; opts: SubmissionRun }
  | { run: number; kind: 'closed'; opts: ClosedLoad };

async function closedLoop(load: ClosedLoad): Promise<ClosedResult> {
  const s = load.submissions;
  let k = s?.first ?? 0;
  const r = await autocannon({
    url: load.url,
    connections: load.connections,
    duration: load.duration,
    headers: load.headers,
    requests: s
      ? [
          {
            method: 'POST',
            headers: { 'content-type': 'application/json', origin: s.origin },
            setupRequest: (req) => {
              const n = k++;
              return { ...req, path: submissionPath(s, n), body: commentBody(n, s.formToken) };
            },
          },
        ]
      : undefined,
  });
  const stats =
    (r as unknown as { statusCodeStats?: Record<string, { count: number }> }).statusCodeStats ?? {};
  return {
    duration: r.duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    statusCounts: Object.fromEntries(Object.entries(stats).map(([code, v]) => [code, v.count])),
    errors: r.errors,
    timeouts: r.timeouts,
  };
}

function openLoopRun(opts: SubmissionRun) {
  const accepted: Array<[string, number]> = [];
  return openLoop({
    host: '127.0.0.1',
    port: opts.port,
    rate: opts.rate,
    durationMs: opts.durationMs,
    maxConnections: opts.maxConnections,
    request: (i) => submissionRequest(opts, i),
    onResponse: (_i, status, body, scheduledAt) => {
      if (status === 202) accepted.push([(JSON.parse(body.toString()) as { id: string }).id, scheduledAt]);
    },
  }).then((result) => ({ result, accepted }));
}

process.on('message', (msg: GeneratorRequest) => {
  // The last run's garbage goes now, not as a pause in this one (--expose-gc, given by the parent).
  globalThis.gc?.();
  const cpuBefore = process.cpuUsage();
  const cpuMs = () => {
    const cpu = process.cpuUsage(cpuBefore);
    return (cpu.user + cpu.system) / 1000;
  };
  const work =
    msg.kind === 'open' ? openLoopRun(msg.opts) : closedLoop(msg.opts).then((closed) => ({ closed }));
  work.then(
    (out) => process.send?.({ run: msg.run, ...out, cpuMs: cpuMs() }),
    (err: unknown) => process.send?.({ run: msg.run, error: String(err) }),
  );
});

// The bench that started it has gone: so does the generator.
process.on('disconnect', () => process.exit(0));
process.send?.('ready');
