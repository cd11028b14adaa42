/** A real HTTP receiver on 127.0.0.1 that records every delivery, and a controllable clock. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
  at: number;
}

export type Reply = { status: number; headers?: Record<string, string>; body?: string } | 'hang';

export interface Receiver {
  url(path: string): string;
  port: number;
  received: Received[];
  on(path: string, reply: (n: number, req: Received) => Reply): void;
  /** Requests being answered right now, per path, and the most seen at once. */
  inFlight(path: string): number;
  maxInFlight(path: string): number;
  connections: number;
  close(): Promise<void>;
}

export async function startReceiver(host = '127.0.0.1'): Promise<Receiver> {
  const received: Received[] = [];
  const handlers = new Map<string, (n: number, req: Received) => Reply>();
  const counts = new Map<string, number>();
  const open = new Map<string, number>();
  const maxOpen = new Map<string, number>();
  const hanging = new Set<http.ServerResponse>();
  let connections = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const rec: Received = {
        path,
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      };
      received.push(rec);
      const n = (counts.get(path) ?? 0) + 1;
      counts.set(path, n);
      open.set(path, (open.get(path) ?? 0) + 1);
      maxOpen.set(path, Math.max(maxOpen.get(path) ?? 0, open.get(path) ?? 0));
      const done = () => open.set(path, (open.get(path) ?? 1) - 1);
      res.on('close', done);
      const reply = handlers.get(path)?.(n, rec) ?? { status: 200, body: 'ok' };
      if (reply === 'hang') {
        hanging.add(res);
        return;
      }
      res.writeHead(reply.status, { 'content-type': 'text/plain', ...reply.headers });
      res.end(reply.body ?? '');
    });
  });
  server.on('connection', () => {
    connections += 1;
  });
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: (path) => `http://${host.includes(':') ? `[${host}]` : host}:${port}${path}`,
    received,
    on: (path, reply) => handlers.set(path, reply),
    inFlight: (path) => open.get(path) ?? 0,
    maxInFlight: (path) => maxOpen.get(path) ?? 0,
    get connections() {
      return connections;
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Wall-clock time plus an offset the test moves forward, so hours of schedule pass instantly. */
export function testClock() {
  let offset = 0;
  return {
    now: () => new Date(Date.now() + offset),
    advance(ms: number) {
      offset += ms;
    },
    /** Moves the clock so that `at` is now (never backwards). */
    advanceTo(at: Date) {
      const d = at.getTime() - (Date.now() + offset);
      if (d > 0) offset += d;
    },
  };
}
