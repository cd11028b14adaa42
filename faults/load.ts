/**
 * A bounded load generator: `total` comment submissions spread evenly over `durationMs`, at most
 * `concurrency` in flight, each from a made-up reader address (documentation ranges, sent in
 * X-Forwarded-For through the trusted loopback proxy). A client that gets a 503 or no answer
 * retries with the same Idempotency-Key, as the embed does, a bounded number of times.
 */
import { createHash, randomUUID } from 'node:crypto';
import { sleep } from './procs';

export interface LoadOptions {
  baseUrl: string;
  siteId: string;
  origin: string;
  total: number;
  durationMs: number;
  concurrency: number;
  /** Attempts per comment (first try included). */
  attempts?: number;
  /** Called when the given fraction of the comments has been sent (for fault timing). */
  at?: Array<{ fraction: number; run: () => Promise<void> | void }>;
}

export interface Attempt {
  status: number; // 0 = no HTTP answer (refused, reset, timeout)
  ms: number;
  startedAt: number;
}

export interface LoadResult {
  /** Idempotency key -> comment id, for every comment that got a 202. */
  accepted: Map<string, string>;
  /** Every key sent, accepted or not. */
  keys: string[];
  attempts: Attempt[];
  statusCounts: Record<string, number>;
  /** Addresses used, so the database can be searched for them. */
  ips: Set<string>;
}

/** TEST-NET-2/3 and the IPv6 documentation prefix: never routed, easy to search for. */
export function readerIp(n: number): string {
  if (n % 5 === 4) return `2001:db8::${(n % 65_000).toString(16)}`;
  const net = n % 2 ? '198.51.100' : '203.0.113';
  return `${net}.${1 + (n % 254)}`;
}

const SENTENCES = [
  'The council should publish the full budget before the vote.',
  'I grew up near the harbour and the tide has been rising for years.',
  'Thanks for explaining the numbers so clearly.',
  'Has anyone asked the transport department about the night buses?',
  'The interview with the head teacher was the best part of this piece.',
  'I disagree with the conclusion, but the reporting is fair.',
];

/**
 * The comment for submission `n` under Idempotency-Key `key`: distinct across keys (and runs, as
 * keys carry the run's prefix), the same for every retry under one key, as a real client's retry
 * is. Parley refuses a key reused with a different comment.
 */
export function commentBody(n: number, key: string): string {
  const tag = createHash('sha256').update(key).digest('hex').slice(0, 8);
  return `${SENTENCES[n % SENTENCES.length]} (reader note ${n}, ${tag})`;
}

export async function submitOnce(
  opts: Pick<LoadOptions, 'baseUrl' | 'siteId' | 'origin'>,
  n: number,
  key: string,
  article: string,
  ip: string,
  timeoutMs = 10_000,
): Promise<{ status: number; id?: string; ms: number; startedAt: number }> {
  const startedAt = Date.now();
  try {
    const res = await fetch(`${opts.baseUrl}/api/v1/sites/${opts.siteId}/articles/${article}/comments`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        origin: opts.origin,
        'idempotency-key': key,
        'x-forwarded-for': ip,
        'user-agent': 'parley-faults/1.0',
      },
      body: JSON.stringify({ authorName: `Reader ${n % 997}`, body: commentBody(n, key) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const json = (await res.json().catch(() => ({}))) as { id?: string };
    return {
      status: res.status,
      id: res.status === 202 ? json.id : undefined,
      ms: Date.now() - startedAt,
      startedAt,
    };
  } catch {
    return { status: 0, ms: Date.now() - startedAt, startedAt };
  }
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const result: LoadResult = {
    accepted: new Map(),
    keys: [],
    attempts: [],
    statusCounts: {},
    ips: new Set(),
  };
  const attempts = opts.attempts ?? 4;
  const triggers = [...(opts.at ?? [])].sort((a, b) => a.fraction - b.fraction);
  const faults: Promise<void>[] = [];
  let inFlight = 0;
  const pending = new Set<Promise<void>>();
  const started = Date.now();
  const runId = randomUUID().slice(0, 8);

  const one = async (n: number) => {
    const key = `faults-${runId}-${n}`;
    const ip = readerIp(n);
    result.keys.push(key);
    result.ips.add(ip);
    const article = `story-${n % 7}`;
    for (let a = 0; a < attempts; a++) {
      const r = await submitOnce(opts, n, key, article, ip);
      result.attempts.push({ status: r.status, ms: r.ms, startedAt: r.startedAt });
      result.statusCounts[r.status] = (result.statusCounts[r.status] ?? 0) + 1;
      if (r.status === 202 && r.id) {
        const prior = result.accepted.get(key);
        // The same key answered with two ids would be a duplicate: keep both visible.
        result.accepted.set(key, prior && prior !== r.id ? `${prior},${r.id}` : r.id);
        return;
      }
      if (r.status !== 503 && r.status !== 0) return; // 4xx: do not retry
      await sleep(400 * (a + 1));
    }
  };

  for (let n = 0; n < opts.total; n++) {
    while (triggers.length && n >= triggers[0]!.fraction * opts.total) {
      faults.push(Promise.resolve(triggers.shift()!.run()));
    }
    // Pace: comment n leaves at n/total of the duration, unless the in-flight bound holds it.
    const due = started + (n / opts.total) * opts.durationMs;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    while (inFlight >= opts.concurrency) await Promise.race(pending);
    inFlight++;
    const p: Promise<void> = one(n).finally(() => {
      inFlight--;
      pending.delete(p);
    });
    pending.add(p);
  }
  for (const t of triggers) faults.push(Promise.resolve(t.run()));
  await Promise.all(pending);
  await Promise.all(faults);
  return result;
}
