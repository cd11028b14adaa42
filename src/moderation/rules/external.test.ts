import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { comment, ctx } from '../test-helpers';
import { externalProvider } from './external';

// A loopback server standing in for an OpenAI-moderation-compatible endpoint; nothing leaves the machine.
let server: Server;
let base = '';
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      if (req.url === '/slow') return setTimeout(() => res.end('{}'), 500);
      if (req.url === '/broken') {
        res.statusCode = 503;
        return res.end('down');
      }
      if (req.url === '/garbled') {
        res.setHeader('content-type', 'application/json');
        return res.end('<html>maintenance</html>');
      }
      const input = (JSON.parse(body) as { input: string }).input;
      const hostile = input.includes('hate');
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          results: [{ flagged: hostile, category_scores: { harassment: hostile ? 0.93 : 0.01, hate: 0.02 } }],
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('external provider', () => {
  it('maps the provider score to a toxicity verdict', async () => {
    const rule = externalProvider({ url: `${base}/moderate` });
    expect(await rule.run(comment('I hate you'), ctx())).toMatchObject({
      category: 'toxicity',
      score: 0.93,
      code: 'external_harassment',
    });
  });
  it('holds when the provider times out or fails', async () => {
    const slow = externalProvider({ url: `${base}/slow`, timeoutMs: 50 });
    expect(await slow.run(comment('hello'), ctx())).toMatchObject({
      code: 'external_failed',
      action: 'hold',
    });
    const broken = externalProvider({ url: `${base}/broken` });
    expect(await broken.run(comment('hello'), ctx())).toMatchObject({
      code: 'external_failed',
      action: 'hold',
      message: expect.stringContaining('HTTP 503'),
    });
    const garbled = externalProvider({ url: `${base}/garbled` });
    expect(await garbled.run(comment('hello'), ctx())).toMatchObject({
      code: 'external_failed',
      action: 'hold',
      message: expect.stringContaining('not JSON'),
    });
    const unreachable = externalProvider({ url: 'http://127.0.0.1:1/moderate' });
    expect(await unreachable.run(comment('hello'), ctx())).toMatchObject({
      code: 'external_failed',
      message: expect.stringContaining('could not be reached'),
    });
  });
});
