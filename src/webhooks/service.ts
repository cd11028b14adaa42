/** Webhook operations shared by the admin API and the workers: endpoints, secrets, fan-out. */
import type { Kysely } from 'kysely';
import type { Database, Db, OutboxRow } from '../../db/schema';
import type { Config } from '../config';
import { AppError } from '../lib/errors';
import { randomId } from '../lib/ids';
import {
  earlierUnfanned,
  enabledEndpoints,
  expireSecrets,
  insertEndpoint,
  insertMessages,
  insertSecret,
  loadCommentSnapshots,
  lockEndpointUrl,
  messageIdFor,
  type NewMessage,
  newEndpointId,
  outboxRowsToFanOut,
  scrubCommentMessages,
} from '../repositories/webhooks';
import { buildEventBody, EVENT_TYPES, scrubsText, subscribes, TEST_EVENT_TYPE } from './events';
import { encryptSecret, newSigningSecret } from './signing';
import type { GuardPolicy } from './ssrf';

export function guardPolicy(config: Pick<Config, 'WEBHOOKS_ALLOW_LOOPBACK' | 'NODE_ENV'>): GuardPolicy {
  return { allowLoopback: config.WEBHOOKS_ALLOW_LOOPBACK, allowHttp: config.NODE_ENV !== 'production' };
}

export async function createEndpointWithSecret(
  db: Kysely<Database>,
  serverSecret: string,
  input: { siteId: string; url: string; description: string; eventTypes: string[]; enabled: boolean },
) {
  const secret = newSigningSecret();
  const endpoint = await db.transaction().execute(async (trx) => {
    // Two endpoints on one URL would deliver every event twice under two message ids, which a
    // receiver that de-duplicates by webhook-id cannot catch. Change the existing one instead.
    const same = await lockEndpointUrl(trx, input.siteId, input.url);
    if (same) {
      throw new AppError(409, 'conflict', 'An endpoint with this URL already exists on this site', {
        endpointId: same.id,
      });
    }
    const ep = await insertEndpoint(trx, { id: newEndpointId(), ...input });
    await insertSecret(trx, ep.id, encryptSecret(serverSecret, secret));
    return ep;
  });
  return { endpoint, secret };
}

/**
 * A new secret signs from now on; the ones before it keep signing until `now + overlapMs`, so
 * receivers can switch at their own pace (every delivery carries one signature per active secret).
 */
export async function rotateSecret(
  db: Kysely<Database>,
  serverSecret: string,
  endpointId: string,
  overlapMs: number,
  now: Date,
) {
  const secret = newSigningSecret();
  const expiresAt = new Date(now.getTime() + overlapMs);
  await db.transaction().execute(async (trx) => {
    await expireSecrets(trx, endpointId, expiresAt);
    await insertSecret(trx, endpointId, encryptSecret(serverSecret, secret));
  });
  return { secret, previousExpireAt: expiresAt };
}

export async function createTestMessage(
  db: Db,
  endpoint: { id: string; site_id: string },
  now: Date,
  shard: string,
) {
  const id = randomId('msg', 26);
  const body = JSON.stringify({
    type: TEST_EVENT_TYPE,
    timestamp: now.toISOString(),
    data: {
      endpointId: endpoint.id,
      message: 'A test event from Parley: your endpoint is reachable and verifies.',
    },
  });
  await insertMessages(db, [
    {
      id,
      siteId: endpoint.site_id,
      endpointId: endpoint.id,
      shard,
      outboxId: null,
      commentId: null,
      eventType: TEST_EVENT_TYPE,
      body,
      dueAt: now,
    },
  ]);
  return id;
}

/**
 * Turns one outbox row into one message per subscribed, enabled endpoint of its site. Safe to run
 * twice: the message ids are derived from (endpoint, outbox row) and inserted with ON CONFLICT.
 */
export async function fanOut(
  db: Kysely<Database>,
  row: OutboxRow,
  now: Date,
  shard: string,
): Promise<string[]> {
  return fanOutRows(db, [row], now, shard);
}

/**
 * Fans out a batch of outbox rows (one fan-out job): one query picks the rows some endpoint of
 * their site subscribes to (see outboxRowsToFanOut), and only those go through fanOutRows. Rows on
 * sites without endpoints cost nothing more than that query. The endpoint list is read after the
 * rows were committed, exactly as the per-row fan-out read it, so an endpoint hears about every
 * row created from its registration on; the one race that was always there (an endpoint whose
 * transaction commits after this read but started before the row) is what the fan-out sweep
 * catches.
 */
export async function fanOutBatch(
  db: Kysely<Database>,
  outboxIds: string[],
  now: Date,
  shard: string,
): Promise<string[]> {
  return fanOutRows(db, await outboxRowsToFanOut(db, outboxIds, EVENT_TYPES), now, shard);
}

/**
 * The messages of many rows in a fixed number of round trips, whatever their number: earlier rows
 * of the same comments, endpoints and comment snapshots are each read by one query, and every
 * message is written by one statement. Per row this was four round trips in a row, so a busy
 * site's fan-out (every decision is an event) fell behind its comments at a few hundred a second.
 *
 * Per-comment order: an earlier event of a comment whose own fan-out job has not run yet (jobs run
 * concurrently) is fanned out here too, so the dispatcher's ordering gate sees it. An erasure
 * (comment.deleted that drops the text) blanks the comment's earlier messages in the same
 * transaction as this batch's, so no message carrying the text is ever visible after it.
 */
async function fanOutRows(db: Kysely<Database>, given: OutboxRow[], now: Date, shard: string) {
  if (!given.length) return [];
  // Earlier rows are of the same comments, so of the same sites: the three reads need only the
  // rows given, and go at once on three connections (one round trip of waiting, not three).
  const sites = [...new Set(given.map((r) => r.site_id))];
  const commentIds = [...new Set(given.flatMap((r) => (r.comment_id ? [r.comment_id] : [])))];
  const [earlier, endpoints, comments] = await Promise.all([
    earlierUnfanned(db, given, EVENT_TYPES),
    enabledEndpoints(db, sites),
    loadCommentSnapshots(db, commentIds),
  ]);
  const rows = [...new Map([...earlier, ...given].map((r) => [String(r.id), r])).values()].sort((a, b) =>
    Number(BigInt(a.id) - BigInt(b.id)),
  );
  const messages: NewMessage[] = [];
  const erasures: OutboxRow[] = [];
  for (const row of rows) {
    if (
      row.topic === 'comment.deleted' &&
      row.comment_id &&
      scrubsText(row.payload as Record<string, unknown>)
    ) {
      erasures.push(row);
    }
    const to = endpoints.filter(
      (e) =>
        e.site_id === row.site_id &&
        // An endpoint hears about what happened after it was registered.
        new Date(e.created_at).getTime() <= new Date(row.created_at).getTime() &&
        subscribes(e.event_types, row.topic) &&
        // endpoint.disabled goes to the site's *other* endpoints.
        !(row.topic === 'endpoint.disabled' && (row.payload as { endpointId?: string }).endpointId === e.id),
    );
    if (!to.length) continue;
    const event = buildEventBody(row, row.comment_id ? comments.get(row.comment_id) : undefined);
    if (!event) continue;
    const body = JSON.stringify(event);
    for (const e of to) {
      messages.push({
        id: messageIdFor(e.id, row.id),
        shard,
        siteId: row.site_id,
        endpointId: e.id,
        outboxId: row.id,
        commentId: row.comment_id,
        eventType: event.type,
        body,
        dueAt: now,
      });
    }
  }
  if (!erasures.length) return insertMessages(db, messages);
  return db.transaction().execute(async (trx) => {
    const ids = await insertMessages(trx, messages);
    for (const row of erasures) await scrubCommentMessages(trx, row.site_id, row.comment_id!);
    return ids;
  });
}
