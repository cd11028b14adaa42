/** Runs the workers' pipeline (defaultRules, default policy, no history) over plain texts, for the CLIs. */
import { runPipeline } from '../../src/moderation/pipeline';
import { defaultPolicy, type Policy } from '../../src/moderation/policy';
import { defaultRules } from '../../src/moderation/rules/index';
import type { CommentInput, ModerationContext, ModerationDecision, Rule } from '../../src/moderation/types';

export interface TextInput {
  id?: string | number;
  text: string;
  author?: string;
  email?: string;
  url?: string;
}

const EPOCH = new Date('2024-01-01T00:00:00Z');

export function toComment(input: TextInput, index: number): CommentInput {
  // The optional `url` is the commenter's website field, part of what spammers post: appended on
  // its own line so that span offsets into `text` stay valid.
  const body = input.url ? `${input.text}\n${input.url}` : input.text;
  return {
    id: String(input.id ?? index),
    body,
    authorName: input.author ?? 'reader',
    authorEmail: input.email ?? null,
    signals: {},
    createdAt: EPOCH,
  };
}

export function contextFor(policy: Policy = defaultPolicy): ModerationContext {
  return {
    siteId: 'cli',
    policy,
    policyVersion: 0,
    article: { id: 'cli', closed: false },
    now: EPOCH,
  };
}

export function moderate(
  input: TextInput,
  index: number,
  policy: Policy = defaultPolicy,
  rules: readonly Rule[] = defaultRules,
): Promise<ModerationDecision> {
  return runPipeline(rules, toComment(input, index), contextFor(policy));
}
