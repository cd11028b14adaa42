/**
 * A diagnostic for benchmark runs: every Node process started with
 *   NODE_OPTIONS="--require ./bench/pause-log.cjs" npm run bench
 * (the bench, its load generator, the API and the workers alike) appends to
 * $PAUSE_LOG_DIR/<pid>.log (default: parley-pauses in the system's temp folder) one line per
 * garbage collection of 3 ms or more and per event-loop stall of 10 ms or more, with wall-clock
 * milliseconds comparable with Postgres timestamps:
 *   start <role> <ms>            gc <role> <ms> <duration> kind=<1 minor, 4 major, 8 incremental>
 *   lag <role> <ms> <late by>
 * Paired with bench/load-latency.ts's BENCH_DUMP, it says what the slowest comments coincided
 * with (round 26 of docs/performance.md found the bench's own collections this way). CommonJS so
 * that --require loads it before anything else, in every process.
 */
const { PerformanceObserver, performance } = require('node:perf_hooks');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const dir = process.env.PAUSE_LOG_DIR || path.join(os.tmpdir(), 'parley-pauses');
fs.mkdirSync(dir, { recursive: true });
const out = fs.openSync(path.join(dir, `${process.pid}.log`), 'a');
const wall = (t) => (performance.timeOrigin + t).toFixed(1);
const args = process.argv.slice(1).join(' ');
const role = args.includes('server.ts')
  ? 'api'
  : args.includes('workers')
    ? 'workers'
    : args.includes('generator-child')
      ? 'generator'
      : args.includes('bench/')
        ? 'bench'
        : 'other';
fs.writeSync(out, `start ${role} ${wall(performance.now())}\n`);

new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if (e.duration >= 3)
      fs.writeSync(out, `gc ${role} ${wall(e.startTime)} ${e.duration.toFixed(1)} kind=${e.detail?.kind}\n`);
  }
}).observe({ entryTypes: ['gc'] });

// A 5 ms timer that fires late by 10 ms or more: the loop was busy, or the process was not running.
let last = performance.now();
setInterval(() => {
  const now = performance.now();
  const late = now - last - 5;
  if (late >= 10) fs.writeSync(out, `lag ${role} ${wall(now)} ${late.toFixed(1)}\n`);
  last = now;
}, 5).unref();
