/**
 * The delivery client against a real server on 127.0.0.1: connections kept alive per endpoint with
 * a pool, one per delivery without, a kept-alive connection closed under a request; and answers
 * that must not count as delivered (a redirect) or must not hold the client (an endless body).
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgentPool, sendDelivery } from './client';

const LOOPBACK = { allowLoopback: true, allowHttp: true };

/** A server that answers 200, or (when `drop` says so) closes the connection without answering. */
async function server(drop: (requestOnConnection: number) => boolean = () => false) {
  let connections = 0;
  let requests = 0;
  const perSocket = new WeakMap<Socket, number>();
  const srv = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      const n = (perSocket.get(req.socket) ?? 0) + 1;
      perSocket.set(req.socket, n);
      if (drop(n)) {
        req.socket.destroy();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  srv.on('connection', () => {
    connections++;
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    get connections() {
      return connections;
    },
    get requests() {
      return requests;
    },
    close: () => {
      srv.closeAllConnections();
      return new Promise<void>((r) => srv.close(() => r()));
    },
  };
}

const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

describe('sendDelivery connections', () => {
  it('keeps an endpoint connection alive with a pool, and opens one per delivery without', async () => {
    const s = await server();
    closers.push(s.close);
    const agents = createAgentPool({ maxSockets: 4 });
    closers.push(() => agents.destroy());
    for (let i = 0; i < 5; i++) {
      const r = await sendDelivery(
        { url: s.url, headers: {}, body: '{}', poolKey: 'ep_a' },
        { policy: LOOPBACK, timeoutMs: 2000, agents },
      );
      expect(r.outcome).toBe('success');
    }
    expect(s.connections).toBe(1);
    for (let i = 0; i < 3; i++) {
      const r = await sendDelivery(
        { url: s.url, headers: {}, body: '{}' },
        { policy: LOOPBACK, timeoutMs: 2000 },
      );
      expect(r.outcome).toBe('success');
    }
    expect(s.connections).toBe(4);
  });

  it('sends again on a new connection when a kept-alive one is closed under the request', async () => {
    // Every second request on a connection is dropped unanswered, as a server does that closes an
    // idle connection just as it is reused.
    const s = await server((n) => n === 2);
    closers.push(s.close);
    const agents = createAgentPool({ maxSockets: 1 });
    closers.push(() => agents.destroy());
    const send = () =>
      sendDelivery(
        { url: s.url, headers: {}, body: '{}', poolKey: 'ep_b' },
        { policy: LOOPBACK, timeoutMs: 2000, agents },
      );
    expect((await send()).outcome).toBe('success');
    expect((await send()).outcome).toBe('success');
    expect(s.requests).toBe(3);
    expect(s.connections).toBe(2);
  });

  it('does not send again when a new connection fails: that is the attempt, and it is logged', async () => {
    const s = await server(() => true);
    closers.push(s.close);
    const agents = createAgentPool({ maxSockets: 1 });
    closers.push(() => agents.destroy());
    const r = await sendDelivery(
      { url: s.url, headers: {}, body: '{}', poolKey: 'ep_c' },
      { policy: LOOPBACK, timeoutMs: 2000, agents },
    );
    expect(r.outcome).toBe('network_error');
    expect(s.requests).toBe(1);
  });

  it('closes the least recently used endpoint agent past its bound', () => {
    const agents = createAgentPool({ maxSockets: 1, maxAgents: 2 });
    const a = agents.get('ep_1', 'http:');
    const b = agents.get('ep_2', 'http:');
    expect(agents.get('ep_1', 'http:')).toBe(a);
    agents.get('ep_3', 'http:');
    expect(agents.size).toBe(2);
    expect(agents.get('ep_1', 'http:')).toBe(a);
    // ep_2 was the least recently used: it was closed, and asking for it makes a new agent.
    expect(agents.get('ep_2', 'http:')).not.toBe(b);
    agents.destroy();
    expect(agents.size).toBe(0);
  });
});

describe('sendDelivery answers', () => {
  /** A server whose handler the test writes; counts requests per path. */
  async function serve(handler: http.RequestListener) {
    const paths: string[] = [];
    const srv = http.createServer((req, res) => {
      paths.push(req.url ?? '');
      handler(req, res);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    closers.push(() => {
      srv.closeAllConnections();
      return new Promise<void>((r) => srv.close(() => r()));
    });
    return { base: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, paths };
  }
  const send = (url: string) =>
    sendDelivery(
      { url, headers: {}, body: '{}', poolKey: 'ep_answers' },
      { policy: LOOPBACK, timeoutMs: 3000 },
    );

  it('counts a redirect as a failed attempt and does not follow it', async () => {
    const s = await serve((req, res) => {
      req.resume();
      res.writeHead(302, { location: '/elsewhere' });
      res.end();
    });
    const r = await send(`${s.base}/hook`);
    expect(r).toMatchObject({ outcome: 'http_error', statusCode: 302 });
    expect(s.paths).toEqual(['/hook']);
  });

  it('stops reading a body that never ends, and keeps the answer', async () => {
    const s = await serve((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      // Bounded, but far longer than the delivery's timeout: the client must stop reading first.
      let writes = 0;
      const timer = setInterval(() => {
        if (writes++ > 2000 || res.destroyed) clearInterval(timer);
        else res.write('x'.repeat(16 * 1024));
      }, 5);
      res.on('close', () => clearInterval(timer));
    });
    const r = await send(`${s.base}/hook`);
    expect(r.outcome).toBe('success');
    expect(r.statusCode).toBe(200);
    expect(r.responseBody?.length).toBeGreaterThan(0);
    expect(r.responseBody!.length).toBeLessThanOrEqual(64 * 1024);
  });
});
