/**
 * Sends one signed delivery with node:http/https (never global fetch, which ignores agents and
 * lookups): the connect-time SSRF check runs in `lookup`, redirects are not followed, the whole
 * exchange is bounded by a timeout and only the first bytes of the response are kept.
 */
import http from 'node:http';
import https from 'node:https';
import type { AttemptOutcome } from '../../db/schema/webhooks';
import {
  BlockedAddressError,
  checkUrl,
  type GuardPolicy,
  guardedLookup,
  type Resolver,
  systemResolver,
} from './ssrf';

export interface DeliveryRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface DeliveryResult {
  outcome: AttemptOutcome;
  statusCode: number | null;
  durationMs: number;
  responseBody: string | null;
  retryAfter?: string;
  error?: string;
}

export interface ClientOptions {
  policy: GuardPolicy;
  timeoutMs: number;
  resolver?: Resolver;
  /** Bytes of the response body kept for the delivery log. */
  keepBytes?: number;
}

export async function sendDelivery(req: DeliveryRequest, opts: ClientOptions): Promise<DeliveryResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let target: ReturnType<typeof checkUrl>;
  try {
    // IP-literal hosts never reach `lookup`, so the URL check is the connect-time check for them.
    target = checkUrl(req.url, opts.policy);
  } catch (err) {
    return {
      outcome: 'blocked',
      statusCode: null,
      durationMs: elapsed(),
      responseBody: null,
      error: (err as Error).message,
    };
  }
  const keep = opts.keepBytes ?? 1024;
  const mod = target.url.protocol === 'https:' ? https : http;
  return new Promise<DeliveryResult>((resolve) => {
    let done = false;
    const finish = (r: Omit<DeliveryResult, 'durationMs'>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ...r, durationMs: elapsed() });
    };
    const request = mod.request(
      {
        protocol: target.url.protocol,
        hostname: target.host,
        port: target.url.port || undefined,
        path: `${target.url.pathname}${target.url.search}`,
        method: 'POST',
        // A fresh connection per delivery: a pooled socket would skip the connect-time check.
        agent: false,
        lookup: guardedLookup(opts.policy, opts.resolver ?? systemResolver) as never,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Parley-Webhooks/1',
          'content-length': String(Buffer.byteLength(req.body)),
          ...req.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < keep) chunks.push(chunk);
          size += chunk.length;
          // Enough for the log: stop reading a huge or endless body.
          if (size > 64 * 1024) res.destroy();
        });
        const settle = () => {
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).subarray(0, keep).toString('utf8');
          finish({
            outcome: status >= 200 && status < 300 ? 'success' : 'http_error',
            statusCode: status,
            responseBody: text,
            retryAfter: res.headers['retry-after'],
          });
          request.destroy();
        };
        res.on('end', settle);
        res.on('close', settle);
        res.on('error', settle);
      },
    );
    const timer = setTimeout(() => {
      finish({
        outcome: 'timeout',
        statusCode: null,
        responseBody: null,
        error: `no response within ${opts.timeoutMs} ms`,
      });
      request.destroy();
    }, opts.timeoutMs);
    request.on('error', (err) => {
      const blocked =
        err instanceof BlockedAddressError || (err as { code?: string }).code === 'EWEBHOOKBLOCKED';
      finish({
        outcome: blocked ? 'blocked' : 'network_error',
        statusCode: null,
        responseBody: null,
        error: err.message.slice(0, 500),
      });
    });
    request.end(req.body);
  });
}
