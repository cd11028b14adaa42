/**
 * A measurement, with a floor so a collapse fails the build: deliveries per second and the time
 * from an outbox row's commit to its arrival at a loopback receiver. Numbers go to docs/webhooks.md.
 * It also holds each endpoint to its in-flight cap and its deliveries to kept-alive connections.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertOutbox } from '../../src/repositories/outbox';
import { publishNow } from '../../src/services/outbox-publisher';
import { createTestContext, type TestContext, waitFor } from '../helpers/context';
import { type Receiver, startReceiver } from './webhooks-helpers';

const EVENTS = 250;
const ENDPOINTS = 4;

let t: TestContext;
let rx: Receiver;
beforeAll(async () => {
  rx = await startReceiver();
  t = await createTestContext({
    workers: true,
    env: { WEBHOOKS_ALLOW_LOOPBACK: 'true', WEBHOOKS_DISPATCH_INTERVAL_MS: '100' },
  });
});
afterAll(async () => {
  await t?.close();
  await rx?.close();
});

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

describe('webhook delivery throughput', () => {
  it(`delivers ${EVENTS} events to ${ENDPOINTS} endpoints`, { timeout: 240_000 }, async () => {
    const siteId = await t.site();
    const token = await t.token(siteId, 'admin');
    for (let i = 0; i < ENDPOINTS; i++) {
      const res = await t.request(
        'POST',
        `/api/v1/admin/sites/${siteId}/webhooks/endpoints`,
        { url: rx.url(`/tp${i}`) },
        { authorization: `Bearer ${token}` },
      );
      expect(res.status).toBe(201);
    }
    const started = Date.now();
    const rows = await insertOutbox(
      t.rt.db,
      Array.from({ length: EVENTS }, () => ({
        topic: 'comment.approved',
        siteId,
        commentId: randomUUID(),
        payload: { actor: 'moderator' },
      })),
    );
    await publishNow(t.rt.db, t.rt.queues, rows);
    const total = EVENTS * ENDPOINTS;
    try {
      await waitFor(async () => rx.received.length >= total, `${total} deliveries`, 200_000);
    } catch (err) {
      const states = await t.rt.db
        .selectFrom('webhook_messages')
        .select(['status', (eb) => eb.fn.countAll<string>().as('n')])
        .where('site_id', '=', siteId)
        .groupBy('status')
        .execute();
      throw new Error(
        `${(err as Error).message}; received ${rx.received.length}, messages ${JSON.stringify(states)}`,
      );
    }
    const seconds = (Date.now() - started) / 1000;
    const createdAt = new Date(rows[0]!.created_at).getTime();
    const lat = rx.received.map((r) => r.at - createdAt).sort((a, b) => a - b);
    const rate = Math.round(total / seconds);
    console.log(
      `webhooks: ${total} deliveries in ${seconds.toFixed(2)} s = ${rate}/s; ` +
        `commit-to-receipt p50 ${pct(lat, 50)} ms, p99 ${pct(lat, 99)} ms`,
    );
    expect(new Set(rx.received.map((r) => r.headers['webhook-id'])).size).toBe(total);
    // Slots handed from one delivery to the next never exceed an endpoint's cap, and its
    // deliveries share kept-alive connections instead of one each (about cap × endpoints here; an
    // idle connection closes after 4 s, so a slow run may open a few more, never one per delivery).
    const cap = t.config.WEBHOOKS_ENDPOINT_CONCURRENCY;
    for (let i = 0; i < ENDPOINTS; i++) expect(rx.maxInFlight(`/tp${i}`)).toBeLessThanOrEqual(cap);
    expect(rx.connections).toBeLessThanOrEqual(total / 10);
    // A floor far under what even the loaded full suite does: only a collapse fails.
    expect(rate).toBeGreaterThan(5);
  });
});
