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
