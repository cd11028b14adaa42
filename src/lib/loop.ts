/** A periodic task that never overlaps itself and stops promptly. */
export interface Loop {
  /** Runs the task now (coalesced with a run in progress). */
  kick(): void;
  stop(): Promise<void>;
}

export function startLoop(
  task: () => Promise<unknown>,
  intervalMs: number,
  onError: (err: unknown) => void,
): Loop {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;

  const run = () => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    clearTimeout(timer);
    running = task()
      .then(
        () => {},
        (err) => onError(err),
      )
      .finally(() => {
        running = undefined;
        if (stopped) return;
        if (again) {
          again = false;
          run();
        } else {
          timer = setTimeout(run, intervalMs);
        }
      });
  };
  timer = setTimeout(run, intervalMs);

  return {
    kick: run,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

/** How long a forced close (after the grace) may take before a shutdown stops waiting for it. */
export const FORCED_CLOSE_MS = 3_000;

/**
 * True once `work` settles (resolved or rejected), false if `ms` pass first. For closes, which
 * must end: a pass or a forced worker close stuck on a connection that never answers (seen after a
 * Redis Cluster failover under load) would otherwise hold the close until the entrypoint's deadline
 * kills the process with an error, and an embedding test's teardown for ever. What is left running
 * is leased or idempotent work, taken up again after the restart.
 */
export async function settlesWithin(work: Promise<unknown> | undefined, ms: number): Promise<boolean> {
  if (!work) return true;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(false), Math.max(0, ms));
        timer.unref();
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs of a task per key: never two at once for one key, and a kick during a run asks for one more. */
export interface KeyedKicks {
  /**
   * Runs the task for `key` now, or once more after the run in progress. Resolves when a run that
   * started after this call has ended (its errors go to onError, never to the caller).
   */
  kick(key: string): Promise<void>;
  /** Settles when every run started so far, and the reruns they were asked for, has ended. */
  idle(): Promise<void>;
}

export function keyedKicks(
  task: (key: string) => Promise<unknown>,
  onError: (err: unknown) => void,
): KeyedKicks {
  const runs = new Map<string, { again: boolean; done: Promise<void> }>();
  return {
    kick(key) {
      const current = runs.get(key);
      if (current) {
        current.again = true;
        return current.done;
      }
      const state = { again: false, done: Promise.resolve() };
      state.done = (async () => {
        do {
          state.again = false;
          await task(key).then(
            () => {},
            (err) => onError(err),
          );
        } while (state.again);
        runs.delete(key);
      })();
      runs.set(key, state);
      return state.done;
    },
    async idle() {
      await Promise.all([...runs.values()].map((r) => r.done));
    },
  };
}
