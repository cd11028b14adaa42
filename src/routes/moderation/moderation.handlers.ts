/** Handlers for the moderator workspace API. */
import type { RouteHandler } from '@hono/zod-openapi';
import { sql } from 'kysely';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { AppDeps, AppEnv } from '../../deps';
import { roleOn } from '../../lib/auth';
import { hmac } from '../../lib/crypto';
import { AppError } from '../../lib/errors';
import { dummyHash, verifyPassword } from '../../lib/passwords';
import { clearSessionCookie, writeSessionCookie } from '../../lib/session-cookie';
import { TtlCache } from '../../lib/ttl-cache';
import {
  CLAIMABLE,
  claimNext,
  claimOne,
  decodeQueueCursor,
  listQueue,
  loadItems,
  type QueueFilters,
  type QueueName,
  queueCounts,
  releaseClaim,
} from '../../repositories/queue';
import { createSession, deleteSession } from '../../repositories/sessions';
import { findUserByEmail, rolesOf } from '../../repositories/users';
import * as actions from '../../services/moderation-actions';
import type * as r from './moderation.routes';

type H<R extends Parameters<typeof import('@hono/zod-openapi').createRoute>[0]> = RouteHandler<R, AppEnv>;

function filtersOf(q: QueueFilters): QueueFilters {
  return {
    article: q.article,
    reason: q.reason,
    author: q.author,
    minAgeMinutes: q.minAgeMinutes,
    maxAgeMinutes: q.maxAgeMinutes,
  };
}

export function moderationHandlers(deps: AppDeps) {
  const lease = deps.config.CLAIM_LEASE_SECONDS;
  const signInLimiter = new RateLimiterRedis({
    storeClient: deps.redis,
    keyPrefix: `${deps.config.QUEUE_PREFIX}:signin`,
    points: 10,
    duration: 15 * 60,
  });

  /**
   * Every page and every claim carries the queue counts, and counting a long queue reads each of
   * its entries: with a few moderators clearing 20,000 held comments that was most of the
   * database's work per action (bench/queue.ts). One count per site a second is shared by every
   * request of this process; the badges may lag by that second. Off where CACHE_TTL_MS is 0.
   */
  const countsCache = new TtlCache<string, Record<QueueName, number>>(
    Math.min(1000, deps.config.CACHE_TTL_MS),
    10_000,
    () => deps.now().getTime(),
  );
  const countsOf = (siteId: string) =>
    countsCache.getOrLoad(siteId, () => queueCounts(deps.db, siteId, deps.now()));

  /** Items with each decision's actor named (see actorNames), so the UI need not show raw ids. */
  async function named(siteId: string, items: Awaited<ReturnType<typeof loadItems>>) {
    const names = await actorNames(
      siteId,
      items.flatMap((it) => it.decisions.map((d) => d.actorId)),
    );
    return items.map((it) => ({
      ...it,
      decisions: it.decisions.map((d) => ({ ...d, actorName: (d.actorId && names.get(d.actorId)) ?? null })),
    }));
  }

  async function item(siteId: string, id: string, actor: string) {
    const [it] = await named(siteId, await loadItems(deps.db, siteId, [id], actor, deps.now()));
    if (!it) throw AppError.notFound('Comment');
    return it;
  }

  const counts: H<typeof r.counts> = async (c) => {
    const { siteId } = c.req.valid('param');
    return c.json(await countsOf(siteId), 200);
  };

  const list: H<typeof r.list> = async (c) => {
    const { siteId, queue } = c.req.valid('param');
    const q = c.req.valid('query');
    const cursor = q.cursor ? decodeQueueCursor(q.cursor) : null;
    if (q.cursor && !cursor) throw AppError.validation([{ path: 'cursor', message: 'Invalid cursor' }]);
    const now = deps.now();
    const page = await listQueue(deps.db, siteId, queue, {
      filters: filtersOf(q),
      cursor,
      limit: q.limit,
      now,
    });
    const actor = c.get('principal').actorId;
    const [items, n] = await Promise.all([
      loadItems(deps.db, siteId, page.ids, actor, now).then((items) => named(siteId, items)),
      countsOf(siteId),
    ]);
    return c.json({ items, nextCursor: page.nextCursor, counts: n }, 200);
  };

  const next: H<typeof r.next> = async (c) => {
    const { siteId, queue } = c.req.valid('param');
    if (!CLAIMABLE.includes(queue)) {
      throw new AppError(
        409,
        'conflict',
        `The ${queue} queue holds decided comments; there is nothing to claim`,
      );
    }
    const b = c.req.valid('json');
    const actor = c.get('principal').actorId;
    const now = deps.now();
    const id = await claimNext(deps.db, siteId, queue, {
      actor,
      leaseSeconds: lease,
      filters: filtersOf(b),
      now,
      skip: b.skip,
    });
    if (!id) return c.body(null, 204);
    const [it, n] = await Promise.all([item(siteId, id, actor), countsOf(siteId)]);
    return c.json({ item: it, counts: n }, 200);
  };

  const getItem: H<typeof r.item> = async (c) => {
    const { siteId, commentId } = c.req.valid('param');
    return c.json(await item(siteId, commentId, c.get('principal').actorId), 200);
  };

  const claim: H<typeof r.claim> = async (c) => {
    const { siteId, commentId } = c.req.valid('param');
    const res = await claimOne(deps.db, siteId, commentId, {
      actor: c.get('principal').actorId,
      leaseSeconds: lease,
    });
    if (res.state === 'missing') throw AppError.notFound('Comment');
    if (res.state === 'taken') {
      throw new AppError(409, 'claimed_by_other', 'Another moderator is working on this comment right now', {
        claimedUntil: res.until.toISOString(),
      });
    }
    return c.json(
      { id: commentId, claimedUntil: new Date(deps.now().getTime() + lease * 1000).toISOString() },
      200,
    );
  };

  const release: H<typeof r.release> = async (c) => {
    const { siteId, commentId } = c.req.valid('param');
    const released = await releaseClaim(deps.db, siteId, commentId, c.get('principal').actorId);
    if (!released) {
      const exists = await deps.db
        .selectFrom('comments')
        .select('id')
        .where('id', '=', commentId)
        .where('site_id', '=', siteId)
        .executeTakeFirst();
      if (!exists) throw AppError.notFound('Comment');
    }
    return c.body(null, 204);
  };

  /** One comment approved or rejected, guarded by the status and revision the moderator saw. */
  async function decideOne(
    principal: { actorId: string },
    ids: { siteId: string; commentId: string },
    action: 'approve' | 'reject',
    b: Pick<actions.DecideInput, 'expectedStatus' | 'reasonCode'> & { expectedRevision?: number },
  ) {
    const results = await actions.decide(deps, {
      siteId: ids.siteId,
      ids: [ids.commentId],
      action,
      reasonCode: b.reasonCode,
      actorId: principal.actorId,
      expectedStatus: b.expectedStatus,
      expectedRevisions:
        b.expectedRevision === undefined ? undefined : { [ids.commentId]: b.expectedRevision },
      now: deps.now(),
    });
    const one = actions.expectOne(results);
    return { id: one.id, status: one.status };
  }

  const approve: H<typeof r.approve> = async (c) =>
    c.json(await decideOne(c.get('principal'), c.req.valid('param'), 'approve', c.req.valid('json')), 200);

  const reject: H<typeof r.reject> = async (c) =>
    c.json(await decideOne(c.get('principal'), c.req.valid('param'), 'reject', c.req.valid('json')), 200);

  const undo: H<typeof r.undo> = async (c) => {
    const { siteId, commentId } = c.req.valid('param');
    const p = c.get('principal');
    const res = await actions.undo(deps, {
      siteId,
      commentId,
      actorId: p.actorId,
      isAdmin: roleOn(p, siteId) === 'admin',
      windowSeconds: deps.config.UNDO_WINDOW_SECONDS,
      now: deps.now(),
    });
    return c.json(res, 200);
  };

  const bulk: H<typeof r.bulk> = async (c) => {
    const { siteId } = c.req.valid('param');
    const b = c.req.valid('json');
    if (b.action === 'reject' && !b.reasonCode) {
      throw AppError.validation([{ path: 'reasonCode', message: 'A reason code is required to reject' }]);
    }
    const results = await actions.decide(deps, {
      siteId,
      ids: b.ids,
      action: b.action,
      reasonCode: b.reasonCode,
      actorId: c.get('principal').actorId,
      expectedRevisions: b.expectedRevisions,
      now: deps.now(),
    });
    return c.json({ results }, 200);
  };

  const listBans: H<typeof r.listBans> = async (c) => {
    const { siteId } = c.req.valid('param');
    return c.json({ bans: await actions.listBans(deps.db, siteId, deps.now()) }, 200);
  };

  const createBan: H<typeof r.createBan> = async (c) => {
    const { siteId } = c.req.valid('param');
    const b = c.req.valid('json');
    const res = await actions.ban(deps, {
      siteId,
      commentId: b.commentId,
      by: b.by,
      durationHours: b.durationHours ?? null,
      reason: b.reason ?? null,
      rejectPending: b.rejectPending,
      actorId: c.get('principal').actorId,
      now: deps.now(),
    });
    return c.json(res, 201);
  };

  const revokeBan: H<typeof r.revokeBan> = async (c) => {
    const { siteId, banId } = c.req.valid('param');
    if (!(await actions.revokeBan(deps.db, siteId, banId))) throw AppError.notFound('Ban');
    return c.body(null, 204);
  };

  const history: H<typeof r.history> = async (c) => {
    const { siteId } = c.req.valid('param');
    const q = c.req.valid('query');
    let query = deps.db
      .selectFrom('moderation_decisions as d')
      .innerJoin('comments as c', 'c.id', 'd.comment_id')
      .select([
        'd.id',
        'd.comment_id',
        'd.actor_type',
        'd.actor_id',
        'd.action',
        'd.from_status',
        'd.to_status',
        'd.reason_code',
        'd.created_at',
        'c.author_name',
        sql<string>`left(c.body, 200)`.as('excerpt'),
      ])
      .where('d.site_id', '=', siteId)
      // What people did: moderators' decisions and authors deleting their own comments (the
      // pipeline's decisions are on each item). The same predicate as decisions_site_people_idx.
      .where(sql<boolean>`d.actor_type in ('moderator', 'author')`);
    if (q.actor) query = query.where('d.actor_id', '=', q.actor);
    if (q.cursor) query = query.where('d.id', '<', q.cursor);
    const rows = await query
      .orderBy('d.id', 'desc')
      .limit(q.limit + 1)
      .execute();
    const page = rows.slice(0, q.limit);
    const names = await actorNames(
      siteId,
      page.map((d) => d.actor_id),
    );
    return c.json(
      {
        entries: page.map((d) => ({
          id: String(d.id),
          commentId: d.comment_id,
          actorType: d.actor_type === 'author' ? ('author' as const) : ('moderator' as const),
          actorId: d.actor_id,
          actorName: (d.actor_id && names.get(d.actor_id)) ?? null,
          action: d.action,
          fromStatus: d.from_status,
          toStatus: d.to_status,
          reasonCode: d.reason_code,
          createdAt: d.created_at.toISOString(),
          authorName: d.author_name,
          excerpt: d.excerpt,
        })),
        nextCursor: rows.length > q.limit ? String(page.at(-1)!.id) : null,
      },
      200,
    );
  };

  /** Display names for `user:<id>` (the account's name) and `token:<id>` (this site's token name). */
  async function actorNames(siteId: string, actorIds: Array<string | null>) {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
    const idsOf = (prefix: string) => [
      ...new Set(
        actorIds
          .filter((a): a is string => !!a?.startsWith(prefix))
          .map((a) => a.slice(prefix.length))
          .filter((id) => uuid.test(id)),
      ),
    ];
    const users = idsOf('user:');
    const tokens = idsOf('token:');
    const [u, t] = await Promise.all([
      users.length
        ? deps.db.selectFrom('users').select(['id', 'name']).where('id', 'in', users).execute()
        : [],
      tokens.length
        ? deps.db
            .selectFrom('api_tokens')
            .select(['id', 'name'])
            .where('site_id', '=', siteId)
            .where('id', 'in', tokens)
            .execute()
        : [],
    ]);
    return new Map<string, string>([
      ...u.map((x) => [`user:${x.id}`, x.name] as const),
      ...t.map((x) => [`token:${x.id}`, `token ${x.name}`] as const),
    ]);
  }

  async function sitesOf(roles: Record<string, 'admin' | 'moderator'>) {
    const ids = Object.keys(roles);
    if (!ids.length) return [];
    const rows = await deps.db
      .selectFrom('sites')
      .select(['id', 'name'])
      .where('id', 'in', ids)
      .orderBy('name')
      .execute();
    return rows.map((s) => ({ id: s.id, name: s.name, role: roles[s.id]! }));
  }

  const signIn: H<typeof r.signIn> = async (c) => {
    // Login CSRF: a browser sends Sec-Fetch-Site; only our own pages may sign someone in.
    const fetchSite = c.req.header('sec-fetch-site');
    if (fetchSite && fetchSite !== 'same-origin' && fetchSite !== 'none') {
      throw new AppError(403, 'forbidden', 'Sign in from the Parley moderation page');
    }
    const { email, password } = c.req.valid('json');
    const key = hmac(
      deps.config.PARLEY_SECRET,
      'signin',
      `${c.get('clientIp') ?? ''}|${email.toLowerCase()}`,
    );
    try {
      await signInLimiter.consume(key);
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        throw new AppError(429, 'rate_limited', 'Too many sign-in attempts; try again later', {
          retryAfterSeconds: Math.ceil(err.msBeforeNext / 1000),
        });
      }
      throw AppError.unavailable();
    }
    const user = await findUserByEmail(deps.db, email);
    // Verify against a dummy hash for unknown emails so response time does not reveal accounts.
    const ok = await verifyPassword(password, user?.password_hash ?? (await dummyHash()));
    if (!user || !ok) throw new AppError(401, 'invalid_credentials', 'Wrong email or password');
    await signInLimiter.delete(key).catch(() => {});
    const now = deps.now();
    const s = await createSession(deps.db, {
      userId: user.id,
      ttlMs: deps.config.SESSION_TTL_HOURS * 3_600_000,
      userAgent: c.req.header('user-agent'),
      now,
    });
    writeSessionCookie(c, deps.config, s.token, s.expiresAt);
    return c.json(
      {
        user: { id: user.id, email: user.email, name: user.name },
        csrfToken: s.csrfToken,
        sites: await sitesOf(await rolesOf(deps.db, user.id)),
      },
      200,
    );
  };

  const session: H<typeof r.session> = async (c) => {
    const p = c.get('principal');
    if (p.kind !== 'session')
      return c.json({ user: null, csrfToken: null, sites: await sitesOf(p.sites) }, 200);
    const row = await deps.db
      .selectFrom('sessions as s')
      .innerJoin('users as u', 'u.id', 's.user_id')
      .select(['u.id', 'u.email', 'u.name', 's.csrf_token'])
      .where('s.id', '=', p.id)
      .executeTakeFirstOrThrow();
    return c.json(
      {
        user: { id: row.id, email: row.email, name: row.name },
        csrfToken: row.csrf_token,
        sites: await sitesOf(p.sites),
      },
      200,
    );
  };

  const signOut: H<typeof r.signOut> = async (c) => {
    const p = c.get('principal');
    if (p.kind === 'session') await deleteSession(deps.db, p.id);
    clearSessionCookie(c);
    return c.body(null, 204);
  };

  return {
    counts,
    list,
    next,
    item: getItem,
    claim,
    release,
    approve,
    reject,
    undo,
    bulk,
    listBans,
    createBan,
    revokeBan,
    history,
    signIn,
    session,
    signOut,
  };
}
