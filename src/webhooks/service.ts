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
  loadCommentSnapshot,
  lockEndpointUrl,
  messageIdFor,
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
  // Per-comment order: an earlier event of this comment whose own fan-out job has not run yet
  // (jobs run concurrently) gets its messages first, so the dispatcher's ordering gate sees it.
  const earlier = row.comment_id ? await earlierUnfanned(db, row, EVENT_TYPES) : [];
  const ids: string[] = [];
  for (const e of earlier) ids.push(...(await fanOutOne(db, e, now, shard)));
  ids.push(...(await fanOutOne(db, row, now, shard)));
  return ids;
}

/**
 * Fans out a batch of outbox rows (one fan-out job): one query picks the rows some endpoint of
 * their site subscribes to (see outboxRowsToFanOut), and only those go through fanOut, in id
 * order. Rows on sites without endpoints cost nothing more than that query. The endpoint list is
 * read after the rows were committed, exactly as the per-row fan-out read it, so an endpoint
 * hears about every row created from its registration on; the one race that was always there (an
 * endpoint whose transaction commits after this read but started before the row) is what the
 * fan-out sweep catches.
 */
export async function fanOutBatch(
  db: Kysely<Database>,
  outboxIds: string[],
  now: Date,
  shard: string,
): Promise<string[]> {
  const ids: string[] = [];
  for (const row of await outboxRowsToFanOut(db, outboxIds, EVENT_TYPES)) {
    ids.push(...(await fanOut(db, row, now, shard)));
  }
  return ids;
}

async function fanOutOne(db: Kysely<Database>, row: OutboxRow, now: Date, shard: string): Promise<string[]> {
  if (
    row.topic === 'comment.deleted' &&
    row.comment_id &&
    scrubsText(row.payload as Record<string, unknown>)
  ) {
    await scrubCommentMessages(db, row.site_id, row.comment_id);
  }
  const endpoints = (await enabledEndpoints(db, row.site_id)).filter(
    (e) =>
      // An endpoint hears about what happened after it was registered.
      new Date(e.created_at).getTime() <= new Date(row.created_at).getTime() &&
      subscribes(e.event_types, row.topic) &&
      // endpoint.disabled goes to the site's *other* endpoints.
      !(row.topic === 'endpoint.disabled' && (row.payload as { endpointId?: string }).endpointId === e.id),
  );
  if (!endpoints.length) return [];
  const comment = row.comment_id ? await loadCommentSnapshot(db, row.comment_id) : undefined;
  const event = buildEventBody(row, comment);
  if (!event) return [];
  const body = JSON.stringify(event);
  return insertMessages(
    db,
    endpoints.map((e) => ({
      id: messageIdFor(e.id, row.id),
      shard,
      siteId: row.site_id,
      endpointId: e.id,
      outboxId: row.id,
      commentId: row.comment_id,
      eventType: event.type,
      body,
      dueAt: now,
    })),
  );
}
