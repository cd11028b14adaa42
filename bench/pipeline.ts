/**
 * Pipeline throughput: all default rules, default policy, no history, over a fixed generated
 * corpus of comment-like texts. `npx tsx bench/pipeline.ts` prints comments per second.
 */
import { fileURLToPath } from 'node:url';
import { runPipeline } from '../src/moderation/pipeline';
import { defaultPolicy } from '../src/moderation/policy';
import { defaultRules } from '../src/moderation/rules/index';
import type { CommentInput, ModerationContext } from '../src/moderation/types';

const WORDS = (
  'the council vote on the new budget was close and the mayor said she would review the plan ' +
  'residents complained about traffic schools housing taxes and the river park this is a good ' +
  'article thanks for reporting but you are wrong about the numbers idiot check my channel ' +
  'http://example.com/free subscribe now great point I agree completely the minister should resign'
).split(' ');

/** A fixed corpus: deterministic pseudo-random sentences of 5 to 80 words. */
export function corpus(size = 2000): string[] {
  let seed = 12345;
  const next = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 4294967296;
  };
  return Array.from({ length: size }, () => {
    const n = 5 + Math.floor(next() * 75);
    const words = Array.from({ length: n }, () => WORDS[Math.floor(next() * WORDS.length)]!);
    return `${words.join(' ')}.`;
  });
}

export async function benchPipeline(opts: { comments?: number; warmup?: number } = {}): Promise<{
  commentsPerSecond: number;
}> {
  const texts = corpus(2000);
  const total = opts.comments ?? 20_000;
  const ctx: ModerationContext = {
    siteId: 'bench',
    policy: defaultPolicy,
    policyVersion: 1,
    article: { id: 'a', closed: false },
    now: new Date(0),
  };
  const comment = (i: number): CommentInput => ({
    id: String(i),
    body: texts[i % texts.length]!,
    authorName: 'reader',
    signals: { formToken: 'ok', formAgeMs: 30_000 },
    createdAt: new Date(0),
  });
  for (let i = 0; i < (opts.warmup ?? 2000); i++) await runPipeline(defaultRules, comment(i), ctx);
  const start = process.hrtime.bigint();
  for (let i = 0; i < total; i++) await runPipeline(defaultRules, comment(i), ctx);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { commentsPerSecond: Math.round(total / seconds) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { commentsPerSecond } = await benchPipeline();
  console.log(`pipeline: ${commentsPerSecond} comments/s (default rules, one core)`);
}
