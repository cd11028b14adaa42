/** A site's moderation policy: validated JSON stored with the site, versioned on every change. */
import { z } from 'zod';

const thresholds = z.object({
  /** Score at or above which a comment is held for a human. */
  hold: z.number().min(0).max(1),
  /** Score at or above which it is rejected outright (should be >= hold). */
  reject: z.number().min(0).max(1),
});

export const ruleSwitchSchema = z.object({
  enabled: z.boolean().default(true),
  /** Record what the rule would have done without letting it change the outcome. */
  shadow: z.boolean().default(false),
});

export const policySchema = z.object({
  /** Hold every comment for a human, whatever the rules say. */
  premoderate: z.boolean().default(false),
  thresholds: z
    .record(z.string(), thresholds)
    .default({ spam: { hold: 0.5, reject: 0.98 }, toxicity: { hold: 0.5, reject: 0.98 } }),
  rules: z.record(z.string(), ruleSwitchSchema.partial()).default({}),
  maxChars: z.number().int().min(1).max(100_000).default(5000),
  maxLines: z.number().int().min(1).default(60),
  links: z
    .object({
      /** More links than this holds the comment. */
      maxLinks: z.number().int().min(0).default(2),
      holdAnyLink: z.boolean().default(false),
      blockedDomains: z.array(z.string()).default([]),
      allowedDomains: z.array(z.string()).default([]),
    })
    .default({ maxLinks: 2, holdAnyLink: false, blockedDomains: [], allowedDomains: [] }),
  words: z
    .object({
      banned: z.array(z.string()).default([]),
      suspect: z.array(z.string()).default([]),
      allowed: z.array(z.string()).default([]),
    })
    .default({ banned: [], suspect: [], allowed: [] }),
  /** Hold an author's first N comments until a moderator has approved one of theirs. */
  newCommenterHold: z.number().int().min(0).default(0),
});

export type Policy = z.infer<typeof policySchema>;
export type PolicyInput = z.input<typeof policySchema>;

export const defaultPolicy: Policy = policySchema.parse({});

/** Parses stored policy JSON; unknown or invalid stored values fall back to defaults field by field. */
export function parsePolicy(raw: unknown): Policy {
  const parsed = policySchema.safeParse(raw ?? {});
  return parsed.success ? parsed.data : defaultPolicy;
}
