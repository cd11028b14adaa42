/**
 * Learning from moderators: a per-site correction to the shipped model, trained online by SGD on
 * the site's own decisions (approve = ok, reject as spam or as abuse). The site's margin is added to
 * the shipped model's log-odds, so with no decisions it changes nothing and with a few hundred it
 * learns, for example, that this site's readers discuss "shooting" in a sports sense.
 *
 * The state is plain JSON (sparse weights folded into 2^16 buckets), so the worker can persist it
 * per site (e.g. a jsonb column) and pass it as `ctx.adaptive`. Every function here is pure: update
 * returns a new state and never mutates its input.
 */
import { type Model, scoreText, shippedModel, sigmoid, type TextScores } from './classifier';
import type { Features } from './features';

export const ADAPTIVE_BITS = 16;
const MASK = (1 << ADAPTIVE_BITS) - 1;
/**
 * Step size: a few hundred decisions move the site's scores, and small enough not to over-correct a
 * base model that is already length-calibrated (0.25 cut false holds but cost 0.02 AUC on replay).
 */
const LEARNING_RATE = 0.05;
/** Shrinks weights a little every update, so old decisions fade and one odd label cannot dominate. */
const DECAY = 0.999;

export type ModeratorLabel = 'ok' | 'spam' | 'toxic';

export interface AdaptiveHead {
  bias: number;
  /** bucket (as a decimal string) → weight. */
  weights: Record<string, number>;
}

export interface AdaptiveState {
  version: 1;
  updates: number;
  spam: AdaptiveHead;
  toxicity: AdaptiveHead;
}

export function emptyAdaptiveState(): AdaptiveState {
  return { version: 1, updates: 0, spam: { bias: 0, weights: {} }, toxicity: { bias: 0, weights: {} } };
}

/** The site's log-odds correction for one head over all features of a body. */
export function siteMargin(head: AdaptiveHead, f: Features): number {
  if (!f.count) return head.bias;
  let z = 0;
  for (let i = 0; i < f.count; i++) z += head.weights[f.buckets[i]! & MASK] ?? 0;
  return head.bias + z / Math.sqrt(f.count);
}

export interface AdaptedScores {
  spam: number;
  toxicity: number;
}

/** Combines shipped scores with a site's correction: the margins add. */
export function adaptScores(base: TextScores, state: AdaptiveState | undefined): AdaptedScores {
  if (!state || state.updates === 0) return { spam: base.spam, toxicity: base.toxicity };
  return {
    spam: sigmoid(base.spamMargin + siteMargin(state.spam, base.features)),
    toxicity: sigmoid(base.toxicityMargin + siteMargin(state.toxicity, base.features)),
  };
}

/** Scores a body for a site: shipped model plus the site's correction. */
export function scoreForSite(body: string, state: AdaptiveState | undefined, model: Model = shippedModel()) {
  return adaptScores(scoreText(model, body), state);
}

function step(head: AdaptiveHead, f: Features, baseMargin: number, target: 0 | 1): AdaptiveHead {
  const weights: Record<string, number> = {};
  for (const [k, w] of Object.entries(head.weights)) {
    const d = w * DECAY;
    if (Math.abs(d) > 1e-4) weights[k] = d;
  }
  const next = { bias: head.bias * DECAY, weights };
  const p = sigmoid(baseMargin + siteMargin(next, f));
  const g = p - target;
  const v = 1 / Math.sqrt(Math.max(1, f.count));
  for (let i = 0; i < f.count; i++) {
    const k = String(f.buckets[i]! & MASK);
    weights[k] = Math.round(((weights[k] ?? 0) - LEARNING_RATE * g * v) * 1e5) / 1e5;
  }
  next.bias -= LEARNING_RATE * g * 0.02;
  return next;
}

/**
 * One moderator decision. `ok` (approved) teaches both heads that this kind of text is fine;
 * `spam` or `toxic` (rejected for that reason) teaches only the matching head.
 */
export function update(
  state: AdaptiveState,
  text: string,
  label: ModeratorLabel,
  model: Model = shippedModel(),
): AdaptiveState {
  const base = scoreText(model, text);
  const f = base.features;
  return {
    version: 1,
    updates: state.updates + 1,
    spam: label === 'toxic' ? state.spam : step(state.spam, f, base.spamMargin, label === 'spam' ? 1 : 0),
    toxicity:
      label === 'spam'
        ? state.toxicity
        : step(state.toxicity, f, base.toxicityMargin, label === 'toxic' ? 1 : 0),
  };
}
