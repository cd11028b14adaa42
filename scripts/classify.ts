/**
 * `npm run classify -- FILE.jsonl`: one JSON line per input line, in order, with the decision of
 * the workers' pipeline under the default policy and no history. Diagnostics go to stderr only.
 */
import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { verdictOutcome } from '../src/moderation/pipeline';
import { defaultPolicy } from '../src/moderation/policy';
import { moderate, type TextInput } from './lib/runner';

async function main() {
  const file = process.argv[2];
  if (!file || !existsSync(file)) {
    console.error('usage: npm run classify -- FILE.jsonl   (each line: {"id", "text", ...})');
    process.exit(2);
  }
  const lines = createInterface({
    input: createReadStream(file, 'utf8'),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let n = 0;
  for await (const line of lines) {
    if (!line.trim()) continue;
    let input: TextInput;
    try {
      input = JSON.parse(line) as TextInput;
    } catch {
      console.error(`classify: line ${n + 1} is not JSON; skipped`);
      continue;
    }
    const d = await moderate({ ...input, text: String(input.text ?? '') }, n);
    // Reasons: every verdict that asked for more than publishing (shadow ones say so), in rule order.
    const reasons = d.verdicts
      .filter((v) => verdictOutcome(v, defaultPolicy) !== 'publish')
      .map((v) => ({
        rule: v.rule,
        code: v.code,
        message: v.message,
        ...(v.spans ? { spans: v.spans } : {}),
        ...(v.shadow ? { shadow: true } : {}),
      }));
    const out = {
      id: input.id ?? null,
      decision: d.outcome,
      scores: { spam: round(d.scores.spam ?? 0), toxicity: round(d.scores.toxicity ?? 0) },
      reasons,
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
    n++;
  }
}

const round = (p: number) => Math.round(p * 10000) / 10000;

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
