/**
 * Sends one signed delivery with node:http/https (never global fetch, which ignores agents and
 * lookups): the connect-time SSRF check runs in `lookup`, redirects are not followed, the whole
 * exchange is bounded by a timeout and only the first bytes of the response are kept.
 *
 * Connections are kept alive per endpoint when the caller passes an AgentPool (the delivery
 * worker does). A new connection per delivery costs a TCP handshake, and a TLS one for https: for
 * a receiver 50 ms away that is one to three round trips before the request, at a fixed number of
 * deliveries in flight per endpoint. It also leaves a socket in TIME_WAIT per delivery, which at
 * breaking-news rates runs one worker host out of ports towards one receiver. A pooled connection
 * was checked when it connected and stays connected to that address, so the SSRF guarantee is
 * unchanged: every connection is still made through the guarded lookup.
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
  /** Whose connections to reuse (the endpoint's id); with `agents`, keeps the connection alive. */
  poolKey?: string;
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
  /** Kept-alive connections per endpoint; without it every delivery opens its own connection. */
  agents?: AgentPool;
}

export interface AgentPool {
  get(key: string, protocol: string): http.Agent;
  /** Closes every pooled connection (idle ones at once, busy ones when their exchange ends). */
  destroy(): void;
  readonly size: number;
}

/**
 * One keep-alive agent per endpoint and origin, so an endpoint's deliveries share at most
 * `maxSockets` connections (its in-flight cap). Idle connections close after `idleMs`, below the
 * 5 s that Node's and many servers' keep-alive timeouts allow, so a receiver rarely closes one
 * just as it is reused. Past `maxAgents` the least recently used endpoint's agent is closed.
 */
export function createAgentPool(opts: {
  maxSockets: number;
  idleMs?: number;
  maxAgents?: number;
}): AgentPool {
  const agents = new Map<string, http.Agent>();
  const maxAgents = opts.maxAgents ?? 1000;
  return {
    get(key, protocol) {
      const k = `${protocol} ${key}`;
      let agent = agents.get(k);
      if (agent) {
        agents.delete(k);
      } else {
        const settings = {
          keepAlive: true,
          maxSockets: opts.maxSockets,
          maxFreeSockets: opts.maxSockets,
          timeout: opts.idleMs ?? 4000,
          scheduling: 'lifo' as const,
        };
        agent = protocol === 'https:' ? new https.Agent(settings) : new http.Agent(settings);
      }
      agents.set(k, agent);
      if (agents.size > maxAgents) {
        const [oldest, a] = agents.entries().next().value as [string, http.Agent];
        agents.delete(oldest);
        a.destroy();
      }
      return agent;
    },
    destroy() {
      for (const a of agents.values()) a.destroy();
      agents.clear();
    },
    get size() {
      return agents.size;
    },
  };
}

/** The connection a kept-alive request went out on was closed under it before any answer. */
function reuseFailed(request: http.ClientRequest, err: NodeJS.ErrnoException, answered: boolean): boolean {
  return (
    request.reusedSocket &&
    !answered &&
    (err.code === 'ECONNRESET' || err.code === 'EPIPE' || err.message === 'socket hang up')
  );
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
  const pooled = opts.agents && req.poolKey ? opts.agents.get(req.poolKey, target.url.protocol) : undefined;
  // A kept-alive connection the receiver closed just as it was reused fails before any answer; the
  // same delivery (same webhook-id) then goes once more on a new connection, as Node's docs advise.
  const first = await attempt(pooled);
  return first === 'reuse failed' ? ((await attempt(undefined)) as DeliveryResult) : first;

  function attempt(agent: http.Agent | undefined) {
    return new Promise<DeliveryResult | 'reuse failed'>((resolve) => {
      let done = false;
      let answered = false;
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
          // Without a pool, a connection of its own. A new connection, pooled or not, is made through
          // the guarded lookup below.
          agent: agent ?? false,
          lookup: guardedLookup(opts.policy, opts.resolver ?? systemResolver) as never,
          headers: {
            'content-type': 'application/json',
            'user-agent': 'Parley-Webhooks/1',
            'content-length': String(Buffer.byteLength(req.body)),
            ...req.headers,
          },
        },
        (res) => {
          answered = true;
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
          };
          // A body read to its end leaves the connection free for the endpoint's next delivery.
          res.on('end', settle);
          res.on('close', settle);
          res.on('error', settle);
        },
      );
      const timer = setTimeout(
        () => {
          finish({
            outcome: 'timeout',
            statusCode: null,
            responseBody: null,
            error: `no response within ${opts.timeoutMs} ms`,
          });
          request.destroy();
          // One bound for the whole exchange, a second connection included.
        },
        Math.max(1, opts.timeoutMs - elapsed()),
      );
      request.on('error', (err: NodeJS.ErrnoException) => {
        if (!done && reuseFailed(request, err, answered)) {
          done = true;
          clearTimeout(timer);
          resolve('reuse failed');
          return;
        }
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
}
