/**
 * Accepting a comment: one statement writes the comment (pending) and its outbox row, then the
 * caller may answer 202. Concurrent submissions are grouped into one multi-row statement.
 */
import type { Kysely } from 'kysely';
import type { CommentStatus, Database, NewComment, SubmissionSignals } from '../../db/schema';
import { type BatcherOptions, createBatcher } from '../lib/batcher';
import { AppError } from '../lib/errors';
import { uuidv7 } from '../lib/ids';
import { TtlCache } from '../lib/ttl-cache';
import type { Queues } from '../queue';
import { type ArticleRef, articleKey, ensureArticles, findArticles } from '../repositories/articles';
import {
  findByIdempotencyKeys,
  findParents,
  insertCommentsAnnounced,
  type ParentInfo,
} from '../repositories/comments';
import { fingerprintColumns } from '../repositories/duplicates';
import { attachModerationHint } from './outbox-routes';
import { createCoalescingPublisher } from './publish-coalescer';

export interface Submission {
  siteId: string;
  articleExternalId: string;
  articleUrl?: string | null;
  articleTitle?: string | null;
  parentId?: string | null;
  authorName: string;
  authorEmail?: string | null;
  emailHash?: string | null;
  body: string;
  ipHash?: string | null;
  userAgent?: string | null;
  referrer?: string | null;
  signals: SubmissionSignals;
  idempotencyKey?: string | null;
  requestId?: string | null;
}

export interface Accepted {
  id: string;
  status: CommentStatus;
  articleId: string;
  createdAt: Date;
  /** True when an earlier submission with the same Idempotency-Key is being returned. */
  replayed: boolean;
}

export interface IngestDeps {
  db: Kysely<Database>;
  queues: Queues;
  maxBatch: number;
  maxInFlight: number;
  /** Absent, every batch starts at once. */
  linger?: BatcherOptions['linger'];
  cacheTtlMs: number;
  onCommitted?: (count: number) => void;
  /** A submission Postgres refused after validation passed it: a gap in validation to close. */
  onRefused?: (err: unknown, siteId: string) => void;
}

type Slot = Accepted | Error;

export function createIngestor(deps: IngestDeps) {
  // Articles are cached once seen; a closed article may accept comments for up to the TTL, and the
  // worker's closed-article rule rejects those, so the cache never lets one through.
  const articles = new TtlCache<string, ArticleRef>(deps.cacheTtlMs, 50_000);
  // Outbox rows of batches committed close together reach Redis together.
  const publish = createCoalescingPublisher(deps.db, deps.queues);

  const refreshArticles = async (due: Array<[string, ArticleRef]>) =>
    findArticles(
      deps.db,
      due.map(([, a]) => ({ siteId: a.siteId, externalId: a.externalId })),
    );

  /**
   * Articles come from the cache or are found or created by their own statement, which commits
   * before any comment of this batch points at them: the cache only ever holds committed rows.
   */
  async function resolveArticles(items: Submission[]) {
    const out = new Map<string, ArticleRef>();
    const misses: Submission[] = [];
    for (const s of items) {
      const k = articleKey(s.siteId, s.articleExternalId);
      const hit = articles.get(k);
      if (hit) out.set(k, hit);
      else misses.push(s);
    }
    // Those about to expire are read again off this batch's path (see TtlCache).
    articles.refreshAhead(out.keys(), refreshArticles);
    if (misses.length) {
      const found = await ensureArticles(
        deps.db,
        misses.map((s) => ({
          siteId: s.siteId,
          externalId: s.articleExternalId,
          url: s.articleUrl,
          title: s.articleTitle,
        })),
      );
      for (const [k, v] of found) {
        out.set(k, v);
        articles.set(k, v);
      }
    }
    return out;
  }

  /** Parents of the batch's replies (read committed, as the transaction used to see them). */
  async function resolveParents(items: Submission[]) {
    const parents = new Map<string, ParentInfo>();
    const bySite = new Map<string, Set<string>>();
    for (const s of items) {
      if (!s.parentId) continue;
      const ids = bySite.get(s.siteId) ?? new Set<string>();
      ids.add(s.parentId);
      bySite.set(s.siteId, ids);
    }
    for (const [siteId, ids] of bySite) {
      for (const [id, p] of await findParents(deps.db, siteId, [...ids])) parents.set(id, p);
    }
    return parents;
  }

  /**
   * One batch. In the common case (articles cached, no replies, no repeated Idempotency-Key) this is
   * a single statement, which writes the comments and their outbox rows atomically and commits:
   * one round trip to Postgres for the whole batch.
   */
  async function handleBatch(items: Submission[]): Promise<Slot[]> {
    const results: Slot[] = new Array(items.length);
    const arts = await resolveArticles(items);
    const parents = await resolveParents(items);

    const rows: NewComment[] = [];
    const rowIndex: number[] = [];
    const seenKeys = new Map<string, number>();
    items.forEach((s, i) => {
      const art = arts.get(articleKey(s.siteId, s.articleExternalId));
      if (!art) {
        results[i] = AppError.notFound('Article');
        return;
      }
      if (art.closed) {
        results[i] = new AppError(403, 'article_closed', 'This article is closed for comments');
        return;
      }
      let rootId: string | null = null;
      if (s.parentId) {
        const p = parents.get(s.parentId);
        if (!p || p.articleId !== art.id || p.status !== 'published') {
          results[i] = invalidParent();
          return;
        }
        rootId = p.rootId ?? p.id;
      }
      if (s.idempotencyKey) {
        const k = `${s.siteId}\u0000${s.idempotencyKey}`;
        if (seenKeys.has(k)) return; // resolved below from the first row with this key
        seenKeys.set(k, i);
      }
      const now = new Date();
      rows.push({
        id: uuidv7(now.getTime()),
        site_id: s.siteId,
        article_id: art.id,
        parent_id: s.parentId ?? null,
        root_id: rootId,
        author_name: s.authorName,
        author_email: s.authorEmail ?? null,
        email_hash: s.emailHash ?? null,
        body: s.body,
        status: 'pending',
        ip_hash: s.ipHash ?? null,
        user_agent: s.userAgent ?? null,
        referrer: s.referrer ?? null,
        signals: JSON.stringify(s.signals),
        idempotency_key: s.idempotencyKey ?? null,
        request_id: s.requestId ?? null,
        created_at: now,
        updated_at: now,
        // Near-duplicate fingerprint, so the worker finds copies with an index probe.
        ...fingerprintColumns(s.body),
      });
      rowIndex.push(i);
    });

    const { inserted, outbox } = await publish.carryingMarks((deleting) =>
      insertCommentsAnnounced(deps.db, rows, 'comment.submitted', deleting),
    );

    // Rows skipped by ON CONFLICT were submitted before with the same Idempotency-Key.
    const replayKeys = new Map<string, string[]>();
    rows.forEach((r, j) => {
      const i = rowIndex[j]!;
      if (inserted.has(r.id)) {
        results[i] = {
          id: r.id,
          status: 'pending',
          articleId: r.article_id,
          createdAt: r.created_at as Date,
          replayed: false,
        };
      } else if (r.idempotency_key) {
        replayKeys.set(r.site_id, [...(replayKeys.get(r.site_id) ?? []), r.idempotency_key]);
      }
    });
    for (const [siteId, keys] of replayKeys) {
      for (const found of await findByIdempotencyKeys(deps.db, siteId, keys)) {
        rows.forEach((r, j) => {
          if (r.site_id === siteId && r.idempotency_key === found.idempotency_key && !inserted.has(r.id)) {
            results[rowIndex[j]!] = sameComment(storedIdentity(found), storedIdentity(r))
              ? {
                  id: found.id,
                  status: found.status,
                  articleId: r.article_id,
                  createdAt: r.created_at as Date,
                  replayed: true,
                }
              : keyReused();
          }
        });
      }
    }

    // A reply left out by the statement: its parent stopped being published after it was checked
    // above (its author edited it). Nothing was stored for it.
    rows.forEach((r, j) => {
      const i = rowIndex[j]!;
      if (results[i] === undefined)
        results[i] = r.parent_id ? invalidParent() : new Error('comment not stored');
    });

    // Duplicate keys within this batch share the first row's answer.
    items.forEach((s, i) => {
      if (results[i] === undefined && s.idempotencyKey) {
        const first = items.findIndex((o) => o.siteId === s.siteId && o.idempotencyKey === s.idempotencyKey);
        const r = results[first];
        results[i] = !sameComment(submittedIdentity(items[first]!), submittedIdentity(s))
          ? keyReused()
          : r instanceof Error || r === undefined
            ? (r ?? new Error('lost'))
            : { ...r, replayed: true };
      }
    });

    deps.onCommitted?.(outbox.length);
    // The worker's lookups can start from what this batch already knows (see ModerationHint).
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const o of outbox) {
      const r = o.comment_id ? byId.get(o.comment_id) : undefined;
      if (!r) continue;
      attachModerationHint(o, {
        siteId: r.site_id,
        articleId: r.article_id,
        createdAt: (r.created_at as Date).getTime(),
        emailHash: r.email_hash ?? null,
        ipHash: r.ip_hash ?? null,
        simhash: (r.simhash as string | null | undefined) ?? null,
      });
    }
    // After commit, off the response path; failure leaves the rows for the relay.
    void publish(outbox);
    return results;
  }

  /**
   * A row Postgres refuses (a value no validation foresaw) fails its batch's one statement, which
   * stores nothing. The other readers in that batch must not lose their comments to it: each is
   * tried again on its own, and only the offending one is refused.
   */
  async function handleIsolated(items: Submission[]): Promise<Slot[]> {
    try {
      return await handleBatch(items);
    } catch (err) {
      if (!refusedData(err)) throw err;
      const refused = (e: unknown, s: Submission) => {
        deps.onRefused?.(e, s.siteId);
        return unstorable();
      };
      if (items.length === 1) return [refused(err, items[0]!)];
      const out: Slot[] = [];
      for (const s of items) {
        out.push(
          await handleBatch([s]).then(
            (r) => r[0]!,
            (e: unknown) => (refusedData(e) ? refused(e, s) : e instanceof Error ? e : new Error(String(e))),
          ),
        );
      }
      return out;
    }
  }

  const submit = createBatcher<Submission, Accepted>(handleIsolated, {
    maxBatch: deps.maxBatch,
    maxInFlight: deps.maxInFlight,
    linger: deps.linger,
  });

  return {
    submit,
    invalidateArticle: (siteId: string, externalId: string) =>
      articles.delete(articleKey(siteId, externalId)),
  };
}

export type Ingestor = ReturnType<typeof createIngestor>;

/** What makes two submissions the same comment; the article by either id (both unique within a site). */
interface CommentIdentity {
  article: string;
  parent: string | null;
  name: string;
  email: string | null;
  body: string;
}

const storedIdentity = (r: {
  article_id: string;
  parent_id?: string | null;
  author_name: string;
  author_email?: string | null;
  body: string;
}): CommentIdentity => ({
  article: r.article_id,
  parent: r.parent_id ?? null,
  name: r.author_name,
  email: r.author_email ?? null,
  body: r.body,
});

const submittedIdentity = (s: Submission): CommentIdentity => ({
  article: s.articleExternalId,
  parent: s.parentId ?? null,
  name: s.authorName,
  email: s.authorEmail ?? null,
  body: s.body,
});

/**
 * An Idempotency-Key makes a retry safe; it must not make a different comment vanish behind an
 * earlier one's 202. A retry sends the same comment, so the two must agree in everything it says.
 */
function sameComment(a: CommentIdentity, b: CommentIdentity): boolean {
  return (
    a.article === b.article &&
    a.parent === b.parent &&
    a.name === b.name &&
    a.email === b.email &&
    a.body === b.body
  );
}

const invalidParent = () =>
  new AppError(422, 'invalid_parent', 'Replies must answer a published comment of the same article', {
    errors: [{ path: 'parentId', message: 'No published comment with this id on this article' }],
  });

const keyReused = () =>
  new AppError(
    422,
    'idempotency_key_reused',
    'This Idempotency-Key was already used for a different comment; send a new key for a new comment',
    { errors: [{ path: 'Idempotency-Key', message: 'Already used for a different comment' }] },
  );

/**
 * Postgres refused the data itself (SQLSTATE class 22 data exception, 23 integrity violation, 54
 * program limit such as an index row too large), as opposed to being unreachable or overloaded.
 */
export function refusedData(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(22|23|54)[0-9A-Z]{3}$/.test(code);
}

const unstorable = () =>
  new AppError(
    422,
    'unstorable_content',
    'This comment contains something that cannot be stored; change it and send it again',
  );
