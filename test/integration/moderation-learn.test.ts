/**
 * Learning from moderators, end to end: moderator decisions written as outbox rows (what the
 * workspace writes) become `learn` jobs that update the site's adaptive model, and later comments
 * of that kind on that site score lower than on a site whose moderators taught it nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboxRow } from '../../db/schema';
import { uuidv7 } from '../../src/lib/ids';
import { decisionsFor } from '../../src/repositories/decisions';
import { insertOutbox } from '../../src/repositories/outbox';
import { labelFor } from '../../src/services/learn-route';
import { publishNow } from '../../src/services/outbox-publisher';
import { jobsFor } from '../../src/services/outbox-routes';
import { createLearnProcessor } from '../../workers/learn';
import { createTestContext, type TestContext, waitFor } from '../helpers/context';

let t: TestContext;

beforeAll(async () => {
  t = await createTestContext({ workers: true, env: { RATE_SUBMIT_PER_AUTHOR: '0/60' } });
  // The API answers 503 to submissions until its Redis client is connected.
  await waitFor(async () => t.rt.redis.status === 'ready', 'Redis client ready');
});
afterAll(async () => {
  await t?.close();
});

// Match reports: harmless on a sports site, violent-sounding to a general model.
const PLAYERS = [
  'Okafor',
  'Lindqvist',
  'Moreau',
  'Haddad',
  'Petrov',
  'Nakamura',
  'Silva',
  'Brennan',
  'Kowalski',
  'Adeyemi',
  'Rossi',
  'Fischer',
];
const VERBS = [
  'murdered',
  'killed',
  'destroyed',
  'slaughtered',
  'butchered',
  'battered',
  'executed',
  'demolished',
];
const OBJECTS = [
  'the keeper',
  'the defence',
  'their back line',
  'the visitors',
  'the full back',
  'the opposition',
];
const ENDS = [
  'with a brutal shot from distance',
  'in the second half, what a killer finish',
  'and the away fans went silent',
  'with a savage volley into the top corner',
  'before the break, absolutely lethal',
];

function sportsComment(i: number): string {
  const p = PLAYERS[i % PLAYERS.length]!;
  const v = VERBS[Math.floor(i / PLAYERS.length) % VERBS.length]!;
  const o = OBJECTS[Math.floor(i / 7) % OBJECTS.length]!;
  const e = ENDS[Math.floor(i / 3) % ENDS.length]!;
  return `${p} ${v} ${o} ${e}.`;
}

interface Scores {
  toxicity?: number;
}

async function decide(siteId: string, body: string) {
  const res = await t.submit(siteId, 'match-report', { authorName: 'Fan', body });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  return waitFor(
    async () => (await decisionsFor(t.rt.db, id)).find((d) => d.actor_type === 'system'),
    `decision ${id}`,
  );
}

describe('learning from moderators', () => {
  it('labels only moderator decisions, with the label the decision implies', () => {
    expect(labelFor('comment.approved', { actor: 'moderator' })).toBe('ok');
    expect(labelFor('comment.rejected', { actor: 'moderator', reasonCode: 'spam' })).toBe('spam');
    expect(labelFor('comment.rejected', { actor: 'moderator', reasonCode: 'hate_speech' })).toBe('toxic');
    expect(labelFor('comment.rejected', { actor: 'moderator', reasonCode: 'off_topic' })).toBeNull();
    expect(labelFor('comment.rejected', { actor: 'moderator', reasonCode: 'spam', label: null })).toBeNull();
    expect(labelFor('comment.rejected', { actor: 'system', reasonCode: 'spam' })).toBeNull();
    expect(labelFor('comment.published', { actor: 'moderator' })).toBeNull();
    const row = {
      id: '42',
      topic: 'comment.approved',
      site_id: 's',
      comment_id: uuidv7(),
      payload: { actor: 'moderator' },
    };
    const learn = jobsFor(row as unknown as OutboxRow).filter((j) => j.queue === 'learn');
    expect(learn).toEqual([
      expect.objectContaining({ jobId: 'learn-42', data: expect.objectContaining({ label: 'ok' }) }),
    ]);
  });

  it('after a few hundred approvals, comments of that kind on that site score lower', async () => {
    const taught = await t.site();
    const control = await t.site();
    // The article exists once a comment has been submitted to it.
    await decide(taught, 'Kick-off is at three, see you all at the ground.');
    const article = await t.rt.db
      .selectFrom('articles')
      .select('id')
      .where('site_id', '=', taught)
      .where('external_id', '=', 'match-report')
      .executeTakeFirstOrThrow();

    // 300 held match reports that moderators approved, announced the way the workspace does.
    const N = 300;
    const rows: OutboxRow[] = await t.rt.db.transaction().execute(async (trx) => {
      const now = new Date();
      const comments = Array.from({ length: N }, (_, i) => ({
        id: uuidv7(now.getTime() - (N - i) * 1000),
        site_id: taught,
        article_id: article.id,
        author_name: `Fan ${i}`,
        body: sportsComment(i),
        status: 'published' as const,
        signals: '{}',
        created_at: new Date(now.getTime() - (N - i) * 1000),
        updated_at: now,
      }));
      await trx.insertInto('comments').values(comments).execute();
      return insertOutbox(
        trx,
        comments.map((c) => ({
          topic: 'comment.approved',
          siteId: taught,
          commentId: c.id,
          payload: {
            articleId: article.id,
            actor: 'moderator',
            actorId: 'user:test',
            reasonCode: null,
            label: 'ok',
          },
        })),
      );
    });
    // Published after commit, as the workspace does; the relay would pick up anything missed.
    expect(await publishNow(t.rt.db, t.rt.queues, rows)).toBe(true);
    const model = await waitFor(
      async () => {
        const m = await t.rt.db
          .selectFrom('adaptive_models')
          .select(['updates', 'last_outbox_id'])
          .where('site_id', '=', taught)
          .executeTakeFirst();
        return m && m.updates >= N ? m : undefined;
      },
      'the adaptive model to learn every label',
      30_000,
    );
    expect(model.updates).toBe(N);
    expect(model.last_outbox_id).toBe(String(rows.at(-1)!.id));

    // Later comments of that kind, never seen in training (other names, other phrasing).
    const later = [
      'Dembele murdered the keeper with a thunderous strike, what a killer goal.',
      'Varga destroyed their defence single-handedly, absolutely brutal display.',
      'Mensah slaughtered the full back all afternoon, lethal on the wing.',
      'Jansen killed the game off with a savage header in stoppage time.',
      'Our midfield butchered their passing lanes and the visitors were battered.',
      'Torres executed a brutal volley that destroyed the keeper at his near post.',
      'Popescu demolished the opposition back line, a killer performance.',
      'What a lethal finish, Kimura murdered that ball into the top corner.',
    ];
    const taughtScores: number[] = [];
    const controlScores: number[] = [];
    let taughtHeld = 0;
    let controlHeld = 0;
    for (const body of later) {
      const a = await decide(taught, body);
      const b = await decide(control, body);
      taughtScores.push((a.scores as Scores).toxicity ?? 0);
      controlScores.push((b.scores as Scores).toxicity ?? 0);
      if (a.action !== 'publish') taughtHeld++;
      if (b.action !== 'publish') controlHeld++;
    }
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    console.log(
      `learning replay: ${N} approvals; later sports comments: toxicity mean ${mean(controlScores).toFixed(3)} → ${mean(taughtScores).toFixed(3)}, held ${controlHeld}/${later.length} → ${taughtHeld}/${later.length}`,
    );
    expect(mean(taughtScores)).toBeLessThan(mean(controlScores));
    // Lower on each comment, not just on average: the site-wide correction applies to the kind.
    expect(taughtScores.filter((s, i) => s < controlScores[i]!).length).toBe(later.length);
    expect(taughtHeld).toBeLessThanOrEqual(controlHeld);

    // What the site learned stays on that site: genuinely abusive text still scores high there.
    const abuse = await decide(taught, 'You are a worthless idiot and everyone here despises you, get lost.');
    const abuseControl = await decide(
      control,
      'You are a worthless idiot and everyone here despises you, get lost!',
    );
    expect((abuse.scores as Scores).toxicity).toBeGreaterThan(mean(taughtScores));
    expect((abuseControl.scores as Scores).toxicity).toBeGreaterThan(0);
  });

  it('applies each outbox row once and loses no label when learners run concurrently', async () => {
    const siteId = await t.site();
    const res = await t.submit(siteId, 'conc', { authorName: 'Fan', body: sportsComment(1) });
    const { id: commentId } = (await res.json()) as { id: string };
    // Outbox ids far above anything real in this database, so they cannot collide with relayed rows.
    const base = 9_000_000_000 + Math.floor(Math.random() * 1_000_000) * 1000;
    const jobs = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => ({
        data: { outboxId: String(base + from + i), siteId, commentId, label: 'ok' as const },
      }));
    // Two learner processes (two batchers, two transactions) on the same site at the same time.
    const a = createLearnProcessor({ db: t.rt.db, maxBatch: 7 });
    const b = createLearnProcessor({ db: t.rt.db, maxBatch: 5 });
    const results = await Promise.all([...jobs(0, 40).map((j) => a(j)), ...jobs(40, 40).map((j) => b(j))]);
    expect(results.every((r) => r.state === 'applied')).toBe(true);
    const again = await Promise.all([...jobs(0, 10).map((j) => b(j)), ...jobs(35, 10).map((j) => a(j))]);
    expect(again.every((r) => r.state === 'skipped')).toBe(true);
    const m = await t.rt.db
      .selectFrom('adaptive_models')
      .select(['updates', 'last_outbox_id'])
      .where('site_id', '=', siteId)
      .executeTakeFirstOrThrow();
    expect(m.updates).toBe(80);
    expect(m.last_outbox_id).toBe(String(base + 79));
    const labels = await t.rt.db
      .selectFrom('adaptive_labels')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('site_id', '=', siteId)
      .executeTakeFirstOrThrow();
    expect(Number(labels.n)).toBe(80);
  });
});
