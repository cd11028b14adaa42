/**
 * Groups concurrent calls into one batch call ("group commit"): while a batch is in flight, new
 * items queue up and go together in the next one. Under load this turns N round trips into one;
 * when idle an item goes out alone at once, so it adds no latency.
 */
export interface BatcherOptions {
  maxBatch: number;
  /** Batches that may run at the same time. */
  maxInFlight: number;
}

interface Pending<I, O> {
  item: I;
  resolve: (o: O) => void;
  reject: (e: unknown) => void;
}

/** `handler` returns one result per item, in order; an Error in a slot rejects only that item. */
export function createBatcher<I, O>(
  handler: (items: I[]) => Promise<Array<O | Error>>,
  opts: BatcherOptions,
): (item: I) => Promise<O> {
  const queue: Pending<I, O>[] = [];
  let inFlight = 0;

  const pump = () => {
    while (inFlight < opts.maxInFlight && queue.length) {
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
      queue.push({ item, resolve, reject });
      // Deferred by a microtask so calls made in the same tick share a batch.
      if (queue.length === 1) queueMicrotask(pump);
    });
}
