/**
 * The moderate worker's context, through the real app and workers: author history (new-commenter),
 * Redis velocity counters, near-duplicates across authors, stored reasons and spans, shadow mode,
 * and what happens when the velocity counters cannot be read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultRules } from '../../src/moderation/rules';
import { createRedis, moderateJobComments } from '../../src/queue';
import { decisionsFor } from '../../src/repositories/decisions';
import { fingerprintColumns } from '../../src/repositories/duplicates';
import { workerRules } from '../../workers/moderation-context';
import {
  createTestContext,
  moderateProcessor,
  systemDecision,
  type TestContext,
  waitFor,
} from '../helpers/context';
import { seedComments } from '../helpers/workspace';

let t: TestContext;
// The learned classifier is tuned separately and its scores move; these tests are about the
// context, so sites that expect a comment to be published switch it off.
const NO_CLASSIFIER = { rules: { classifier: { enabled: false } } };

beforeAll(async () => {
  // The API's own flood limits would answer 429 before the worker's velocity rule could act.
  t = await createTestContext({ workers: true, env: { RATE_SUBMIT_PER_AUTHOR: '0/60' } });
  // The API answers 503 to submissions until its Redis client is connected.
  await waitFor(async () => t.rt.redis.status === 'ready', 'Redis client ready');
});
afterAll(async () => {
  await t?.close();
});

interface StoredVerdict {
  rule: string;
  code: string;
  shadow?: boolean;
  spans?: Array<{ start: number; end: number }>;
  message: string;
}

async function submit(siteId: string, articleId: string, body: Record<string, unknown>): Promise<string> {
  const res = await t.submit(siteId, articleId, { authorName: 'Reader', ...body });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

const decided = (id: string) => systemDecision(t, id);

const sentence = (n: number) =>
  `Comment number ${n} about the council budget, ${['ferries', 'schools', 'parks', 'roads', 'libraries', 'housing'][n % 6]} and the harbour works this spring.`;

describe('moderation context in the worker', () => {
  it('stores a fingerprint with every comment long enough to compare', async () => {
    const siteId = await t.site();
    const id = await submit(siteId, 'fp', { body: sentence(1) });
    const row = await t.rt.db
      .selectFrom('comments')
      .select(['simhash', 'simhash_b0', 'simhash_b1', 'simhash_b2', 'simhash_b3'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    const expected = fingerprintColumns(sentence(1));
    expect(row.simhash).toBe(expected.simhash);
    expect(row.simhash_b2).toBe(expected.simhash_b2);
    const short = await submit(siteId, 'fp', { body: 'Thanks!' });
    const shortRow = await t.rt.db
      .selectFrom('comments')
      .select('simhash')
      .where('id', '=', short)
      .executeTakeFirstOrThrow();
    expect(shortRow.simhash).toBeNull();
  });

  it('holds a near-copy posted by another author and names the original', async () => {
    const siteId = await t.site(NO_CLASSIFIER);
    const original =
      'Great deals on cheap watches and designer bags at my shop today, visit us for the lowest prices in town';
    const first = await submit(siteId, 'dups', { body: original, authorEmail: 'a@example.org' });
    expect((await decided(first)).action).toBe('publish');
    const copy = await submit(siteId, 'dups-2', {
      // Different bytes, same words (case and punctuation): what SimHash over word shingles folds
      // together. One changed word in a comment this short moves ~14 of 64 bits, beyond the 3 allowed.
      body: `${original.replace('Great deals', 'GREAT DEALS')}!!!`,
      authorEmail: 'b@example.org',
    });
    const d = await decided(copy);
    expect(d.action).toBe('hold');
    const dup = (d.reasons as StoredVerdict[]).find((r) => r.rule === 'duplicates');
    expect(dup?.code).toBe('duplicate');
    expect(dup?.message).toContain(first);
    // A different text on the same site is not a copy.
    const other = await submit(siteId, 'dups', { body: sentence(7), authorEmail: 'c@example.org' });
    expect((await decided(other)).action).toBe('publish');
  });

  it('counts posting velocity per author in Redis and holds what exceeds the limit', async () => {
    const siteId = await t.site({
      ...NO_CLASSIFIER,
      velocity: { perAuthor: 2, perIp: 100, perArticle: 1000 },
    });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++)
      ids.push(await submit(siteId, 'vel', { body: sentence(10 + i), authorEmail: 'fast@example.org' }));
    const ds = await Promise.all(ids.map(decided));
    const held = ds.filter((d) => (d.reasons as StoredVerdict[]).some((r) => r.code === 'author_velocity'));
    // INCR is atomic: whichever order the jobs ran in, exactly the third and fourth exceed 2.
    expect(held).toHaveLength(2);
    expect(held.every((d) => d.action === 'hold')).toBe(true);
    // Another author on the same site is counted apart.
    const calm = await submit(siteId, 'vel', { body: sentence(20), authorEmail: 'calm@example.org' });
    expect((await decided(calm)).action).toBe('publish');
  });

  it("holds a new commenter's comment until one of theirs is published", async () => {
    const siteId = await t.site({ ...NO_CLASSIFIER, newCommenterHold: 1 });
    const first = await submit(siteId, 'new', { body: sentence(30), authorEmail: 'newbie@example.org' });
    const d1 = await decided(first);
    expect(d1.action).toBe('hold');
    expect(d1.reason_code).toBe('new_commenter');
    // A moderator approves it (the workspace does this; here the row is set directly).
    await t.rt.db.updateTable('comments').set({ status: 'published' }).where('id', '=', first).execute();
    const second = await submit(siteId, 'new', { body: sentence(31), authorEmail: 'newbie@example.org' });
    expect((await decided(second)).action).toBe('publish');
    const stranger = await submit(siteId, 'new', { body: sentence(32), authorEmail: 'stranger@example.org' });
    expect((await decided(stranger)).reason_code).toBe('new_commenter');
  });

  it('knows a returning author by their email from any address, by address without one, and treats no identity as new', async () => {
    const siteId = await t.site({
      newCommenterHold: 1,
      rules: { classifier: { enabled: false }, velocity: { enabled: false } },
    });
    await seedComments(t, siteId, 1, { email: 'known@example.org', ip: '192.0.2.10', status: 'published' });
    let n = 40;
    const pending = async (o: { email: string | null; ip: string }) =>
      (await seedComments(t, siteId, 1, { ...o, status: 'pending', body: () => sentence(n++) })).ids[0]!;
    const outcome = async (id: string) =>
      (await moderateProcessor(t, defaultRules)({ data: { commentId: id } })) as { outcome?: string };
    // Their email, from another network: known.
    expect(await outcome(await pending({ email: 'known@example.org', ip: '192.0.2.20' }))).toMatchObject({
      outcome: 'publish',
    });
    // No email, from the address of an approved comment: known by the address.
    expect(await outcome(await pending({ email: null, ip: '192.0.2.10' }))).toMatchObject({
      outcome: 'publish',
    });
    // Another email from that same address is someone else.
    expect(await outcome(await pending({ email: 'new@example.org', ip: '192.0.2.10' }))).toMatchObject({
      outcome: 'hold',
    });
    // Nothing to know them by: new.
    const anonymous = await pending({ email: null, ip: '192.0.2.30' });
    await t.rt.db.updateTable('comments').set({ ip_hash: null }).where('id', '=', anonymous).execute();
    expect(await outcome(anonymous)).toMatchObject({ outcome: 'hold' });
    expect((await decided(anonymous)).reason_code).toBe('new_commenter');
  });

  it("stores a held comment's reasons with the matched spans", async () => {
    const siteId = await t.site({ words: { suspect: ['scoundrel'] } });
    const body = 'The minister is a scoundrel and everyone on this island knows it.';
    const id = await submit(siteId, 'spans', { body });
    const d = await decided(id);
    expect(d.action).toBe('hold');
    expect(d.to_status).toBe('held');
    const words = (d.reasons as StoredVerdict[]).find((r) => r.rule === 'site-words');
    expect(words?.code).toBeTruthy();
    expect(d.reason_code).toBe(words?.code);
    const span = words?.spans?.[0];
    expect(span).toBeDefined();
    expect(body.slice(span!.start, span!.end).toLowerCase()).toBe('scoundrel');
    const row = await t.rt.db
      .selectFrom('comments')
      .select('status')
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(row.status).toBe('held');
  });

  it('records a shadow-mode rule without letting it change the outcome', async () => {
    const policy = { links: { blockedDomains: ['spam.example'] } };
    const off = { classifier: { enabled: false } };
    const body =
      'I read the full analysis at https://spam.example/article and found it quite balanced overall.';
    const enforced = await t.site({ ...policy, rules: off });
    const shadowed = await t.site({ ...policy, rules: { ...off, links: { shadow: true } } });
    const a = await decided(await submit(enforced, 'shadow', { body }));
    const b = await decided(await submit(shadowed, 'shadow', { body }));
    expect(a.action).toBe('reject');
    expect(a.reason_code).toBe('blocked_domain');
    expect(b.action).toBe('publish');
    expect(b.reason_code).toBeNull();
    const v = (b.reasons as StoredVerdict[]).find((r) => r.rule === 'links');
    expect(v).toMatchObject({ code: 'blocked_domain', shadow: true });
  });

  it('holds and says so when the velocity counters cannot be read', async () => {
    // No running workers here: the processor below is the only one deciding the comment.
    const bare = await createTestContext();
    const dead = createRedis('redis://127.0.0.1:1', 'general', {
      connectTimeout: 200,
      retryStrategy: () => null,
    });
    try {
      const siteId = await bare.site();
      const accepted = await bare.rt.ingest.submit({
        siteId,
        articleExternalId: 'redis-down',
        authorName: 'Reader',
        body: sentence(40),
        signals: {},
      });
      const processor = moderateProcessor(bare, workerRules(defaultRules), {
        context: { redis: dead, keyPrefix: bare.config.QUEUE_PREFIX, redisTimeoutMs: 300 },
      });
      expect(await processor({ data: { commentId: accepted.id } })).toEqual({
        state: 'decided',
        outcome: 'hold',
      });
      const [d] = await decisionsFor(bare.rt.db, accepted.id);
      expect(d?.reason_code).toBe('velocity_unavailable');
      expect(((d?.reasons ?? []) as StoredVerdict[]).find((r) => r.rule === 'velocity')?.message).toMatch(
        /could not be read/,
      );

      // The same comment text with Redis working: counted, and published.
      const ok = await bare.rt.ingest.submit({
        siteId,
        articleExternalId: 'redis-up',
        authorName: 'Reader',
        body: sentence(41),
        signals: {},
      });
      const live = moderateProcessor(bare, workerRules(defaultRules), {
        context: { redis: bare.rt.redis, keyPrefix: bare.config.QUEUE_PREFIX },
      });
      await waitFor(async () => bare.rt.redis.status === 'ready', 'Redis client ready');
      expect(await live({ data: { commentId: ok.id } })).toEqual({ state: 'decided', outcome: 'publish' });
    } finally {
      dead.disconnect();
      await bare.close();
    }
  });

  it('starts the lookups from the job hint on a first run, and from the stored row on a retry', async () => {
    const bare = await createTestContext();
    try {
      await waitFor(async () => bare.rt.redis.status === 'ready', 'Redis client ready');
      const siteId = await bare.site();
      const submit = (n: number) =>
        bare.rt.ingest.submit({
          siteId,
          articleExternalId: 'hinted',
          authorName: 'Reader',
          body: sentence(50 + n),
          ipHash: `row-ip-${n}`,
          signals: {},
        });
      const processor = moderateProcessor(bare, workerRules(defaultRules), {
        context: { redis: bare.rt.redis, keyPrefix: bare.config.QUEUE_PREFIX },
      });
      const ipCount = async (created: Date, ip: string) =>
        bare.rt.redis.get(
          `${bare.config.QUEUE_PREFIX}:velocity:${siteId}:ip:${ip}:${Math.floor(created.getTime() / 600_000)}`,
        );
      // The hint names another IP hash than the row: which one is counted shows which was used.
      const hintFor = (a: { articleId: string; createdAt: Date }, ip: string) => ({
        siteId,
        articleId: a.articleId,
        createdAt: a.createdAt.getTime(),
        emailHash: null,
        ipHash: ip,
        simhash: null,
      });

      const first = await submit(1);
      // The API put the hint in the job it queued, from the columns it wrote.
      const queued = await waitFor(async () => {
        const jobs = await bare.rt.queues.moderate.getJobs(['wait', 'prioritized', 'delayed'], 0, 100);
        return jobs.flatMap((j) => moderateJobComments(j.data)).find((c) => c.commentId === first.id);
      }, 'moderate job queued');
      const stored = await bare.rt.db
        .selectFrom('comments')
        .select(['site_id', 'article_id', 'created_at', 'email_hash', 'ip_hash', 'simhash'])
        .where('id', '=', first.id)
        .executeTakeFirstOrThrow();
      expect(stored.simhash).not.toBeNull();
      expect(queued.hint).toEqual({
        siteId: stored.site_id,
        articleId: stored.article_id,
        createdAt: stored.created_at.getTime(),
        emailHash: stored.email_hash,
        ipHash: stored.ip_hash,
        simhash: stored.simhash,
      });
      expect(await processor({ data: { commentId: first.id, hint: hintFor(first, 'hint-ip-1') } })).toEqual({
        state: 'decided',
        outcome: 'publish',
      });
      expect(await ipCount(first.createdAt, 'hint-ip-1')).toBe('1');
      expect(await ipCount(first.createdAt, 'row-ip-1')).toBeNull();

      const retried = await submit(2);
      expect(
        await processor({
          data: { commentId: retried.id, hint: hintFor(retried, 'hint-ip-2') },
          firstRun: false,
        }),
      ).toEqual({ state: 'decided', outcome: 'publish' });
      expect(await ipCount(retried.createdAt, 'row-ip-2')).toBe('1');
      expect(await ipCount(retried.createdAt, 'hint-ip-2')).toBeNull();

      // A hinted job for a comment already decided changes nothing.
      expect(await processor({ data: { commentId: first.id, hint: hintFor(first, 'hint-ip-1') } })).toEqual({
        state: 'skipped',
        reason: 'already_decided',
      });
      expect(await decisionsFor(bare.rt.db, first.id)).toHaveLength(1);
    } finally {
      await bare.close();
    }
  });
});
