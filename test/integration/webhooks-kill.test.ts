/**
 * A worker process killed with SIGKILL in the middle of deliveries: nothing is lost, and every
 * duplicate a receiver sees carries the same webhook-id as the delivery it repeats.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis } from '../../src/queue';
import { insertOutbox } from '../../src/repositories/outbox';
import { publishNow } from '../../src/services/outbox-publisher';
import { type RunningWebhookWorkers, startWebhookWorkers } from '../../workers/webhooks';
import { createTestContext, type TestContext, waitFor } from '../helpers/context';
import { type Receiver, startReceiver } from './webhooks-helpers';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const N = 5;

let t: TestContext;
let rx: Receiver;
let child: ChildProcess | undefined;
let survivor: RunningWebhookWorkers | undefined;
let survivorConnection: ReturnType<typeof createRedis> | undefined;

beforeAll(async () => {
  rx = await startReceiver();
  t = await createTestContext({ env: { WEBHOOKS_ALLOW_LOOPBACK: 'true' } });
});
afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await survivor?.close(2000);
  survivorConnection?.disconnect();
  await t?.close();
  await rx?.close();
});

describe('a worker killed mid-delivery', () => {
  it('loses nothing, and duplicates carry the same webhook-id', { timeout: 120_000 }, async () => {
    const siteId = await t.site();
    const token = await t.token(siteId, 'admin');
    const created = await t.request(
      'POST',
      `/api/v1/admin/sites/${siteId}/webhooks/endpoints`,
      { url: rx.url('/k'), eventTypes: ['comment.approved'] },
      { authorization: `Bearer ${token}` },
    );
    expect(created.status).toBe(201);
    const { endpoint, secret } = (await created.json()) as { endpoint: { id: string }; secret: string };

    // Until the kill, the receiver takes every request and never answers: they are all in flight.
    let killed = false;
    const answered = new Map<string, number>();
    let killing: Promise<void> | undefined;
    rx.on('/k', (_n, req) => {
      if (!killed) {
        killing ??= (async () => {
          // Let the fan-out finish and the other in-flight requests arrive, then kill -9.
          await waitFor(
            async () =>
              (
                await t.rt.db
                  .selectFrom('webhook_messages')
                  .select('id')
                  .where('endpoint_id', '=', endpoint.id)
                  .execute()
              ).length === N,
            'all messages fanned out',
          );
          await new Promise((r) => setTimeout(r, 300));
          child!.kill('SIGKILL');
          killed = true;
        })();
        return 'hang';
      }
      const id = req.headers['webhook-id']!;
      answered.set(id, (answered.get(id) ?? 0) + 1);
      return { status: 200 };
    });

    child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'test',
        DATABASE_URL: t.config.DATABASE_URL,
        REDIS_URL: t.config.REDIS_URL,
        QUEUE_PREFIX: t.config.QUEUE_PREFIX,
        PARLEY_SECRET: t.config.PARLEY_SECRET,
        LOG_LEVEL: 'silent',
        DEMO: 'false',
        HOST: '127.0.0.1',
        WORKER_METRICS_PORT: '0',
        WEBHOOKS_ALLOW_LOOPBACK: 'true',
        // Longer than the kill takes even on a loaded machine, so no attempt times out before it.
        WEBHOOKS_TIMEOUT_MS: '5000',
        WEBHOOKS_DISPATCH_INTERVAL_MS: '50',
        RELAY_INTERVAL_MS: '100',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });

    const rows = await insertOutbox(
      t.rt.db,
      Array.from({ length: N }, () => ({
        topic: 'comment.approved',
        siteId,
        commentId: randomUUID(),
        payload: { actor: 'moderator' },
      })),
    );
    await publishNow(t.rt.db, t.rt.queues, rows);

    await waitFor(
      async () => killed,
      `the child to take deliveries (stderr: ${stderr.slice(0, 500)})`,
      60_000,
    );
    await killing;
    await new Promise<void>((r) =>
      child!.exitCode !== null || child!.signalCode ? r() : child!.once('exit', () => r()),
    );
    expect(child.signalCode).toBe('SIGKILL');
    const hungIds = new Set(rx.received.filter((r) => r.path === '/k').map((r) => r.headers['webhook-id']!));
    expect(hungIds.size).toBeGreaterThan(0);

    // A survivor takes over once the dead worker's leases expire.
    survivorConnection = createRedis(t.config.REDIS_URL, 'worker');
    survivor = startWebhookWorkers(
      { db: t.rt.db, queues: t.rt.queues, workerConnection: survivorConnection, logger: t.rt.logger },
      {
        policy: { allowLoopback: true, allowHttp: true },
        serverSecret: t.config.PARLEY_SECRET,
        timeoutMs: 1000,
        perEndpoint: 4,
        concurrency: 8,
        dispatchIntervalMs: 100,
        now: () => new Date(),
        random: Math.random,
      },
    );
    await waitFor(
      async () => {
        const ms = await t.rt.db
          .selectFrom('webhook_messages')
          .select('status')
          .where('endpoint_id', '=', endpoint.id)
          .execute();
        return ms.length === N && ms.every((m) => m.status === 'succeeded');
      },
      'every message delivered',
      30_000,
    );

    const messages = await t.rt.db
      .selectFrom('webhook_messages')
      .select('id')
      .where('endpoint_id', '=', endpoint.id)
      .execute();
    const ids = new Set(messages.map((m) => m.id));
    expect(ids.size).toBe(N);
    const got = rx.received.filter((r) => r.path === '/k');
    // Every request is one of the messages, correctly signed; each message succeeded exactly once.
    for (const r of got) {
      expect(ids.has(r.headers['webhook-id']!)).toBe(true);
      expect(new Webhook(secret).verify(r.body, r.headers)).toMatchObject({ type: 'comment.approved' });
    }
    expect([...answered.keys()].sort()).toEqual([...ids].sort());
    for (const n of answered.values()) expect(n).toBe(1);
    // The deliveries cut short by the kill were repeated, under the same webhook-id.
    for (const id of hungIds) expect(answered.get(id)).toBe(1);
    expect(got.length).toBe(N + hungIds.size);
  });
});
