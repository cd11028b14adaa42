/**
 * Webhook delivery end to end: the real app, workers, Postgres and Redis, a real HTTP receiver on
 * 127.0.0.1, and every delivery verified with the official `standardwebhooks` package.
 */
import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertOutbox, markPublished } from '../../src/repositories/outbox';
import { messageIdFor } from '../../src/repositories/webhooks';
import { publishNow } from '../../src/services/outbox-publisher';
import { RETRY_SCHEDULE_MS } from '../../src/webhooks/schedule';
import { createTestMessage, fanOut } from '../../src/webhooks/service';
import { createTestContext, TEST_ORIGIN, type TestContext, waitFor } from '../helpers/context';
import { type Received, type Receiver, startReceiver, testClock } from './webhooks-helpers';

let t: TestContext;
let rx: Receiver;
const clock = testClock();

beforeAll(async () => {
  rx = await startReceiver();
  t = await createTestContext({
    workers: true,
    env: {
      WEBHOOKS_ALLOW_LOOPBACK: 'true',
      WEBHOOKS_TIMEOUT_MS: '1500',
      WEBHOOKS_DISPATCH_INTERVAL_MS: '50',
      WEBHOOKS_ENDPOINT_CONCURRENCY: '2',
    },
    // random 0.5 puts the jitter at exactly zero, so the schedule can be asserted to the millisecond.
    // Chains of 3: every test here also runs across a chain's hand-back to the queue.
    workerOptions: { webhooks: { now: clock.now, random: () => 0.5, chainLimit: 3 } },
  });
  // The API and the workers share the controllable clock (secret expiry, due times).
  t.rt.now = clock.now;
});
afterAll(async () => {
  await t?.close();
  await rx?.close();
});

interface Endpoint {
  id: string;
  secret: string;
  siteId: string;
  token: string;
}

async function site() {
  const siteId = await t.site();
  return { siteId, token: await t.token(siteId, 'admin') };
}

async function endpoint(
  s: { siteId: string; token: string },
  path: string,
  eventTypes?: string[],
): Promise<Endpoint> {
  const res = await t.request(
    'POST',
    `/api/v1/admin/sites/${s.siteId}/webhooks/endpoints`,
    { url: rx.url(path), description: path, eventTypes },
    { authorization: `Bearer ${s.token}` },
  );
  expect(res.status).toBe(201);
  const body = (await res.json()) as { endpoint: { id: string }; secret: string };
  expect(body.secret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
  return { id: body.endpoint.id, secret: body.secret, ...s };
}

async function api(ep: Endpoint, method: string, suffix: string, body?: unknown) {
  return t.request(method, `/api/v1/admin/sites/${ep.siteId}/webhooks/endpoints/${ep.id}${suffix}`, body, {
    authorization: `Bearer ${ep.token}`,
  });
}

async function sendTest(ep: Endpoint): Promise<string> {
  const res = await api(ep, 'POST', '/test', {});
  expect(res.status).toBe(202);
  return ((await res.json()) as { messageId: string }).messageId;
}

async function emit(
  siteId: string,
  topic: string,
  commentId: string | null,
  payload: Record<string, unknown> = {},
) {
  const rows = await insertOutbox(t.rt.db, [{ topic, siteId, commentId, payload }]);
  await publishNow(t.rt.db, t.rt.queues, rows);
  return rows[0]!;
}

const at = (path: string) => rx.received.filter((r) => r.path === path);

/** A test message written straight into the table, due at `due`: the dispatcher leaves it until then. */
async function parked(ep: Endpoint, due: Date) {
  return createTestMessage(t.rt.db, { id: ep.id, site_id: ep.siteId }, due, t.rt.queues.prefix);
}

/** Parked messages all made due at once, so one dispatcher pass sees every one of them. */
async function dueTogether(ep: Endpoint, n: number) {
  const later = new Date(clock.now().getTime() + 3600_000);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await parked(ep, later));
  await t.rt.db
    .updateTable('webhook_messages')
    .set({ next_attempt_at: clock.now() })
    .where('id', 'in', ids)
    .execute();
  return ids;
}

async function endpointRow(id: string) {
  return t.rt.db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

function verify(r: Received, secret: string) {
  return new Webhook(secret).verify(r.body, r.headers) as {
    type: string;
    timestamp: string;
    data: Record<string, unknown>;
  };
}

async function message(id: string) {
  return t.rt.db.selectFrom('webhook_messages').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}
async function attempts(id: string) {
  return t.rt.db
    .selectFrom('webhook_attempts')
    .selectAll()
    .where('message_id', '=', id)
    .orderBy('id')
    .execute();
}

describe('webhook deliveries', () => {
  it('delivers every comment event type, signed per Standard Webhooks, with public fields only', async () => {
    const s = await site();
    const ep = await endpoint(s, '/all');
    const res = await t.submit(s.siteId, 'wh-story', {
      authorName: 'Ada',
      authorEmail: 'ada.private@example.org',
      body: 'A thoughtful and kind note about the harbour council meeting minutes.',
      articleTitle: 'Harbour council',
      articleUrl: 'https://news.example/harbour',
    });
    expect(res.status).toBe(202);
    const { id: commentId } = (await res.json()) as { id: string };
    // The moderate worker decides it; whatever it decided arrives after comment.submitted.
    await waitFor(async () => at('/all').length >= 2, 'submitted and decided events', 15_000);

    const reasons = [
      { rule: 'links', category: 'spam', code: 'links.too_many', score: 0.9, message: 'Too many links' },
    ];
    await emit(s.siteId, 'comment.held', commentId, {
      actor: 'system',
      reasonCode: 'links.too_many',
      reasons,
    });
    await emit(s.siteId, 'comment.rejected', commentId, { actor: 'moderator', reasonCode: 'spam', reasons });
    await emit(s.siteId, 'comment.approved', commentId, { actor: 'moderator' });
    await emit(s.siteId, 'comment.reported', commentId, { reason: 'offensive' });
    // As the privacy feature writes an erasure.
    await emit(s.siteId, 'comment.deleted', commentId, { actor: 'moderator', reasonCode: 'erasure' });
    await waitFor(
      async () => at('/all').some((r) => r.body.includes('comment.deleted')),
      'deleted event',
      15_000,
    );

    const events = at('/all').map((r) => ({ r, e: verify(r, ep.secret) }));
    const byType = new Map(events.map(({ e }) => [e.type, e]));
    for (const type of [
      'comment.submitted',
      'comment.held',
      'comment.rejected',
      'comment.approved',
      'comment.reported',
      'comment.deleted',
    ]) {
      expect(byType.has(type), type).toBe(true);
    }
    // submitted, the worker's decision, and the five above: each exactly once.
    expect(events.map(({ e }) => e.type)).toHaveLength(7);
    expect(new Set(events.map(({ r }) => r.headers['webhook-id'])).size).toBe(7);
    for (const { r, e } of events) {
      expect(r.headers['webhook-id']).toMatch(/^msg_/);
      expect(Number(r.headers['webhook-timestamp'])).toBeGreaterThan(Date.now() / 1000 - 60);
      expect(r.headers['content-type']).toBe('application/json');
      expect(Object.keys(e).sort()).toEqual(['data', 'timestamp', 'type']);
      expect(e.data.id).toBe(commentId);
      expect(e.data.article).toEqual({
        id: 'wh-story',
        url: 'https://news.example/harbour',
        title: 'Harbour council',
      });
      // Never personal data.
      expect(r.body).not.toContain('ada.private@example.org');
      expect(r.body).not.toMatch(/email|ip_?hash|user_?agent|referrer/i);
    }
    expect(byType.get('comment.submitted')!.data).toMatchObject({
      status: 'pending',
      authorName: 'Ada',
      parentId: null,
    });
    expect(byType.get('comment.held')!.data).toMatchObject({
      status: 'held',
      actor: 'system',
      reasonCode: 'links.too_many',
      reasons: [{ code: 'links.too_many', category: 'spam', message: 'Too many links' }],
    });
    expect(byType.get('comment.rejected')!.data).toMatchObject({
      status: 'rejected',
      actor: 'moderator',
      reasonCode: 'spam',
    });
    expect(byType.get('comment.approved')!.data).toMatchObject({ status: 'published', actor: 'moderator' });
    expect(byType.get('comment.reported')!.data).toMatchObject({ reportReason: 'offensive' });
    // Erasure blanks the text in every stored message about the comment (no redelivery resends it).
    const stored = await t.rt.db
      .selectFrom('webhook_messages')
      .select('body')
      .where('comment_id', '=', commentId)
      .execute();
    expect(stored).toHaveLength(7);
    for (const m of stored) expect(m.body).not.toContain('harbour council meeting');
    expect(byType.get('comment.deleted')!.data).toMatchObject({
      reasonCode: 'erasure',
      status: 'deleted',
      erasure: true,
      body: null,
      authorName: null,
    });
    // A verification with the wrong secret fails: the check above is not vacuous.
    expect(() =>
      new Webhook(`whsec_${Buffer.alloc(32, 1).toString('base64')}`).verify(
        events[0]!.r.body,
        events[0]!.r.headers,
      ),
    ).toThrow();
  });

  it("sends an author's own deletion as comment.deleted with actor author, and blanks the text in every stored message", async () => {
    const s = await site();
    const ep = await endpoint(s, '/withdrawn');
    const res = await t.submit(s.siteId, 'wh-withdrawn', {
      authorName: 'Bea',
      body: 'Something I wrote about the ferry timetable and later took back.',
    });
    const { id, authorToken } = (await res.json()) as { id: string; authorToken: string };
    await waitFor(async () => at('/withdrawn').length >= 2, 'submitted and decided events', 15_000);
    const gone = await t.request(
      'POST',
      `/api/v1/sites/${s.siteId}/comments/${id}/withdraw`,
      { authorToken },
      { origin: TEST_ORIGIN },
    );
    expect(gone.status).toBe(200);
    await waitFor(
      async () => at('/withdrawn').some((r) => r.body.includes('comment.deleted')),
      'deleted event',
      15_000,
    );
    const deleted = at('/withdrawn')
      .map((r) => verify(r, ep.secret))
      .find((e) => e.type === 'comment.deleted')!;
    expect(deleted.data).toMatchObject({
      id,
      status: 'deleted',
      actor: 'author',
      reasonCode: 'withdrawn',
      erasure: false,
      body: null,
      authorName: null,
    });
    const stored = await t.rt.db
      .selectFrom('webhook_messages')
      .select('body')
      .where('comment_id', '=', id)
      .execute();
    expect(stored).toHaveLength(3);
    for (const m of stored) expect(m.body).not.toContain('ferry timetable');
  });

  it('retries 500 x3 on the schedule with the same webhook-id, then delivers once', async () => {
    const s = await site();
    rx.on('/flaky', (n) => (n <= 3 ? { status: 500, body: 'boom' } : { status: 200, body: 'thanks' }));
    const ep = await endpoint(s, '/flaky');
    // Failing since the first 500, healthy again after the success: its 5-day clock starts over.
    const failingSince = async () =>
      (
        await t.rt.db
          .selectFrom('webhook_endpoints')
          .select('failing_since')
          .where('id', '=', ep.id)
          .executeTakeFirstOrThrow()
      ).failing_since;
    const id = await sendTest(ep);
    for (let n = 1; n <= 3; n++) {
      await waitFor(async () => at('/flaky').length >= n && (await message(id)).tries === n, `try ${n}`);
      const m = await message(id);
      expect(await failingSince()).not.toBeNull();
      const last = (await attempts(id)).at(-1)!;
      expect(m.status).toBe('pending');
      expect(last).toMatchObject({
        outcome: 'http_error',
        status_code: 500,
        response_body: 'boom',
        attempt: n,
      });
      expect(m.next_attempt_at!.getTime() - new Date(last.created_at).getTime()).toBe(RETRY_SCHEDULE_MS[n]);
      // Not a moment early.
      await new Promise((r) => setTimeout(r, 150));
      expect(at('/flaky')).toHaveLength(n);
      clock.advanceTo(m.next_attempt_at!);
    }
    await waitFor(async () => (await message(id)).status === 'succeeded', 'delivered');
    const got = at('/flaky');
    expect(got).toHaveLength(4);
    expect(new Set(got.map((r) => r.headers['webhook-id']))).toEqual(new Set([id]));
    for (const r of got) expect(verify(r, ep.secret).type).toBe('webhook.test');
    const log = await attempts(id);
    expect(log.map((a) => a.outcome)).toEqual(['http_error', 'http_error', 'http_error', 'success']);
    expect(log.filter((a) => a.outcome === 'success')).toHaveLength(1);
    await waitFor(async () => (await failingSince()) === null, 'endpoint healthy again');
  });

  it('follows the whole schedule, gives up, and disables an endpoint failing for 5 days', async () => {
    const s = await site();
    rx.on('/down', () => ({ status: 502 }));
    const ep = await endpoint(s, '/down');
    const watcher = await endpoint(s, '/watcher', ['endpoint.disabled']);
    const id = await sendTest(ep);
    const delays: number[] = [];
    for (let n = 1; n <= RETRY_SCHEDULE_MS.length; n++) {
      await waitFor(async () => (await message(id)).tries === n, `try ${n}`);
      const m = await message(id);
      if (n === RETRY_SCHEDULE_MS.length) {
        expect(m.status).toBe('failed');
        expect(m.next_attempt_at).toBeNull();
        break;
      }
      const last = (await attempts(id)).at(-1)!;
      delays.push(m.next_attempt_at!.getTime() - new Date(last.created_at).getTime());
      clock.advanceTo(m.next_attempt_at!);
    }
    expect(delays).toEqual(RETRY_SCHEDULE_MS.slice(1));
    expect(new Set(at('/down').map((r) => r.headers['webhook-id']))).toEqual(new Set([id]));
    // ~28 h of retries did not disable it; 5 days of failure do.
    const epRow = await t.rt.db
      .selectFrom('webhook_endpoints')
      .selectAll()
      .where('id', '=', ep.id)
      .executeTakeFirstOrThrow();
    expect(epRow.enabled).toBe(true);
    clock.advanceTo(new Date(epRow.failing_since!.getTime() + 5 * 24 * 3600_000));
    const id2 = await sendTest(ep);
    await waitFor(async () => (await message(id2)).status === 'failed', 'second message failed');
    const after = await t.rt.db
      .selectFrom('webhook_endpoints')
      .selectAll()
      .where('id', '=', ep.id)
      .executeTakeFirstOrThrow();
    expect(after).toMatchObject({ enabled: false, disabled_reason: 'failing' });
    await waitFor(async () => at('/watcher').length >= 1, 'endpoint.disabled at the other endpoint');
    const e = verify(at('/watcher')[0]!, watcher.secret);
    expect(e).toMatchObject({ type: 'endpoint.disabled', data: { endpointId: ep.id, reason: 'failing' } });
  });

  it('honours Retry-After on 503 and 429', async () => {
    const s = await site();
    rx.on('/busy', (n) =>
      n === 1
        ? { status: 503, headers: { 'retry-after': '120' } }
        : n === 2
          ? { status: 429, headers: { 'retry-after': '1' } }
          : { status: 204 },
    );
    const ep = await endpoint(s, '/busy');
    const id = await sendTest(ep);
    await waitFor(async () => (await message(id)).tries === 1, 'first try');
    let m = await message(id);
    let last = (await attempts(id)).at(-1)!;
    // Retry-After 120 s beats the schedule's 5 s.
    expect(m.next_attempt_at!.getTime() - new Date(last.created_at).getTime()).toBe(120_000);
    clock.advanceTo(m.next_attempt_at!);
    await waitFor(async () => (await message(id)).tries === 2, 'second try');
    m = await message(id);
    last = (await attempts(id)).at(-1)!;
    // Retry-After shorter than the schedule (5 min) does not shorten it.
    expect(m.next_attempt_at!.getTime() - new Date(last.created_at).getTime()).toBe(RETRY_SCHEDULE_MS[2]);
    clock.advanceTo(m.next_attempt_at!);
    await waitFor(async () => (await message(id)).status === 'succeeded', 'delivered');

    // Only an overloaded receiver (429, 5xx) sets the pace: a refusal's Retry-After is ignored.
    rx.on('/refusing', () => ({ status: 400, headers: { 'retry-after': '3600' } }));
    const refusing = await endpoint(s, '/refusing');
    const id2 = await sendTest(refusing);
    await waitFor(async () => (await message(id2)).tries === 1, 'refused once');
    const m2 = await message(id2);
    const last2 = (await attempts(id2)).at(-1)!;
    expect(m2.next_attempt_at!.getTime() - new Date(last2.created_at).getTime()).toBe(RETRY_SCHEDULE_MS[1]);
  });

  it('disables an endpoint that answers 410 at once and tells the other endpoints', async () => {
    const s = await site();
    rx.on('/gone', () => ({ status: 410 }));
    const gone = await endpoint(s, '/gone');
    const other = await endpoint(s, '/other');
    const id = await sendTest(gone);
    await waitFor(async () => (await message(id)).status === 'failed', 'failed');
    expect(at('/gone')).toHaveLength(1);
    const row = await t.rt.db
      .selectFrom('webhook_endpoints')
      .selectAll()
      .where('id', '=', gone.id)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ enabled: false, disabled_reason: 'gone' });
    await waitFor(
      async () => at('/other').some((r) => r.body.includes('endpoint.disabled')),
      'endpoint.disabled',
    );
    const e = verify(at('/other').find((r) => r.body.includes('endpoint.disabled'))!, other.secret);
    expect(e.data).toMatchObject({ endpointId: gone.id, reason: 'gone', url: rx.url('/gone') });
    // A disabled endpoint gets nothing more, and says why over the API.
    await emit(s.siteId, 'comment.published', null);
    await waitFor(async () => at('/other').length >= 2, 'the other endpoint still receives');
    expect(at('/gone')).toHaveLength(1);
    const got = (await (await api(gone, 'GET', '')).json()) as { enabled: boolean; disabledReason: string };
    expect(got).toMatchObject({ enabled: false, disabledReason: 'gone' });
    expect((await api(gone, 'POST', '/test', {})).status).toBe(409);
  });

  it('signs with old and new secrets during a rotation overlap, and only the new one after', async () => {
    const s = await site();
    const ep = await endpoint(s, '/rot');
    await sendTest(ep);
    await waitFor(async () => at('/rot').length === 1, 'first');
    expect(at('/rot')[0]!.headers['webhook-signature']!.split(' ')).toHaveLength(1);

    const rotated = await api(ep, 'POST', '/secret/rotate', { overlapSeconds: 3600 });
    expect(rotated.status).toBe(200);
    const { secret: next } = (await rotated.json()) as { secret: string };
    expect(next).not.toBe(ep.secret);
    await sendTest(ep);
    await waitFor(async () => at('/rot').length === 2, 'second');
    const during = at('/rot')[1]!;
    expect(during.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(verify(during, ep.secret).type).toBe('webhook.test');
    expect(verify(during, next).type).toBe('webhook.test');

    clock.advance(3601_000);
    await sendTest(ep);
    await waitFor(async () => at('/rot').length === 3, 'third');
    const afterOverlap = at('/rot')[2]!;
    expect(afterOverlap.headers['webhook-signature']!.split(' ')).toHaveLength(1);
    expect(verify(afterOverlap, next).type).toBe('webhook.test');
    expect(() => verify(afterOverlap, ep.secret)).toThrow();
  });

  it('keeps a dead endpoint from delaying a healthy one', async () => {
    const s = await site();
    rx.on('/dead', () => 'hang');
    await endpoint(s, '/dead', ['comment.approved']);
    await endpoint(s, '/healthy', ['comment.approved']);
    const started = Date.now();
    for (let i = 0; i < 8; i++)
      await emit(s.siteId, 'comment.approved', randomUUID(), { actor: 'moderator' });
    await waitFor(async () => at('/healthy').length >= 8, 'healthy got all 8', 10_000);
    const took = Date.now() - started;
    // The dead endpoint would need 4 rounds of 1.5 s timeouts for its 8 messages.
    expect(took).toBeLessThan(3000);
    expect(rx.maxInFlight('/dead')).toBeLessThanOrEqual(2);
    expect(at('/dead').length).toBeLessThanOrEqual(4);
  });

  it('goes on from delivery to delivery on a busy endpoint, across chain limits, each message once and each comment in order', async () => {
    const s = await site();
    const ep = await endpoint(s, '/chain', ['comment.approved', 'comment.published', 'comment.deleted']);
    const sequence = randomUUID();
    const rows = await insertOutbox(t.rt.db, [
      ...Array.from({ length: 20 }, () => ({
        topic: 'comment.approved',
        siteId: s.siteId,
        commentId: randomUUID(),
        payload: { actor: 'moderator' },
      })),
      { topic: 'comment.published', siteId: s.siteId, commentId: sequence, payload: { actor: 'system' } },
      { topic: 'comment.approved', siteId: s.siteId, commentId: sequence, payload: { actor: 'moderator' } },
      { topic: 'comment.deleted', siteId: s.siteId, commentId: sequence, payload: { actor: 'moderator' } },
    ]);
    await publishNow(t.rt.db, t.rt.queues, rows);
    await waitFor(async () => at('/chain').length >= 23, 'all 23 delivered');
    await new Promise((r) => setTimeout(r, 300));
    const got = at('/chain');
    expect(got).toHaveLength(23);
    expect(new Set(got.map((r) => r.headers['webhook-id'])).size).toBe(23);
    expect(rx.maxInFlight('/chain')).toBeLessThanOrEqual(2);
    const ofSequence = got.map((r) => verify(r, ep.secret)).filter((e) => e.data.id === sequence);
    expect(ofSequence.map((e) => e.type)).toEqual([
      'comment.published',
      'comment.approved',
      'comment.deleted',
    ]);
    // Every message succeeded on its first try: no lease was lost or sent twice along the chains.
    const msgs = await t.rt.db
      .selectFrom('webhook_messages')
      .select(['status', 'tries'])
      .where('endpoint_id', '=', ep.id)
      .execute();
    expect(msgs.every((m) => m.status === 'succeeded' && m.tries === 1)).toBe(true);
  });

  it('does not deliver comment.deleted before an earlier comment.published for the same comment is done', async () => {
    const s = await site();
    rx.on('/order', (n) => (n === 1 ? { status: 500 } : { status: 200 }));
    const ep = await endpoint(s, '/order', ['comment.published', 'comment.deleted']);
    const commentId = randomUUID();
    const [published, deleted] = await insertOutbox(t.rt.db, [
      { topic: 'comment.published', siteId: s.siteId, commentId, payload: { actor: 'system' } },
      { topic: 'comment.deleted', siteId: s.siteId, commentId, payload: { actor: 'moderator' } },
    ]);
    // The worst case: the later event's fan-out job runs first.
    await publishNow(t.rt.db, t.rt.queues, [deleted!]);
    await new Promise((r) => setTimeout(r, 200));
    await publishNow(t.rt.db, t.rt.queues, [published!]);
    await waitFor(async () => at('/order').length === 1, 'first try of published');
    await new Promise((r) => setTimeout(r, 400));
    expect(at('/order')).toHaveLength(1);
    clock.advance(RETRY_SCHEDULE_MS[1]);
    await waitFor(async () => at('/order').length === 3, 'published again, then deleted');
    expect(at('/order').map((r) => verify(r, ep.secret).type)).toEqual([
      'comment.published',
      'comment.published',
      'comment.deleted',
    ]);
  });

  it('redelivers one message with the same webhook-id, recovers failed ones, and shows the log', async () => {
    const s = await site();
    rx.on('/log', () => ({ status: 200, body: 'x'.repeat(5000) }));
    const ep = await endpoint(s, '/log');
    const id = await sendTest(ep);
    await waitFor(async () => (await message(id)).status === 'succeeded', 'delivered');
    expect((await api(ep, 'POST', `/messages/${id}/redeliver`, {})).status).toBe(202);
    await waitFor(async () => at('/log').length === 2, 'redelivered');
    expect(at('/log').map((r) => r.headers['webhook-id'])).toEqual([id, id]);

    const detail = (await (await api(ep, 'GET', `/messages/${id}`)).json()) as {
      status: string;
      payload: { type: string };
      attemptLog: Array<{ trigger: string; statusCode: number; responseBody: string; durationMs: number }>;
    };
    await waitFor(async () => (await message(id)).attempts === 2, 'second attempt recorded');
    const log = (await (await api(ep, 'GET', '/attempts?limit=10')).json()) as {
      attempts: Array<{
        trigger: string;
        statusCode: number;
        responseBody: string;
        durationMs: number;
        outcome: string;
      }>;
    };
    expect(detail.payload.type).toBe('webhook.test');
    expect(log.attempts).toHaveLength(2);
    expect(log.attempts.map((a) => a.trigger)).toEqual(['manual', 'scheduled']);
    for (const a of log.attempts) {
      expect(a).toMatchObject({ outcome: 'success', statusCode: 200 });
      expect(a.responseBody.length).toBe(1024);
      expect(a.durationMs).toBeGreaterThanOrEqual(0);
    }

    // Everything failed since a time goes out again, same ids.
    const failedIds = [await sendTest(ep), await sendTest(ep)];
    await waitFor(async () => at('/log').length === 4, 'two more delivered');
    const since = new Date(Date.now() - 60_000).toISOString();
    await t.rt.db
      .updateTable('webhook_messages')
      .set({ status: 'failed' })
      .where('id', 'in', failedIds)
      .execute();
    const rec = await api(ep, 'POST', '/recover', { since });
    expect(rec.status).toBe(202);
    expect(((await rec.json()) as { requeued: number }).requeued).toBe(2);
    await waitFor(async () => at('/log').length === 6, 'recovered');
    expect(
      at('/log')
        .slice(4)
        .map((r) => r.headers['webhook-id'])
        .sort(),
    ).toEqual([...failedIds].sort());
    await waitFor(async () => (await message(failedIds[1]!)).status === 'succeeded', 'recorded');
    await waitFor(async () => (await message(failedIds[0]!)).status === 'succeeded', 'recorded');
    const page = (await (await api(ep, 'GET', '/messages?status=succeeded&limit=2')).json()) as {
      messages: unknown[];
      nextCursor: string | null;
    };
    expect(page.messages).toHaveLength(2);
    expect(page.nextCursor).not.toBeNull();
    // A listed message says how its delivery went, and its detail view says the same.
    const listed = page.messages[0] as Record<string, unknown>;
    expect(listed).toMatchObject({ eventType: 'webhook.test', status: 'succeeded', lastStatusCode: 200 });
    expect(listed.attempts).toBeGreaterThanOrEqual(1);
    for (const k of ['createdAt', 'deliveredAt']) expect(Date.parse(String(listed[k])), k).not.toBeNaN();
    const one = (await (await api(ep, 'GET', `/messages/${listed.id}`)).json()) as Record<string, unknown>;
    expect(one).toMatchObject(listed);

    // A redelivery that fails is logged as the manual attempt it was.
    rx.on('/log', () => ({ status: 500 }));
    expect((await api(ep, 'POST', `/messages/${id}/redeliver`, {})).status).toBe(202);
    await waitFor(async () => (await attempts(id)).length === 3, 'failed redelivery recorded');
    expect((await attempts(id)).at(-1)).toMatchObject({
      trigger: 'manual',
      outcome: 'http_error',
      status_code: 500,
    });
  });

  it('creates one message per endpoint however often an outbox row is fanned out', async () => {
    const s = await site();
    const a = await endpoint(s, '/fan-a', ['comment.reported']);
    const b = await endpoint(s, '/fan-b', ['comment.reported']);
    await endpoint(s, '/fan-c', ['comment.deleted']);
    const row = await emit(s.siteId, 'comment.reported', randomUUID());
    await publishNow(t.rt.db, t.rt.queues, [row]);
    await fanOut(t.rt.db, row, clock.now(), t.rt.queues.prefix);
    await fanOut(t.rt.db, row, clock.now(), t.rt.queues.prefix);
    await waitFor(async () => at('/fan-a').length >= 1 && at('/fan-b').length >= 1, 'both delivered');
    await new Promise((r) => setTimeout(r, 300));
    const msgs = await t.rt.db
      .selectFrom('webhook_messages')
      .select(['id', 'endpoint_id'])
      .where('outbox_id', '=', row.id)
      .execute();
    expect(msgs.map((m) => m.id).sort()).toEqual(
      [messageIdFor(a.id, row.id), messageIdFor(b.id, row.id)].sort(),
    );
    expect(at('/fan-a')).toHaveLength(1);
    expect(at('/fan-b')).toHaveLength(1);
    expect(at('/fan-c')).toHaveLength(0);
  });

  it('finds an outbox row whose fan-out job Redis lost, and fans it out once', async () => {
    const s = await site();
    const lost = await endpoint(s, '/lost', ['comment.reported']);
    // Registered two minutes ago, so the row below (one minute old) is one it should have had.
    await t.rt.db
      .updateTable('webhook_endpoints')
      .set({ created_at: new Date(Date.now() - 120_000) })
      .where('id', '=', lost.id)
      .execute();
    // Relayed (marked published) but the job never reached a worker.
    const [row] = await insertOutbox(t.rt.db, [
      { topic: 'comment.reported', siteId: s.siteId, commentId: randomUUID() },
    ]);
    await markPublished(t.rt.db, [row!.id]);
    await t.rt.db
      .updateTable('outbox')
      .set({ created_at: new Date(Date.now() - 60_000) })
      .where('id', '=', row!.id)
      .execute();
    await new Promise((r) => setTimeout(r, 300));
    expect(at('/lost')).toHaveLength(0);
    expect(await t.workers!.webhooks!.sweepFanoutNow()).toBeGreaterThanOrEqual(1);
    await waitFor(async () => at('/lost').length === 1, 'the lost event delivered');
    await t.workers!.webhooks!.sweepFanoutNow();
    await new Promise((r) => setTimeout(r, 300));
    const msgs = await t.rt.db
      .selectFrom('webhook_messages')
      .select('id')
      .where('outbox_id', '=', row!.id)
      .execute();
    expect(msgs).toHaveLength(1);
    expect(at('/lost')).toHaveLength(1);
  });

  it('deletes finished messages and their attempt log after the retention period, and nothing else', async () => {
    const s = await site();
    const ep = await endpoint(s, '/old');
    const oldId = await sendTest(ep);
    const newId = await sendTest(ep);
    await waitFor(
      async () =>
        (await message(oldId)).status === 'succeeded' && (await message(newId)).status === 'succeeded',
      'both delivered',
    );
    const old = new Date(clock.now().getTime() - 31 * 86_400_000);
    await t.rt.db.updateTable('webhook_messages').set({ updated_at: old }).where('id', '=', oldId).execute();
    expect(await t.workers!.webhooks!.pruneNow()).toBeGreaterThanOrEqual(1);
    const left = await t.rt.db
      .selectFrom('webhook_messages')
      .select('id')
      .where('endpoint_id', '=', ep.id)
      .execute();
    expect(left.map((m) => m.id)).toEqual([newId]);
    expect(await attempts(oldId)).toHaveLength(0);
    expect(await attempts(newId)).toHaveLength(1);
  });

  it('delivers, through the sweep, an event the fan-out skipped from its cache right after registration', async () => {
    const s = await site();
    // The fan-out caches "no endpoint here" for a second.
    const first = await emit(s.siteId, 'comment.reported', randomUUID());
    await waitFor(
      async () => (await t.rt.queues.events.getJobState(`whk-${first.id}`)) === 'completed',
      'first fan-out done',
    );
    const ep = await endpoint(s, '/cached', ['comment.reported']);
    const second = await emit(s.siteId, 'comment.reported', randomUUID());
    await waitFor(
      async () => (await t.rt.queues.events.getJobState(`whk-${second.id}`)) === 'completed',
      'second fan-out done',
    );
    const skipped = await t.rt.db
      .selectFrom('webhook_messages')
      .select('id')
      .where('outbox_id', '=', second.id)
      .execute();
    if (skipped.length === 0) {
      // As if 30 s had passed: the sweep only looks at rows old enough to have been fanned out.
      await t.rt.db
        .updateTable('webhook_endpoints')
        .set({ created_at: new Date(Date.now() - 120_000) })
        .where('id', '=', ep.id)
        .execute();
      await t.rt.db
        .updateTable('outbox')
        .set({ created_at: new Date(Date.now() - 60_000) })
        .where('id', 'in', [first.id, second.id])
        .execute();
      await t.workers!.webhooks!.sweepFanoutNow();
    }
    await waitFor(async () => at('/cached').length >= 1, 'the event delivered');
    const types = at('/cached').map((r) => verify(r, ep.secret).data.id);
    expect(types).toContain(
      (
        await t.rt.db
          .selectFrom('outbox')
          .select('comment_id')
          .where('id', '=', second.id)
          .executeTakeFirstOrThrow()
      ).comment_id,
    );
  });

  it('sends nothing for a delivery job whose lease is gone, or whose endpoint was disabled after the lease', async () => {
    const s = await site();
    const ep = await endpoint(s, '/stale');
    const id = await parked(ep, new Date(clock.now().getTime() + 3600_000));
    // Leased as the dispatcher leases, for a job that has not run yet.
    await t.rt.db
      .updateTable('webhook_messages')
      .set({ lease_token: 'live-lease', lease_until: new Date(clock.now().getTime() + 3600_000) })
      .where('id', '=', id)
      .execute();
    const run = async (leaseToken: string) => {
      const jobId = `dlv-${id}-${leaseToken}`;
      await t.rt.queues.webhooks.add('deliver', { messageId: id, leaseToken }, { jobId });
      await waitFor(
        async () => (await t.rt.queues.webhooks.getJobState(jobId)) === 'completed',
        `job of ${leaseToken}`,
      );
    };
    // A job from a lease that expired (its message leased again since) must not send a duplicate.
    await run('expired-lease');
    expect((await message(id)).lease_token).toBe('live-lease');
    expect((await api(ep, 'PATCH', '', { enabled: false })).status).toBe(200);
    await run('live-lease');
    // The lease is given back and the message waits, unsent, for the endpoint to be enabled again.
    expect(await message(id)).toMatchObject({ status: 'pending', lease_token: null, attempts: 0 });
    expect(at('/stale')).toHaveLength(0);
  });

  it('starts the 5-day clock over when a failing endpoint succeeds, even with more messages waiting', async () => {
    const s = await site();
    rx.on('/revived', (n) => (n === 1 ? { status: 200 } : { status: 500 }));
    const ep = await endpoint(s, '/revived');
    // Failing for six days: the next failure would disable it, but a success comes first.
    await t.rt.db
      .updateTable('webhook_endpoints')
      .set({ failing_since: new Date(clock.now().getTime() - 6 * 86_400_000) })
      .where('id', '=', ep.id)
      .execute();
    const [first, second] = await dueTogether(ep, 2);
    await waitFor(async () => (await message(second!)).tries === 1, 'second message tried');
    expect(await message(first!)).toMatchObject({ status: 'succeeded' });
    const row = await endpointRow(ep.id);
    expect(row).toMatchObject({ enabled: true, disabled_reason: null });
    expect(row.failing_since!.getTime()).toBeGreaterThan(clock.now().getTime() - 60_000);
  });

  it('gives a failing endpoint one delivery at a time', async () => {
    const s = await site();
    rx.on('/sick', () => 'hang');
    const ep = await endpoint(s, '/sick');
    await t.rt.db
      .updateTable('webhook_endpoints')
      .set({ failing_since: new Date(clock.now().getTime() - 3600_000) })
      .where('id', '=', ep.id)
      .execute();
    await dueTogether(ep, 3);
    await waitFor(async () => at('/sick').length >= 1, 'one in flight');
    // Well inside the 1.5 s timeout: a second slot would have been used by now.
    await new Promise((r) => setTimeout(r, 500));
    expect(rx.maxInFlight('/sick')).toBe(1);
  });

  it('does not hand a freed slot to a retry before it is due', async () => {
    const s = await site();
    rx.on('/early', (n) => (n === 1 ? { status: 500 } : { status: 200 }));
    const ep = await endpoint(s, '/early');
    const retry = await sendTest(ep);
    await waitFor(async () => (await message(retry)).tries === 1, 'first try failed');
    // A success makes the endpoint healthy, so the next success hands its slot over.
    const first = await sendTest(ep);
    await waitFor(async () => (await message(first)).status === 'succeeded', 'first delivered');
    await waitFor(async () => (await endpointRow(ep.id)).failing_since === null, 'healthy again');
    const second = await sendTest(ep);
    await waitFor(async () => (await message(second)).status === 'succeeded', 'second delivered');
    await new Promise((r) => setTimeout(r, 300));
    expect(at('/early')).toHaveLength(3);
    expect(await message(retry)).toMatchObject({ status: 'pending', tries: 1 });
  });

  it('fails the pending messages of the endpoint it disables, and no other message', async () => {
    const s = await site();
    rx.on('/gone-later', (n) => (n === 1 ? { status: 200 } : n === 2 ? { status: 500 } : { status: 410 }));
    rx.on('/bystander', () => ({ status: 500 }));
    const ep = await endpoint(s, '/gone-later');
    const bystander = await endpoint(await site(), '/bystander');
    const delivered = await sendTest(ep);
    await waitFor(async () => (await message(delivered)).status === 'succeeded', 'delivered');
    const waiting = await sendTest(ep);
    await waitFor(async () => (await message(waiting)).tries === 1, 'a retry waiting');
    const elsewhere = await sendTest(bystander);
    await waitFor(async () => (await message(elsewhere)).tries === 1, 'a retry waiting elsewhere');
    const refused = await sendTest(ep);
    await waitFor(async () => (await message(refused)).status === 'failed', 'refused with 410');
    expect(await endpointRow(ep.id)).toMatchObject({ enabled: false, disabled_reason: 'gone' });
    expect(await message(delivered)).toMatchObject({ status: 'succeeded' });
    expect(await message(waiting)).toMatchObject({
      status: 'failed',
      last_error: 'endpoint disabled (gone)',
    });
    expect(await message(elsewhere)).toMatchObject({ status: 'pending', tries: 1 });
  });

  it('honours a Retry-After longer than the schedule on 429 and on a plain 500', async () => {
    const s = await site();
    rx.on('/overloaded', (n) =>
      n === 1
        ? { status: 429, headers: { 'retry-after': '600' } }
        : n === 2
          ? { status: 500, headers: { 'retry-after': '7200' } }
          : { status: 200 },
    );
    const ep = await endpoint(s, '/overloaded');
    const id = await sendTest(ep);
    for (const [n, wait] of [
      [1, 600_000],
      [2, 7_200_000],
    ] as const) {
      await waitFor(async () => (await message(id)).tries === n, `try ${n}`);
      const m = await message(id);
      const last = (await attempts(id)).at(-1)!;
      expect(m.next_attempt_at!.getTime() - new Date(last.created_at).getTime(), `try ${n}`).toBe(wait);
      clock.advanceTo(m.next_attempt_at!);
    }
    await waitFor(async () => (await message(id)).status === 'succeeded', 'delivered');
  });

  it('keeps a pending message past the retention period: only finished ones are deleted', async () => {
    const s = await site();
    const ep = await endpoint(s, '/parked');
    const id = await parked(ep, new Date(clock.now().getTime() + 86_400_000));
    await t.rt.db
      .updateTable('webhook_messages')
      .set({ updated_at: new Date(clock.now().getTime() - 31 * 86_400_000) })
      .where('id', '=', id)
      .execute();
    await t.workers!.webhooks!.pruneNow();
    expect(await message(id)).toMatchObject({ status: 'pending' });
  });

  it('signs handed-over deliveries with the current secrets only once a rotation overlap is over', async () => {
    const s = await site();
    const ep = await endpoint(s, '/rot-chain');
    const rotated = await api(ep, 'POST', '/secret/rotate', { overlapSeconds: 60 });
    const { secret: next } = (await rotated.json()) as { secret: string };
    clock.advance(61_000);
    // Two slots and six messages: most of them go out on a slot a success handed over.
    await dueTogether(ep, 6);
    await waitFor(async () => at('/rot-chain').length === 6, 'all six delivered');
    for (const r of at('/rot-chain')) {
      expect(r.headers['webhook-signature']!.split(' ')).toHaveLength(1);
      expect(verify(r, next).type).toBe('webhook.test');
    }
  });
});
