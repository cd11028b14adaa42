/**
 * Groups concurrent calls into one batch call ("group commit"): while a batch is in flight, new
 * items queue up and go together in the next one. Under load this turns N round trips into one;
 * when idle an item goes out alone at once, so it adds no latency.
 */
export interface BatcherOptions {
  maxBatch: number;
  /** Batches that may run at the same time. */
  maxInFlight: number;
  /**
   * Under a steady stream of calls, a batch that could start with fewer than `below` items waits
   * until its first item is `ms` old, for others to join. Each batch has fixed costs downstream as
   * well as here (for ingest: a statement, a queue job and the worker's round trips for it), and at
   * moderate rates, where batches hold a few items, those costs are most of the machine's work.
   * Only an item that came within `ms` of the one before it may wait: a lone call on a quiet
   * server still goes at once, and a batch of `below` or more never waits.
   */
  linger?: { ms: number; below: number };
}

interface Pending<I, O> {
  item: I;
  resolve: (o: O) => void;
  reject: (e: unknown) => void;
  /** When it was queued (performance.now()). */
  at: number;
  /** It came within linger.ms of the call before it. */
  streaming: boolean;
}

/** `handler` returns one result per item, in order; an Error in a slot rejects only that item. */
export function createBatcher<I, O>(
  handler: (items: I[]) => Promise<Array<O | Error>>,
  opts: BatcherOptions,
): (item: I) => Promise<O> {
  const queue: Pending<I, O>[] = [];
  let inFlight = 0;
  const linger = opts.linger && opts.linger.ms > 0 ? opts.linger : null;
  let lastCall = Number.NEGATIVE_INFINITY;
  let lingerTimer: ReturnType<typeof setTimeout> | null = null;

  /** How much longer the next batch should wait for company; 0 to start it now. */
  const lingerLeft = (): number => {
    const head = queue[0];
    if (!linger || !head?.streaming || queue.length >= linger.below) return 0;
    return Math.max(0, linger.ms - (performance.now() - head.at));
  };

  const pump = () => {
    if (lingerTimer) {
      clearTimeout(lingerTimer);
      lingerTimer = null;
    }
    while (inFlight < opts.maxInFlight && queue.length) {
      const wait = lingerLeft();
      if (wait > 0) {
        lingerTimer = setTimeout(pump, wait);
        return;
      }
      const batch = queue.splice(0, opts.maxBatch);
      inFlight++;
      handler(batch.map((p) => p.item))
        .then(
          (results) => {
            batch.forEach((p, i) => {
              const r = results[i];
              if (r instanceof Error) p.reject(r);
              else if (r === undefined && results.length <= i)
                p.reject(new Error('batch handler returned too few results'));
              else p.resolve(r as O);
            });
          },
          (err) => {
            for (const p of batch) p.reject(err);
          },
        )
        .finally(() => {
          inFlight--;
          pump();
        });
    }
  };

  return (item: I) =>
    new Promise<O>((resolve, reject) => {
      const at = linger ? performance.now() : 0;
      const streaming = linger !== null && at - lastCall < linger.ms;
      lastCall = at;
      queue.push({ item, resolve, reject, at, streaming });
      // Deferred by a microtask so calls made in the same tick share a batch.
      if (queue.length === 1) queueMicrotask(pump);
      // A lingering batch that has filled up goes now.
      else if (lingerTimer && linger && queue.length === linger.below) queueMicrotask(pump);
    });
}
