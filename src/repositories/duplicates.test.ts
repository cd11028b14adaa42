import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewComment } from '../../db/schema';
import { createTestContext, type TestContext } from '../../test/helpers/context';
import { uuidv7 } from '../lib/ids';
import {
  fingerprintToSigned,
  hammingDistance,
  NEAR_DUPLICATE_BITS,
  simhashBands,
} from '../moderation/simhash';
import { ensureArticles } from './articles';
import { insertComments } from './comments';
import { findNearDuplicates } from './duplicates';

let t: TestContext;

beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t?.close();
});

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), a | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

interface Stored {
  id: string;
  siteId: string;
  at: Date;
  h: bigint | null;
}

/** The id of a fresh article on the site. */
async function articleOn(siteId: string, externalId: string): Promise<string> {
  const arts = await ensureArticles(t.rt.db, [{ siteId, externalId }]);
  return [...arts.values()][0]!.id;
}

/** A published comment with the given fingerprint (none when `h` is null), as ingest stores it. */
function storedRow(s: Stored, articleId: string): NewComment {
  const bands = s.h === null ? [null, null, null, null] : simhashBands(s.h);
  return {
    id: s.id,
    site_id: s.siteId,
    article_id: articleId,
    author_name: 'Ada',
    body: 'a body',
    status: 'published',
    signals: '{}',
    created_at: s.at,
    updated_at: s.at,
    simhash: s.h === null ? null : fingerprintToSigned(s.h).toString(),
    simhash_b0: bands[0],
    simhash_b1: bands[1],
    simhash_b2: bands[2],
    simhash_b3: bands[3],
  };
}

describe('findNearDuplicates', () => {
  it('finds exactly the earlier comments of the same site within the window and 3 bits', async () => {
    const rnd = random(20261204);
    const word = () => BigInt(Math.floor(rnd() * 2 ** 32));
    const fresh = () => (word() << 32n) | word();
    const flip = (h: bigint, bits: number) => {
      let out = h;
      for (let i = 0; i < bits; i++) out ^= 1n << BigInt(Math.floor(rnd() * 64));
      return out;
    };
    const sites = [await t.site(), await t.site()];
    const articles = new Map<string, string>();
    for (const siteId of sites) articles.set(siteId, await articleOn(siteId, 'dups'));
    // Families of near-copies (0 to 5 bits apart from their first), spread over 20 minutes, with
    // some timestamps shared (the tie-break on id), copies on the other site, unrelated texts
    // and texts too short to fingerprint.
    const base = Date.parse('2026-12-04T12:00:00Z');
    const stored: Stored[] = [];
    for (let f = 0; f < 40; f++) {
      const origin = fresh();
      for (let k = 0; k < 6; k++) {
        const siteId = sites[rnd() < 0.8 ? 0 : 1]!;
        const at = new Date(base + Math.floor(rnd() * 40) * 30_000);
        stored.push({ id: uuidv7(at.getTime()), siteId, at, h: flip(origin, Math.floor(rnd() * 6)) });
      }
    }
    for (let i = 0; i < 60; i++) {
      const at = new Date(base + Math.floor(rnd() * 40) * 30_000);
      stored.push({ id: uuidv7(at.getTime()), siteId: sites[0]!, at, h: rnd() < 0.8 ? fresh() : null });
    }
    const rows = stored.map((s) => storedRow(s, articles.get(s.siteId)!));
    expect((await insertComments(t.rt.db, rows)).size).toBe(rows.length);

    const windowMs = 10 * 60_000;
    const probes = stored.filter((s) => s.h !== null);
    const found = await findNearDuplicates(
      t.rt.db,
      probes.map((p) => ({
        id: p.id,
        siteId: p.siteId,
        body: '',
        createdAt: p.at,
        fingerprint: fingerprintToSigned(p.h!).toString(),
      })),
      windowMs,
      1000,
    );
    let matches = 0;
    for (const p of probes) {
      const expected = stored
        .filter(
          (c) =>
            c.siteId === p.siteId &&
            c.h !== null &&
            c.at.getTime() >= p.at.getTime() - windowMs &&
            (c.at < p.at || (c.at.getTime() === p.at.getTime() && c.id < p.id)) &&
            hammingDistance(c.h, p.h!) <= NEAR_DUPLICATE_BITS,
        )
        .map((c) => c.id)
        .sort();
      matches += expected.length;
      expect([...(found.get(p.id) ?? [])].sort(), `probe ${p.id}`).toEqual(expected);
    }
    // The data must exercise the query: many probes with copies, and some without.
    expect(matches).toBeGreaterThan(50);
  });

  it('returns the newest copies first, at most `limit` of them', async () => {
    const siteId = await t.site();
    const articleId = await articleOn(siteId, 'dups-limit');
    const h = 0x0123456789abcdefn;
    const base = Date.parse('2026-12-04T12:00:00Z');
    const rows = Array.from({ length: 8 }, (_, i) =>
      storedRow({ id: uuidv7(base + i * 1000), siteId, at: new Date(base + i * 1000), h }, articleId),
    );
    await insertComments(t.rt.db, rows);
    const probe = { id: uuidv7(base + 60_000), siteId, body: '', createdAt: new Date(base + 60_000) };
    const found = await findNearDuplicates(
      t.rt.db,
      [{ ...probe, fingerprint: fingerprintToSigned(h).toString() }],
      3_600_000,
      3,
    );
    expect(found.get(probe.id)).toEqual([rows[7]!.id, rows[6]!.id, rows[5]!.id]);
  });
});
