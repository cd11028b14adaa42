/**
 * How far back the fan-out sweep must look. The sweep only takes rows old enough that their own
 * fan-out job should have run (`ageMs`), so a fixed window of the newest ids would, at a high
 * enough write rate, hold only rows too young to take and never reach the old ones. Instead each
 * pass notes the newest id it saw, and once a pass has run at least `ageMs` after such a note
 * without being cut short by its limit, every row up to that id was old enough for it and was
 * looked at: the next passes need only the ids after it.
 *
 * Pure: the caller passes times and ids (ids as decimal strings, as Postgres bigints arrive).
 */
export interface SweepCursor {
  /** Ids above this still need a look (null: not known yet, the caller's fixed window applies). */
  readonly from: string | null;
  /**
   * A pass ran at `at` with `top` the newest id it saw beforehand; `full` when it stopped at its
   * limit (rows may be left, so nothing is settled).
   */
  passed(pass: { at: number; top: string; full: boolean }): void;
}

/** At most this many notes are kept: a sweep that keeps hitting its limit must not grow memory. */
const MAX_MARKS = 64;

export function createSweepCursor(ageMs: number, start: string | null = null): SweepCursor {
  let from = start;
  const marks: Array<{ at: number; top: bigint }> = [];
  return {
    get from() {
      return from;
    },
    passed({ at, top, full }) {
      if (!full) {
        while (marks.length && marks[0]!.at <= at - ageMs) {
          const settled = marks.shift()!.top;
          if (from === null || settled > BigInt(from)) from = String(settled);
        }
      }
      marks.push({ at, top: BigInt(top) });
      if (marks.length > MAX_MARKS) marks.shift();
    },
  };
}
