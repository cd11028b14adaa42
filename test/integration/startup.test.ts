import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';

const run = promisify(execFile);

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function start(env: Record<string, string>) {
  const started = Date.now();
  try {
    await run('npx', ['tsx', 'src/server.ts'], {
      env: { ...process.env, LOG_LEVEL: 'silent', PORT: '0', DEMO: 'false', ...env },
      timeout: 30_000,
    });
    return { code: 0, stderr: '', ms: Date.now() - started };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr, ms: Date.now() - started };
  }
}

describe('start-up without its backing services', () => {
  it('exits with a message naming the Postgres URL and how to start it, not a stack trace', async () => {
    const url = `postgres://postgres@127.0.0.1:${await closedPort()}/parley`;
    const res = await start({ DATABASE_URL: url, REDIS_URL: inject('redisUrl') });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`127.0.0.1:${new URL(url).port}`);
    expect(res.stderr).toContain('docker compose up -d postgres redis');
    expect(res.stderr).not.toMatch(/^\s+at /m);
  });

  it('exits with a message naming the Redis URL when Redis is down', async () => {
    const port = await closedPort();
    const res = await start({ DATABASE_URL: inject('databaseUrl'), REDIS_URL: `redis://127.0.0.1:${port}` });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`redis://127.0.0.1:${port}`);
    expect(res.stderr).toContain('docker compose up -d postgres redis');
  });

  it('names every invalid setting and exits with code 2', async () => {
    const res = await start({ PORT: 'eighty', DATABASE_URL: 'nope' });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('PORT');
    expect(res.stderr).toContain('DATABASE_URL');
  });
});
