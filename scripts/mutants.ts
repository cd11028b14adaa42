/**
 * Can the tests fail? `npm run mutants [name filter]` applies each hand-written mutant in
 * scripts/mutants.json (one small change to a rule that matters: a security check, a no-loss step,
 * a tenancy filter, a moderation boundary), runs the tests named for it, and puts the file back.
 * A mutant the tests do not catch is a gap in the tests, unless the catalogue says why no test can
 * catch it (`equivalent`: the change does not alter behaviour). Exit status 1 if any other mutant
 * survives, or if one no longer applies (its code changed: update or drop it).
 *
 * Slow by design (a vitest run per mutant, most of them against the real Postgres and Redis): it is
 * a tool to run after changing tests or the code they guard, not part of `npm test`. It rewrites
 * files in this checkout while it runs, and restores each one, also on Ctrl-C.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface Mutant {
  name: string;
  file: string;
  find: string;
  replace: string;
  tests: string[];
  /** Why no test can tell this mutant from the original; absent for every mutant a test must kill. */
  equivalent?: string;
}

const root = join(import.meta.dirname, '..');
const catalogue = JSON.parse(readFileSync(join(import.meta.dirname, 'mutants.json'), 'utf8')) as Mutant[];
const filter = process.argv[2]?.toLowerCase();
const chosen = filter ? catalogue.filter((m) => m.name.toLowerCase().includes(filter)) : catalogue;

let restore: (() => void) | undefined;
let child: ChildProcess | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stopTests();
    restore?.();
    process.exit(130);
  });
}

/** The test run and everything it started (its own process group). */
function stopTests() {
  if (child?.pid) process.kill(-child.pid, 'SIGKILL');
}

/** Whether the tests failed; async, so a signal can put the file back while they run. */
function testsFail(tests: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    child = spawn('npx', ['vitest', 'run', ...tests], { cwd: root, stdio: 'ignore', detached: true });
    const timer = setTimeout(stopTests, 900_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      child = undefined;
      resolve(code !== 0);
    });
  });
}

const counts = { killed: 0, survived: 0, equivalent: 0, stale: 0 };
const problems: string[] = [];
for (const m of chosen) {
  const path = join(root, m.file);
  const original = readFileSync(path, 'utf8');
  const at = original.indexOf(m.find);
  if (at < 0 || original.indexOf(m.find, at + 1) >= 0) {
    counts.stale++;
    problems.push(`stale: ${m.name} (its text is not in ${m.file} exactly once)`);
    console.log(`STALE      ${m.name}`);
    continue;
  }
  restore = () => writeFileSync(path, original);
  writeFileSync(path, original.slice(0, at) + m.replace + original.slice(at + m.find.length));
  let caught: boolean;
  try {
    caught = await testsFail(m.tests);
  } finally {
    restore();
    restore = undefined;
  }
  if (caught && m.equivalent) problems.push(`caught, though listed as equivalent: ${m.name}`);
  if (caught) counts.killed++;
  else if (m.equivalent) counts.equivalent++;
  else {
    counts.survived++;
    problems.push(`survived: ${m.name} (${m.file})`);
  }
  console.log(`${caught ? 'KILLED    ' : m.equivalent ? 'EQUIVALENT' : 'SURVIVED  '} ${m.name}`);
}

console.log(
  `\n${chosen.length} mutants: ${counts.killed} killed, ${counts.survived} survived, ${counts.equivalent} equivalent, ${counts.stale} stale`,
);
for (const p of problems) console.log(`  ${p}`);
process.exit(problems.length ? 1 : 0);
