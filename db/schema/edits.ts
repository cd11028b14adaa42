/** Row types for readers' edits of their own comments (migration 2026-12-03T0100-comment-edits). */
import type { Generated, Selectable } from 'kysely';
import type { Timestamp } from './core';

declare module './core' {
  interface CommentsTable {
    /** When its author last edited it; null if never. */
    edited_at: Generated<Date | null>;
    /** How many times it was edited: 0 is the text as first posted. */
    revision: Generated<number>;
  }
  interface ModerationDecisionsTable {
    /** The comment's revision the decision was made on. */
    revision: Generated<number>;
  }
}

/** A text an edit replaced, kept for moderators. */
export interface CommentRevisionsTable {
  id: Generated<string>;
  comment_id: string;
  site_id: string;
  revision: number;
  body: string;
  created_at: Timestamp;
  replaced_at: Timestamp;
}

export interface EditsTables {
  comment_revisions: CommentRevisionsTable;
}

export type CommentRevision = Selectable<CommentRevisionsTable>;
