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
