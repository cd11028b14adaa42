/** When a failed delivery is tried again: Svix's schedule, with jitter, honouring Retry-After. */

/** Delay before try n+1 after n failed tries (index 0 is the first try: immediately). */
export const RETRY_SCHEDULE_MS = [
  0,
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3600_000,
  5 * 3600_000,
  10 * 3600_000,
  10 * 3600_000,
] as const;

/** An endpoint that has failed for this long without a single success is disabled. */
export const DISABLE_AFTER_MS = 5 * 24 * 3600_000;

/** Retry-After beyond this is capped: a receiver cannot park a message for ever. */
export const MAX_RETRY_AFTER_MS = 24 * 3600_000;

/** ±10 %: enough to spread a burst of retries after an outage, small enough to keep the schedule. */
export const JITTER = 0.1;

/**
 * The delay before the next try, or undefined when `failedTries` has used the whole schedule.
 * `random` in [0, 1) is injectable so tests can pin the jitter.
 */
export function nextDelayMs(
  failedTries: number,
  opts: { retryAfterMs?: number; random?: () => number } = {},
): number | undefined {
  const base = RETRY_SCHEDULE_MS[failedTries];
  if (base === undefined) return undefined;
  const r = (opts.random ?? Math.random)();
  let delay = Math.round(base * (1 + JITTER * (2 * r - 1)));
  if (opts.retryAfterMs !== undefined)
    delay = Math.max(delay, Math.min(opts.retryAfterMs, MAX_RETRY_AFTER_MS));
  return delay;
}

/** Retry-After as delta-seconds or an HTTP date, in ms from `nowMs`; undefined if absent or invalid. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d{1,10}$/.test(v)) return Number(v) * 1000;
  // Only the IMF-fixdate senders must use (RFC 9110); Date.parse alone accepts things like '-5'.
  if (!/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}
