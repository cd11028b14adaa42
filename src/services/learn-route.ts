/**
 * Moderator decisions become `learn` jobs: every comment.approved, and every comment.rejected whose
 * reason says spam or abuse, decided by a moderator (the system's own decisions teach nothing).
 */
import type { OutboxRow } from '../../db/schema';
import type { AdaptiveLabel } from '../../db/schema/moderation';
import { type LearnJob, learnJobId, QUEUE } from '../queue';
import { registerOutboxRoute } from './outbox-routes';

/**
 * Rejection reason codes (the workspace's, Coral's and a few synonyms) → what the model learns.
 * Reasons that say nothing about the text (off-topic, other, misinformation, illegal) teach nothing:
 * a rejected off-topic comment is not evidence that its words are spam or abuse.
 */
const REJECT_LABEL: Record<string, AdaptiveLabel> = {
  spam: 'spam',
  ad: 'spam',
  ads: 'spam',
  advertising: 'spam',
  scam: 'spam',
  offensive: 'toxic',
  abusive: 'toxic',
  abuse: 'toxic',
  harassment: 'toxic',
  hate_speech: 'toxic',
  hate: 'toxic',
  insult: 'toxic',
  threat: 'toxic',
  toxic: 'toxic',
  toxicity: 'toxic',
  banned_word: 'toxic',
};

export function labelFor(
  topic: string,
  payload: Record<string, unknown> | null | undefined,
): AdaptiveLabel | null {
  if (payload?.actor !== 'moderator') return null;
  if (topic !== 'comment.approved' && topic !== 'comment.rejected') return null;
  // The workspace states the label itself (src/services/moderation-actions.ts, learningLabel).
  if ('label' in payload) {
    const l = payload.label;
    return l === 'ok' || l === 'spam' || l === 'toxic' ? l : null;
  }
  if (topic === 'comment.approved') return 'ok';
  if (topic !== 'comment.rejected') return null;
  const code =
    typeof payload.reasonCode === 'string' ? payload.reasonCode.toLowerCase().replace(/[\s-]+/g, '_') : '';
  return REJECT_LABEL[code] ?? null;
}

export function learnJobsFor(row: OutboxRow) {
  const label = labelFor(row.topic, row.payload);
  if (!label || !row.comment_id) return [];
  const data: LearnJob = { outboxId: String(row.id), siteId: row.site_id, commentId: row.comment_id, label };
  return [{ queue: QUEUE.learn, name: 'learn', data: { ...data }, jobId: learnJobId(row.id) }];
}

let registered = false;

/** Registered by createRuntime, so whichever process publishes the moderator's row adds the job. Idempotent. */
export function registerLearnOutboxRoute(): void {
  if (registered) return;
  registered = true;
  registerOutboxRoute('comment.approved', learnJobsFor);
  registerOutboxRoute('comment.rejected', learnJobsFor);
}
