/** Webhook endpoints, their secrets, messages and the delivery log. Plain functions over `db` or a transaction. */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Db, OutboxRow } from '../../db/schema';
import type { AttemptOutcome, WebhookEndpoint, WebhookMessage } from '../../db/schema/webhooks';
import { randomId } from '../lib/ids';
import type { CommentSnapshot } from '../webhooks/events';

export function newEndpointId(): string {
  return randomId('ep', 16);
}

/**
 * The webhook-id of the message an outbox row becomes for one endpoint: derived, so fanning the
 * same row out twice names the same message (and the unique constraint refuses the second).
 */
export function messageIdFor(endpointId: string, outboxId: string): string {
  return `msg_${createHash('sha256').update(`${endpointId}\0${outboxId}`).digest('base64url').slice(0, 26)}`;
}

/**
 * The site's endpoint on `url`, if any, with creates of that URL serialised until the caller's
 * transaction ends (an advisory lock: two simultaneous creates must not both find none).
 */
export async function lockEndpointUrl(trx: Db, siteId: string, url: string) {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`webhook-url|${siteId}|${url}`}, 0))`.execute(
    trx,
  );
  return trx
    .selectFrom('webhook_endpoints')
    .select('id')
    .where('site_id', '=', siteId)
    .where('url', '=', url)
    .executeTakeFirst();
}

export async function insertEndpoint(
  db: Db,
  e: { id: string; siteId: string; url: string; description: string; eventTypes: string[]; enabled: boolean },
): Promise<WebhookEndpoint> {
  return db
    .insertInto('webhook_endpoints')
    .values({
      id: e.id,
      site_id: e.siteId,
      url: e.url,
      description: e.description,
      event_types: e.eventTypes,
      enabled: e.enabled,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function listEndpoints(db: Db, siteId: string): Promise<WebhookEndpoint[]> {
  return db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('site_id', '=', siteId)
    .orderBy('created_at')
    .execute();
}

export async function findEndpoint(db: Db, siteId: string, id: string): Promise<WebhookEndpoint | undefined> {
  return db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('site_id', '=', siteId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function updateEndpoint(
  db: Db,
  siteId: string,
  id: string,
  patch: { url?: string; description?: string; eventTypes?: string[]; enabled?: boolean },
): Promise<WebhookEndpoint | undefined> {
  return db
    .updateTable('webhook_endpoints')
    .set({
      ...(patch.url !== undefined ? { url: patch.url } : {}),
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      ...(patch.eventTypes !== undefined ? { event_types: patch.eventTypes } : {}),
      ...(patch.enabled === true
        ? { enabled: true, disabled_reason: null, disabled_at: null, failing_since: null }
        : {}),
      ...(patch.enabled === false
        ? { enabled: false, disabled_reason: 'manual', disabled_at: sql`now()` }
        : {}),
      updated_at: sql`now()`,
    })
    .where('site_id', '=', siteId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

export async function deleteEndpoint(db: Db, siteId: string, id: string): Promise<boolean> {
  const r = await db
    .deleteFrom('webhook_endpoints')
    .where('site_id', '=', siteId)
    .where('id', '=', id)
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function insertSecret(db: Db, endpointId: string, secretEnc: string): Promise<void> {
  await db.insertInto('webhook_secrets').values({ endpoint_id: endpointId, secret_enc: secretEnc }).execute();
}

/** Ends every still-active secret of the endpoint at `at` (the rotation's overlap), never later than already set. */
export async function expireSecrets(db: Db, endpointId: string, at: Date): Promise<void> {
  await db
    .updateTable('webhook_secrets')
    .set({ expires_at: sql`least(coalesce(expires_at, ${at}), ${at})` })
    .where('endpoint_id', '=', endpointId)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', at)]))
    .execute();
}

/** Secrets that sign at `now`, newest first. */
export async function activeSecrets(db: Db, endpointId: string, now: Date) {
  return db
    .selectFrom('webhook_secrets')
    .select(['id', 'secret_enc', 'created_at', 'expires_at'])
    .where('endpoint_id', '=', endpointId)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
    .orderBy('id', 'desc')
    .execute();
}

export async function enabledEndpoints(db: Db, siteIds: readonly string[]) {
  if (!siteIds.length) return [];
  return db
    .selectFrom('webhook_endpoints')
    .select(['id', 'site_id', 'event_types', 'created_at'])
    .where('site_id', 'in', [...siteIds])
    .where('enabled', '=', true)
    .execute();
}

export async function findOutboxRow(db: Db, id: string): Promise<OutboxRow | undefined> {
  return db.selectFrom('outbox').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * Of the given outbox rows, those a fan-out must look at, in id order, in one query: rows some
 * enabled endpoint of their site, registered no later than the row, subscribes to (the same test
 * as findUnfannedOutbox), and every comment.deleted row (an erasure scrubs earlier messages even
 * when no endpoint is enabled any more). On a site without endpoints this returns nothing, so the
 * common case costs one indexed query per batch of rows.
 */
export async function outboxRowsToFanOut(
  db: Db,
  ids: string[],
  topics: readonly string[],
): Promise<OutboxRow[]> {
  if (!ids.length) return [];
  const r = await sql<OutboxRow>`
    select o.* from outbox o
    where o.id = any(${ids.map(String)}::bigint[])
      and o.topic in (${sql.join(topics.map((t) => sql`${t}`))})
      and (o.topic = 'comment.deleted' or exists (
        select 1 from webhook_endpoints e
        where e.site_id = o.site_id and e.enabled and e.created_at <= o.created_at
          and (cardinality(e.event_types) = 0 or o.topic = any(e.event_types))))
    order by o.id`.execute(db);
  return r.rows;
}

/** The comment's public fields and article: the only columns a webhook may carry. */
export async function loadCommentSnapshot(db: Db, commentId: string): Promise<CommentSnapshot | undefined> {
  return (await loadCommentSnapshots(db, [commentId])).get(commentId);
}

export async function loadCommentSnapshots(db: Db, commentIds: readonly string[]) {
  const out = new Map<string, CommentSnapshot>();
  if (!commentIds.length) return out;
  const rows = await db
    .selectFrom('comments as c')
    .leftJoin('articles as a', 'a.id', 'c.article_id')
    .select([
      'c.id',
      'c.site_id',
      'a.external_id',
      'a.url',
      'a.title',
      'c.parent_id',
      'c.author_name',
      'c.body',
      'c.status',
      'c.report_count',
      'c.created_at',
    ])
    .where('c.id', 'in', [...commentIds])
    .execute();
  for (const r of rows) {
    out.set(r.id, {
      id: r.id,
      siteId: r.site_id,
      articleExternalId: r.external_id,
      articleUrl: r.url,
      articleTitle: r.title,
      parentId: r.parent_id,
      authorName: r.author_name,
      body: r.body,
      status: r.status,
      reportCount: r.report_count,
      createdAt: r.created_at,
    });
  }
  return out;
}

/**
 * Outbox rows that some subscribed, enabled endpoint (registered before the row) has no message
 * for, and that are older than `olderThan`: their fan-out job was lost (Redis flushed or restarted
 * without persistence), or the row was written while the endpoint's registration was committing.
 * It looks at ids after `fromId` (see createSweepCursor), and at least at the newest `window`, but
 * never further back than `window * 50`: walking the primary key keeps it cheap however large
 * the outbox grows. Also returns the newest id it saw (`top`, '0' for an empty outbox), from the
 * same snapshot, for the cursor.
 */
export async function findUnfannedOutbox(
  db: Db,
  opts: { topics: readonly string[]; olderThan: Date; window: number; limit: number; fromId?: string | null },
): Promise<{ ids: string[]; top: string }> {
  const r = await sql<{ top: string; ids: string[] }>`
    with top as (select coalesce(max(id), 0) as id from outbox),
    recent as (
      select id, site_id, topic, created_at from outbox
      where id > greatest(
        (select id from top) - ${opts.window * 50},
        least((select id from top) - ${opts.window}, ${opts.fromId ?? null}::bigint))
    )
    select (select id from top)::text as top, array(
      select distinct o.id from recent o
      join webhook_endpoints e on e.site_id = o.site_id and e.enabled and e.created_at <= o.created_at
        and (cardinality(e.event_types) = 0 or o.topic = any(e.event_types))
      where o.topic in (${sql.join(opts.topics.map((t) => sql`${t}`))})
        and o.created_at < ${opts.olderThan}
        and not exists (select 1 from webhook_messages m where m.endpoint_id = e.id and m.outbox_id = o.id)
      order by o.id
      limit ${opts.limit})::text[] as ids`.execute(db);
  const row = r.rows[0];
  return { ids: row?.ids ?? [], top: row?.top ?? '0' };
}

/** Earlier event rows of the same comment that have no message yet (their fan-out has not run). */
export async function earlierUnfanned(
  db: Db,
  rows: ReadonlyArray<{ id: string; comment_id: string | null }>,
  topics: readonly string[],
): Promise<OutboxRow[]> {
  // Per comment, the rows before the latest of its rows here; rows given are not returned.
  const latest = new Map<string, bigint>();
  for (const r of rows) {
    if (!r.comment_id) continue;
    const id = BigInt(r.id);
    const seen = latest.get(r.comment_id);
    if (seen === undefined || id > seen) latest.set(r.comment_id, id);
  }
  if (!latest.size) return [];
  const r = await sql<OutboxRow>`
    select o.* from outbox o
    join unnest(${[...latest.keys()]}::uuid[], ${[...latest.values()].map(String)}::bigint[]) as b(comment_id, before_id)
      on o.comment_id = b.comment_id and o.id < b.before_id
    where o.topic in (${sql.join(topics.map((t) => sql`${t}`))})
      and o.id <> all(${rows.map((x) => String(x.id))}::bigint[])
      and not exists (select 1 from webhook_messages m where m.outbox_id = o.id)
    order by o.id
    limit ${50 * latest.size}`.execute(db);
  return r.rows;
}

export interface NewMessage {
  id: string;
  shard: string;
  siteId: string;
  endpointId: string;
  outboxId: string | null;
  commentId: string | null;
  eventType: string;
  body: string;
  dueAt: Date;
}

/** Inserts messages; ones that already exist (same id or same endpoint and outbox row) are skipped. */
export async function insertMessages(db: Db, rows: NewMessage[]): Promise<string[]> {
  if (!rows.length) return [];
  const r = await db
    .insertInto('webhook_messages')
    .values(
      rows.map((m) => ({
        id: m.id,
        site_id: m.siteId,
        endpoint_id: m.endpointId,
        outbox_id: m.outboxId,
        comment_id: m.commentId,
        event_type: m.eventType,
        shard: m.shard,
        body: m.body,
        status: 'pending' as const,
        next_attempt_at: m.dueAt,
      })),
    )
    .onConflict((oc) => oc.doNothing())
    .returning('id')
    .execute();
  return r.map((x) => x.id);
}

/**
 * Erasure: earlier messages about the comment that still carry its text or author name get them
 * blanked, so neither a pending retry nor a manual redelivery sends them again.
 */
export async function scrubCommentMessages(db: Db, siteId: string, commentId: string): Promise<number> {
  const r = await sql`
    update webhook_messages
    set body = jsonb_set(jsonb_set(body::jsonb, '{data,body}', 'null'), '{data,authorName}', 'null')::text,
        updated_at = now()
    where site_id = ${siteId} and comment_id = ${commentId}
      and event_type like 'comment.%'
      and (body::jsonb -> 'data' ->> 'body' is not null or body::jsonb -> 'data' ->> 'authorName' is not null)`.execute(
    db,
  );
  return Number(r.numAffectedRows ?? 0);
}

export interface Leased {
  id: string;
  lease_token: string;
}

/**
 * Leases due messages for delivery: at most `perEndpoint` in flight per endpoint (so a slow or
 * dead endpoint holds only its own slots), and never a message while an earlier one for the same
 * comment and endpoint is still pending (a receiver must not see deleted before published).
 * Endpoint rows are locked while their slots are counted, so dispatchers on several replicas and
 * workers chaining the next message of an endpoint never hand out more than its slots.
 * Call inside a transaction.
 */
export async function leaseDue(
  db: Db,
  opts: {
    now: Date;
    leaseUntil: Date;
    perEndpoint: number;
    limit: number;
    shard: string;
    endpointId?: string;
  },
): Promise<Leased[]> {
  const only = opts.endpointId ? sql`and e.id = ${opts.endpointId}` : sql``;
  // The whole pass skips endpoints another transaction is leasing for; a single endpoint waits.
  const skip = opts.endpointId ? sql`` : sql`skip locked`;
  // Lock first, in its own statement: the lease statement below then takes a snapshot that sees
  // every lease committed by whoever held these locks before us (READ COMMITTED).
  const locked = await sql<{ id: string }>`
    select e.id from webhook_endpoints e
    where e.enabled ${only} and exists (
      select 1 from webhook_messages x
      where x.endpoint_id = e.id and x.status = 'pending' and x.next_attempt_at <= ${opts.now}
        and x.shard = ${opts.shard}
    )
    order by e.id
    for update of e ${skip}`.execute(db);
  if (!locked.rows.length) return [];
  const ids = locked.rows.map((x) => x.id);
  const r = await sql<Leased>`
    with eps as (
      -- A failing endpoint gets one slot: a dead one holds as little of the workers as possible.
      select e.id, (case when e.failing_since is null then ${opts.perEndpoint} else 1 end) - (
        select count(*)::int from webhook_messages b
        where b.endpoint_id = e.id and b.status = 'pending' and b.lease_until is not null
          and b.lease_until > ${opts.now}
      ) as free
      from webhook_endpoints e where e.id = any(${ids}::text[])
    ), pick as materialized (
      -- Materialized: inlined, it was planned as the inner side of a nested loop over every due
      -- message, and so run once per due message (800 ms for 1,000 due on a table not yet
      -- analysed, and quadratic in a backlog).
      select m.id from eps
      cross join lateral (
        select m.id from webhook_messages m
        where m.endpoint_id = eps.id and m.status = 'pending' and m.shard = ${opts.shard}
          and m.next_attempt_at <= ${opts.now}
          and (m.lease_until is null or m.lease_until <= ${opts.now})
          and not exists (
            select 1 from webhook_messages p
            where p.status = 'pending' and p.comment_id is not null
              and p.endpoint_id = m.endpoint_id and p.comment_id = m.comment_id and p.outbox_id < m.outbox_id
          )
        order by m.next_attempt_at, m.seq
        limit greatest(eps.free, 0)
      ) m
      limit ${opts.limit}
    )
    update webhook_messages w
    set lease_token = substr(md5(random()::text || w.id), 1, 20), lease_until = ${opts.leaseUntil}, updated_at = now()
    from pick
    -- Re-checked on the row's latest version if a delivery finished it meanwhile.
    where w.id = pick.id and w.status = 'pending' and w.next_attempt_at <= ${opts.now}
      and (w.lease_until is null or w.lease_until <= ${opts.now})
    returning w.id, w.lease_token`.execute(db);
  return r.rows;
}

export type DeliveryTarget = WebhookMessage & {
  url: string;
  enabled: boolean;
  failing_since: Date | null;
  /** Encrypted secrets that sign at `now`, newest first. */
  secrets: string[];
};

/** The message if it still holds this lease, with its endpoint and signing secrets (one round trip). */
export async function findLeased(
  db: Db,
  id: string,
  leaseToken: string,
  now: Date,
): Promise<DeliveryTarget | undefined> {
  return db
    .selectFrom('webhook_messages as m')
    .innerJoin('webhook_endpoints as e', 'e.id', 'm.endpoint_id')
    .selectAll('m')
    .select(['e.url', 'e.enabled', 'e.failing_since'])
    .select(
      sql<string[]>`(
        select coalesce(json_agg(s.secret_enc order by s.id desc), '[]'::json) from webhook_secrets s
        where s.endpoint_id = m.endpoint_id and (s.expires_at is null or s.expires_at > ${now})
      )`.as('secrets'),
    )
    .where('m.id', '=', id)
    .where('m.lease_token', '=', leaseToken)
    .where('m.status', '=', 'pending')
    .executeTakeFirst();
}

/** Locks the message if it still holds this lease (the compare-and-set that makes a stale job harmless). */
/**
 * Locks an endpoint's row. A failed delivery takes it before its message: the failure may disable
 * the endpoint, which fails every pending message of it, so two failures taking message then
 * endpoint in turn could each hold what the other waits for.
 */
export async function lockEndpoint(db: Db, endpointId: string): Promise<void> {
  await db.selectFrom('webhook_endpoints').select('id').where('id', '=', endpointId).forUpdate().execute();
}

export async function lockLeased(db: Db, id: string, leaseToken: string) {
  return db
    .selectFrom('webhook_messages')
    .select(['id', 'tries', 'attempts', 'endpoint_id'])
    .where('id', '=', id)
    .where('lease_token', '=', leaseToken)
    .where('status', '=', 'pending')
    .forUpdate()
    .executeTakeFirst();
}

export async function releaseLease(db: Db, id: string, leaseToken: string): Promise<void> {
  await db
    .updateTable('webhook_messages')
    .set({ lease_token: null, lease_until: null })
    .where('id', '=', id)
    .where('lease_token', '=', leaseToken)
    .execute();
}

export interface SuccessRecord {
  messageId: string;
  leaseToken: string;
  statusCode: number | null;
  durationMs: number;
  responseBody: string | null;
  at: Date;
}

/**
 * Records successful attempts, one statement for any number: each message is finished if it still
 * holds its lease (a compare-and-set: a lost lease writes nothing) and its attempt is logged.
 * Deliveries that finish together share the statement, its planning and its commit.
 *
 * With `handOver`, the same statement leases to each endpoint as many of its next due messages as
 * slots it just freed, and returns them ready to send (as findLeased would load them). A busy
 * endpoint's deliveries then follow each other without a lease pass each, which locks the
 * endpoint's row and so queued them one behind the other. The swap keeps the endpoint's count of
 * leased messages as it was, so it needs no lock: a dispatcher pass counts these slots as taken
 * before the statement and after it. Only a healthy, enabled endpoint's slots are handed over; a
 * message still behind an earlier pending one of its comment is not taken (the ones finished here
 * excepted), and rows another lease is taking are skipped.
 */
export async function recordSuccesses(
  db: Db,
  records: SuccessRecord[],
  handOver?: { now: Date; leaseUntil: Date; shard: string },
): Promise<{ recorded: Set<string>; next: LeasedTarget[] }> {
  if (!records.length) return { recorded: new Set(), next: [] };
  const h = handOver;
  const r = await sql<{ recorded: string[]; next: NextJson[] }>`
    with input as (
      select * from unnest(${records.map((x) => x.messageId)}::text[], ${records.map((x) => x.leaseToken)}::text[],
        ${records.map((x) => x.statusCode)}::int[], ${records.map((x) => Math.round(x.durationMs))}::int[],
        ${records.map((x) => x.responseBody)}::text[], ${records.map((x) => x.at.toISOString())}::timestamptz[])
        as i(id, token, status_code, duration_ms, response_body, at)
    ), m as (
      update webhook_messages w
      set status = 'succeeded', tries = w.tries + 1, attempts = w.attempts + 1, next_attempt_at = null,
          lease_token = null, lease_until = null, last_status_code = i.status_code, last_error = null,
          delivered_at = i.at, updated_at = now()
      from input i
      where w.id = i.id and w.lease_token = i.token and w.status = 'pending'
      returning w.id, w.endpoint_id, w.tries, w.attempts, i.status_code, i.duration_ms, i.response_body, i.at
    ), attempt as (
      insert into webhook_attempts
        (message_id, endpoint_id, attempt, trigger, outcome, status_code, duration_ms, response_body, error, created_at)
      select id, endpoint_id, attempts,
        case when tries = 1 and attempts > 1 then 'manual' else 'scheduled' end,
        'success', status_code, duration_ms, response_body, null, at
      from m
      returning message_id
    )${
      h
        ? sql`, freed as materialized (
      select endpoint_id, count(*)::int as slots, array_agg(id) as ids from m group by endpoint_id
    ), pick as materialized (
      select x.id from freed f
      join webhook_endpoints e on e.id = f.endpoint_id and e.enabled and e.failing_since is null
      -- Per endpoint, a lateral scan of the due index: messages come in order and it stops once
      -- the freed slots are filled.
      cross join lateral (
        select n.id from webhook_messages n
        where n.endpoint_id = f.endpoint_id and n.status = 'pending' and n.shard = ${h.shard}
          and n.next_attempt_at <= ${h.now} and (n.lease_until is null or n.lease_until <= ${h.now})
          and n.id <> all(f.ids)
          and not exists (
            select 1 from webhook_messages p
            where p.status = 'pending' and p.comment_id is not null and p.id <> all(f.ids)
              and p.endpoint_id = n.endpoint_id and p.comment_id = n.comment_id and p.outbox_id < n.outbox_id
          )
        order by n.next_attempt_at, n.seq
        limit f.slots
        for update of n skip locked
      ) x
    ), next as (
      update webhook_messages w
      set lease_token = substr(md5(random()::text || w.id), 1, 20), lease_until = ${h.leaseUntil}, updated_at = now()
      from pick
      where w.id = pick.id
      returning w.*
    )
    select (select coalesce(json_agg(message_id), '[]'::json) from attempt) as recorded,
      (select coalesce(json_agg(json_build_object('message', to_jsonb(n), 'url', e.url, 'enabled', e.enabled,
         'failing_since', e.failing_since,
         'secrets', (select coalesce(json_agg(s.secret_enc order by s.id desc), '[]'::json) from webhook_secrets s
                     where s.endpoint_id = n.endpoint_id and (s.expires_at is null or s.expires_at > ${h.now})))),
         '[]'::json)
       from next n join webhook_endpoints e on e.id = n.endpoint_id) as next`
        : sql`
    select (select coalesce(json_agg(message_id), '[]'::json) from attempt) as recorded, '[]'::json as next`
    }`.execute(db);
  const row = r.rows[0];
  return { recorded: new Set(row?.recorded ?? []), next: (row?.next ?? []).map(leasedTarget) };
}

/** A message leased to the caller, with what sending it needs. */
export type LeasedTarget = DeliveryTarget & { lease_token: string };

interface NextJson {
  message: Record<string, unknown>;
  url: string;
  enabled: boolean;
  failing_since: string | null;
  secrets: string[];
}

const MESSAGE_DATES = ['next_attempt_at', 'lease_until', 'created_at', 'delivered_at', 'updated_at'] as const;

/** JSON gives timestamps as strings and bigints as numbers; the row type promises Dates and strings. */
function leasedTarget(j: NextJson): LeasedTarget {
  const m: Record<string, unknown> = { ...j.message };
  for (const k of MESSAGE_DATES) if (typeof m[k] === 'string') m[k] = new Date(m[k] as string);
  for (const k of ['seq', 'outbox_id']) if (typeof m[k] === 'number') m[k] = String(m[k]);
  return {
    ...(m as unknown as WebhookMessage),
    lease_token: String(m.lease_token),
    url: j.url,
    enabled: j.enabled,
    failing_since: j.failing_since ? new Date(j.failing_since) : null,
    secrets: j.secrets,
  };
}

export async function insertAttempt(
  db: Db,
  a: {
    messageId: string;
    endpointId: string;
    attempt: number;
    trigger: string;
    outcome: AttemptOutcome;
    statusCode: number | null;
    durationMs: number;
    responseBody: string | null;
    error: string | null;
    at: Date;
  },
): Promise<void> {
  await db
    .insertInto('webhook_attempts')
    .values({
      message_id: a.messageId,
      endpoint_id: a.endpointId,
      attempt: a.attempt,
      trigger: a.trigger,
      outcome: a.outcome,
      status_code: a.statusCode,
      duration_ms: a.durationMs,
      response_body: a.responseBody,
      error: a.error,
      created_at: a.at,
    })
    .execute();
}

export async function finishMessage(
  db: Db,
  id: string,
  s: {
    status: 'pending' | 'succeeded' | 'failed';
    tries: number;
    attempts: number;
    nextAttemptAt: Date | null;
    statusCode: number | null;
    error: string | null;
    deliveredAt?: Date;
  },
): Promise<void> {
  await db
    .updateTable('webhook_messages')
    .set({
      status: s.status,
      tries: s.tries,
      attempts: s.attempts,
      next_attempt_at: s.nextAttemptAt,
      lease_token: null,
      lease_until: null,
      last_status_code: s.statusCode,
      last_error: s.error,
      ...(s.deliveredAt ? { delivered_at: s.deliveredAt } : {}),
      updated_at: sql`now()`,
    })
    .where('id', '=', id)
    .execute();
}

export async function markEndpointHealthy(db: Db, endpointId: string): Promise<void> {
  await db
    .updateTable('webhook_endpoints')
    .set({ failing_since: null })
    .where('id', '=', endpointId)
    .where('failing_since', 'is not', null)
    .execute();
}

/** Records a failure; returns when the endpoint started failing (this failure, if it was healthy). */
export async function markEndpointFailing(db: Db, endpointId: string, now: Date): Promise<Date> {
  const r = await db
    .updateTable('webhook_endpoints')
    .set({ failing_since: sql`coalesce(failing_since, ${now})` })
    .where('id', '=', endpointId)
    .returning('failing_since')
    .executeTakeFirstOrThrow();
  return r.failing_since ?? now;
}

/** Disables an enabled endpoint and fails its pending messages; undefined if it was already disabled. */
export async function disableEndpoint(db: Db, endpointId: string, reason: 'gone' | 'failing', now: Date) {
  const ep = await db
    .updateTable('webhook_endpoints')
    .set({ enabled: false, disabled_reason: reason, disabled_at: now, updated_at: sql`now()` })
    .where('id', '=', endpointId)
    .where('enabled', '=', true)
    .returningAll()
    .executeTakeFirst();
  if (!ep) return undefined;
  await db
    .updateTable('webhook_messages')
    .set({
      status: 'failed',
      lease_token: null,
      lease_until: null,
      last_error: `endpoint disabled (${reason})`,
    })
    .where('endpoint_id', '=', endpointId)
    .where('status', '=', 'pending')
    .execute();
  return ep;
}

export async function listMessages(
  db: Db,
  endpointId: string,
  opts: { status?: string; before?: string; limit: number },
) {
  let q = db
    .selectFrom('webhook_messages')
    .select([
      'id',
      'seq',
      'event_type',
      'status',
      'attempts',
      'next_attempt_at',
      'last_status_code',
      'last_error',
      'created_at',
      'delivered_at',
    ])
    .where('endpoint_id', '=', endpointId);
  if (opts.status) q = q.where('status', '=', opts.status as WebhookMessage['status']);
  if (opts.before) q = q.where('seq', '<', opts.before);
  return q.orderBy('seq', 'desc').limit(opts.limit).execute();
}

export async function findMessage(db: Db, endpointId: string, id: string) {
  return db
    .selectFrom('webhook_messages')
    .selectAll()
    .where('endpoint_id', '=', endpointId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function listAttempts(
  db: Db,
  where: { endpointId: string; messageId?: string; before?: string; limit: number },
) {
  let q = db.selectFrom('webhook_attempts').selectAll().where('endpoint_id', '=', where.endpointId);
  if (where.messageId) q = q.where('message_id', '=', where.messageId);
  if (where.before) q = q.where('id', '<', where.before);
  return q.orderBy('id', 'desc').limit(where.limit).execute();
}

/** A message put back on a fresh schedule: pending, no tries, due now, unleased. */
function requeued(now: Date) {
  return {
    status: 'pending' as const,
    tries: 0,
    next_attempt_at: now,
    lease_token: null,
    lease_until: null,
    updated_at: sql<Date>`now()`,
  };
}

/** Queues a message again with a fresh schedule; the webhook-id stays the same. */
export async function requeueMessage(db: Db, endpointId: string, id: string, now: Date): Promise<boolean> {
  const r = await db
    .updateTable('webhook_messages')
    .set(requeued(now))
    .where('endpoint_id', '=', endpointId)
    .where('id', '=', id)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Queues every failed message of the endpoint created since `since`; returns how many. */
export async function requeueFailedSince(
  db: Db,
  endpointId: string,
  since: Date,
  now: Date,
): Promise<number> {
  const r = await db
    .updateTable('webhook_messages')
    .set(requeued(now))
    .where('endpoint_id', '=', endpointId)
    .where('status', '=', 'failed')
    .where('created_at', '>=', since)
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/** Deletes up to `limit` finished messages (and, by cascade, their attempts) last touched before `before`. */
export async function deleteFinishedBefore(db: Db, before: Date, limit: number): Promise<number> {
  const r = await sql`
    delete from webhook_messages where id in (
      select id from webhook_messages
      where status in ('succeeded', 'failed') and updated_at < ${before}
      limit ${limit}
    )`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}
