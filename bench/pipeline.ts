/**
 * Pipeline throughput: all default rules, default policy, no history, over a fixed generated
 * corpus of comment-like texts. `npx tsx bench/pipeline.ts` prints comments per second.
 */
import { fileURLToPath } from 'node:url';
import { runPipeline } from '../src/moderation/pipeline';
import { defaultPolicy } from '../src/moderation/policy';
import { defaultRules } from '../src/moderation/rules/index';
import type { CommentInput, ModerationContext } from '../src/moderation/types';
import { corpus } from './lib/corpus';

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
