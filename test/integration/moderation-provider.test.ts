/**
 * The optional external classifier, configured through MODERATION_PROVIDER_* and appended by the
 * worker. Tested only against a loopback server: nothing leaves this machine.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { decisionsFor } from '../../src/repositories/decisions';
import { createTestContext, type TestContext, waitFor } from '../helpers/context';

let t: TestContext;
let server: Server;
const seen: Array<{ auth: string | undefined; input: string }> = [];
const timers = new Set<NodeJS.Timeout>();

async function readJson(req: IncomingMessage): Promise<{ input?: string }> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString() || '{}');
}

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const body = await readJson(req);
    const input = body.input ?? '';
    seen.push({ auth: req.headers.authorization, input });
    const answer = (scores: Record<string, number>) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ results: [{ flagged: false, category_scores: scores }] }));
    };
    if (input.includes('PROVIDER-FAIL')) {
      res.writeHead(500).end('boom');
    } else if (input.includes('PROVIDER-SLOW')) {
      const timer = setTimeout(() => answer({ harassment: 0 }), 1500);
      timers.add(timer);
    } else if (input.includes('PROVIDER-FLAG')) {
      answer({ harassment: 0.8, hate: 0.1, sexual: 0.01 });
    } else {
      answer({ harassment: 0.01, hate: 0.0 });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  t = await createTestContext({
    workers: true,
    env: {
      MODERATION_PROVIDER_URL: `http://127.0.0.1:${port}/v1/moderations`,
      MODERATION_PROVIDER_API_KEY: 'test-key-123',
      MODERATION_PROVIDER_TIMEOUT_MS: '300',
      RATE_SUBMIT_PER_AUTHOR: '0/60',
    },
  });
  // The API answers 503 to submissions until its Redis client is connected.
  await waitFor(async () => t.rt.redis.status === 'ready', 'Redis client ready');
});
afterAll(async () => {
  await t?.close();
  for (const timer of timers) clearTimeout(timer);
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
});

interface StoredVerdict {
  rule: string;
  code: string;
  score: number;
  message: string;
}

async function decide(siteId: string, body: string) {
  const res = await t.submit(siteId, 'provider', { authorName: 'Reader', body });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  return waitFor(
    async () => (await decisionsFor(t.rt.db, id)).find((d) => d.actor_type === 'system'),
    `decision ${id}`,
  );
}

const external = (reasons: unknown) => (reasons as StoredVerdict[]).find((r) => r.rule === 'external');

describe('external classifier provider', () => {
  it('is off unless a URL is configured, and only http(s) URLs are accepted', () => {
    expect(loadConfig({}).MODERATION_PROVIDER_URL).toBeUndefined();
    expect(loadConfig({ MODERATION_PROVIDER_URL: '' }).MODERATION_PROVIDER_URL).toBeUndefined();
    expect(() => loadConfig({ MODERATION_PROVIDER_URL: 'file:///etc/passwd' })).toThrow(
      /MODERATION_PROVIDER_URL/,
    );
    expect(() => loadConfig({ MODERATION_PROVIDER_TIMEOUT_MS: '0' })).toThrow(
      /MODERATION_PROVIDER_TIMEOUT_MS/,
    );
  });

  it('is asked about every comment, with the API key, and a clean answer publishes', async () => {
    const siteId = await t.site({ rules: { classifier: { enabled: false } } });
    const body = 'The new ferry timetable works well for commuters from the island.';
    const d = await decide(siteId, body);
    expect(d.action).toBe('publish');
    // Its verdict is recorded with the low score it gave (its top category is named either way).
    expect(external(d.reasons)).toMatchObject({ code: 'external_harassment', score: 0.01 });
    const call = seen.find((s) => s.input === body);
    expect(call?.auth).toBe('Bearer test-key-123');
  });

  it("holds what the provider scores above the site's toxicity threshold", async () => {
    const siteId = await t.site({ rules: { classifier: { enabled: false } } });
    const d = await decide(siteId, 'A perfectly polite sentence that the provider dislikes PROVIDER-FLAG.');
    expect(d.action).toBe('hold');
    expect(d.reason_code).toBe('external_harassment');
    expect((d.scores as Record<string, number>).toxicity).toBeGreaterThanOrEqual(0.8);
  });

  it('holds, and says so, when the provider fails or does not answer in time', async () => {
    const siteId = await t.site({ rules: { classifier: { enabled: false } } });
    const failed = await decide(siteId, 'An ordinary remark about the weather PROVIDER-FAIL.');
    expect(failed.action).toBe('hold');
    expect(failed.reason_code).toBe('external_failed');
    expect(external(failed.reasons)?.message).toMatch(/HTTP 500/);
    const slow = await decide(siteId, 'Another ordinary remark about the tides PROVIDER-SLOW.');
    expect(slow.action).toBe('hold');
    expect(slow.reason_code).toBe('external_failed');
    expect(external(slow.reasons)?.message).toMatch(/within 300 ms/);
  });
});
