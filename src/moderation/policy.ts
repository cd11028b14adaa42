/** A site's moderation policy: validated JSON stored with the site, versioned on every change. */
import { z } from 'zod';

/** Defaults tuned on the dev split (scripts/eval.ts --tune); see docs/moderation.md. */
export const DEFAULT_THRESHOLDS: Record<string, { hold: number; reject: number }> = {
  spam: { hold: 0.6, reject: 0.99 },
  toxicity: { hold: 0.63, reject: 0.995 },
};

/**
 * Text in a policy (words, domains, category and rule names). Policies are stored as jsonb, which
 * cannot hold a NUL or a lone UTF-16 surrogate: refused as invalid rather than failing the save.
 */
const policyText = z
  .string()
  .refine((s) => !/[\u0000\p{Surrogate}]/u.test(s), 'Must not contain NUL or invalid Unicode');

const thresholds = z.object({
  /** Score at or above which a comment is held for a human. */
  hold: z.number().min(0).max(1),
  /** Score at or above which it is rejected outright (should be >= hold). */
  reject: z.number().min(0).max(1),
});

/** A flood-control window: at most `points` submissions per `seconds`; 0 points turns it off. */
export const floodLimitSchema = z.object({
  points: z.number().int().min(0).max(1_000_000),
  seconds: z.number().int().min(1).max(86_400),
});

export const ruleSwitchSchema = z.object({
  enabled: z.boolean().default(true),
  /** Record what the rule would have done without letting it change the outcome. */
  shadow: z.boolean().default(false),
});

export const policySchema = z.object({
  /** Hold every comment for a human, whatever the rules say. */
  premoderate: z.boolean().default(false),
  /**
   * Per category: a verdict's score at or above `hold` holds, at or above `reject` rejects.
   * Defaults were chosen on the dev split only (see docs/moderation.md).
   */
  thresholds: z.record(policyText, thresholds).default(DEFAULT_THRESHOLDS),
  rules: z.record(policyText, ruleSwitchSchema.partial()).default({}),
  maxChars: z.number().int().min(1).max(100_000).default(5000),
  maxLines: z.number().int().min(1).default(60),
  links: z
    .object({
      /** More links than this holds the comment. */
      maxLinks: z.number().int().min(0).default(2),
      holdAnyLink: z.boolean().default(false),
      blockedDomains: z.array(policyText).default([]),
      allowedDomains: z.array(policyText).default([]),
      /** Hold links through URL shorteners (bit.ly, ...), which hide where they go. */
      holdShorteners: z.boolean().default(true),
      /** Hold comments that are nothing but links. */
      holdLinkOnly: z.boolean().default(true),
    })
    .default({
      maxLinks: 2,
      holdAnyLink: false,
      blockedDomains: [],
      allowedDomains: [],
      holdShorteners: true,
      holdLinkOnly: true,
    }),
  words: z
    .object({
      banned: z.array(policyText).default([]),
      suspect: z.array(policyText).default([]),
      allowed: z.array(policyText).default([]),
      /** obscenity's English profanity list: off, held as suspect, or rejected as banned. */
      builtin: z.enum(['off', 'suspect', 'banned']).default('off'),
    })
    .default({ banned: [], suspect: [], allowed: [], builtin: 'off' }),
  bot: z
    .object({
      /** A form filled in faster than this (ms since the form was served) is a bot. */
      minFormMs: z.number().int().min(0).default(2000),
      /** A form token older than this (ms) is stale: held, since the page sat open or was replayed. */
      maxFormAgeMs: z
        .number()
        .int()
        .min(0)
        .default(24 * 3600 * 1000),
      /** Spam score for a missing or invalid token (API clients may post without the embed). */
      tokenProblemScore: z.number().min(0).max(1).default(0.3),
    })
    .default({ minFormMs: 2000, maxFormAgeMs: 24 * 3600 * 1000, tokenProblemScore: 0.3 }),
  velocity: z
    .object({
      /** More recent comments than this from one IP hash (within the worker's window) holds. */
      perIp: z.number().int().min(1).default(10),
      perAuthor: z.number().int().min(1).default(6),
      /** A burst on one article (a brigade or a bot run) holds its new comments. */
      perArticle: z.number().int().min(1).default(300),
    })
    .default({ perIp: 10, perAuthor: 6, perArticle: 300 }),
  duplicates: z
    .object({
      /** Near-duplicates of the same text seen on the site within the window before this holds. */
      minCopies: z.number().int().min(1).default(1),
      /** Reject instead of hold once this many copies exist (copy-paste spam runs). */
      rejectCopies: z.number().int().min(1).default(5),
    })
    .default({ minCopies: 1, rejectCopies: 5 }),
  /** Hold an author's first N comments until a moderator has approved one of theirs. */
  newCommenterHold: z.number().int().min(0).default(0),
  /**
   * How long after posting a reader may edit their own comment (seconds from created_at; 0 turns
   * editing off). Each edit is moderated again, so a longer window costs only moderation time.
   */
  editWindowSeconds: z
    .number()
    .int()
    .min(0)
    .max(7 * 86_400)
    .default(600),
  /**
   * This site's submission and report limits (answered with 429 before anything is stored), each in
   * place of the server's RATE_SUBMIT_PER_* or RATE_REPORT_PER_* setting; a scope left out keeps the
   * server's. A newsroom
   * expecting a breaking-news thread raises `perArticle`; a small site may tighten `perIp`.
   */
  floodControl: z
    .object({
      /** Per reader (HMAC of the client address). */
      perIp: floodLimitSchema.optional(),
      /** Per author (email hash; only submissions that give an email). */
      perAuthor: floodLimitSchema.optional(),
      /** Per article, everyone together. */
      perArticle: floodLimitSchema.optional(),
      /** Reader reports per reader (in place of RATE_REPORT_PER_IP). */
      reportsPerIp: floodLimitSchema.optional(),
      /** Reader reports per comment (in place of RATE_REPORT_PER_COMMENT). */
      reportsPerComment: floodLimitSchema.optional(),
    })
    .default({}),
});

export type Policy = z.infer<typeof policySchema>;
export type PolicyInput = z.input<typeof policySchema>;

export const defaultPolicy: Policy = policySchema.parse({});

/** Parses stored policy JSON; unknown or invalid stored values fall back to defaults field by field. */
export function parsePolicy(raw: unknown): Policy {
  const parsed = policySchema.safeParse(raw ?? {});
  return parsed.success ? parsed.data : defaultPolicy;
}
