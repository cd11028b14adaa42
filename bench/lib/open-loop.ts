/**
 * An open-loop load generator: requests are scheduled at a fixed rate whatever the server does, so a
 * slow server builds a queue instead of quietly slowing the generator down (autocannon's
 * overallRate sends each connection's share in a burst at the start of every second, which is
 * neither steady nor open). Latency is measured from each request's scheduled time, so time spent
 * waiting for a free connection counts (no coordinated omission). Raw keep-alive sockets and
 * pre-built request bytes keep the generator's own CPU cost low on a shared 2-core machine.
 *
 * Bounded: it sends exactly rate * duration requests, opens at most maxConnections sockets, and
 * gives up on stragglers drainMs after the last send. Loopback only.
 */
import net from 'node:net';

export interface OpenLoopOptions {
  host: '127.0.0.1';
  port: number;
  /** Requests per second. */
  rate: number;
  durationMs: number;
  maxConnections?: number;
  drainMs?: number;
  /** The complete HTTP/1.1 request for the i-th send (keep-alive, with Content-Length). */
  request: (i: number) => Buffer;
  onResponse?: (i: number, status: number, body: Buffer, scheduledAt: number) => void;
}

export interface OpenLoopResult {
  offered: number;
  sent: number;
  completed: number;
  statuses: Record<string, number>;
  /** Send rate actually achieved (requests per second over the sending window). */
  achievedRate: number;
  /** Latency of each completed request from its scheduled time, ms. */
  latencies: number[];
  errors: number;
  connectionsOpened: number;
}

interface Conn {
  socket: net.Socket;
  busy: boolean;
  current: number;
  buf: Buffer;
  idleSince: number;
}

/**
 * Node's server closes a keep-alive socket after 5 s idle; a request written as it does so is lost
 * to a reset, which a run would count against the server. HTTP clients avoid that race by giving up
 * idle sockets first (undici after 4 s), and so does this.
 */
const IDLE_REUSE_MS = 4000;

/** Wall-clock milliseconds with sub-ms precision, comparable with Postgres timestamps. */
export const wallNow = () => performance.timeOrigin + performance.now();

/** Parses one complete response from the front of `buf`; returns null while incomplete. */
function parseResponse(buf: Buffer): { status: number; body: Buffer; rest: Buffer } | null {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const head = buf.subarray(0, end).toString('latin1');
  const status = Number(head.slice(9, 12));
  const lower = head.toLowerCase();
  const cl = /\r\ncontent-length:\s*(\d+)/.exec(lower);
  if (cl) {
    const len = Number(cl[1]);
    if (buf.length < end + 4 + len) return null;
    return { status, body: buf.subarray(end + 4, end + 4 + len), rest: buf.subarray(end + 4 + len) };
  }
  if (lower.includes('\r\ntransfer-encoding: chunked')) {
    const parts: Buffer[] = [];
    let pos = end + 4;
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', pos);
      if (lineEnd < 0) return null;
      const size = Number.parseInt(buf.subarray(pos, lineEnd).toString('latin1'), 16);
      if (buf.length < lineEnd + 2 + size + 2) return null;
      if (size === 0) return { status, body: Buffer.concat(parts), rest: buf.subarray(lineEnd + 4) };
      parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
      pos = lineEnd + 2 + size + 2;
    }
  }
  // No body (204, 304).
  return { status, body: Buffer.alloc(0), rest: buf.subarray(end + 4) };
}

export async function openLoop(opts: OpenLoopOptions): Promise<OpenLoopResult> {
  const maxConnections = opts.maxConnections ?? 512;
  const drainMs = opts.drainMs ?? 10_000;
  const total = Math.round((opts.rate * opts.durationMs) / 1000);
  const interval = 1000 / opts.rate;
  const conns: Conn[] = [];
  const idle: Conn[] = [];
  const backlog: number[] = [];
  const scheduledAt = new Float64Array(total);
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let scheduled = 0;
  let sent = 0;
  let completed = 0;
  let errors = 0;
  let lastSendAt = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const checkDone = () => {
    if (scheduled === total && completed + errors >= total) done();
  };

  const send = (c: Conn, i: number) => {
    c.busy = true;
    c.current = i;
    sent++;
    lastSendAt = wallNow();
    c.socket.write(opts.request(i));
  };

  const release = (c: Conn) => {
    c.busy = false;
    const next = backlog.shift();
    if (next !== undefined) send(c, next);
    else {
      c.idleSince = wallNow();
      idle.push(c);
    }
  };

  const open = (): Conn => {
    const socket = net.connect({ host: opts.host, port: opts.port });
    socket.setNoDelay(true);
    const c: Conn = { socket, busy: false, current: -1, buf: Buffer.alloc(0), idleSince: 0 };
    socket.on('data', (chunk) => {
      c.buf = c.buf.length ? Buffer.concat([c.buf, chunk]) : chunk;
      for (;;) {
        const r = parseResponse(c.buf);
        if (!r) return;
        c.buf = r.rest;
        const i = c.current;
        const at = scheduledAt[i] ?? 0;
        latencies.push(wallNow() - at);
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        completed++;
        opts.onResponse?.(i, r.status, r.body, at);
        release(c);
        checkDone();
      }
    });
    const fail = () => {
      if (c.busy) {
        errors++;
        c.busy = false;
      }
      const k = idle.indexOf(c);
      if (k >= 0) idle.splice(k, 1);
      const j = conns.indexOf(c);
      if (j >= 0) conns.splice(j, 1);
      checkDone();
    };
    socket.on('error', fail);
    socket.on('close', fail);
    conns.push(c);
    return c;
  };

  let opened = 0;
  const dispatch = (i: number) => {
    let c = idle.pop();
    if (c && wallNow() - c.idleSince > IDLE_REUSE_MS) {
      // Idle too long to trust: closed here, and the ones under it (idle longer still) with it.
      for (const stale of [c, ...idle.splice(0)]) {
        const k = conns.indexOf(stale);
        if (k >= 0) conns.splice(k, 1);
        stale.socket.destroy();
      }
      c = undefined;
    }
    if (c) return send(c, i);
    if (conns.length < maxConnections) {
      opened++;
      const fresh = open();
      fresh.socket.once('connect', () => send(fresh, i));
      fresh.busy = true;
      return;
    }
    backlog.push(i);
  };

  const start = wallNow();
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor((wallNow() - start) / interval) + 1);
      while (scheduled < due) {
        scheduledAt[scheduled] = start + scheduled * interval;
        dispatch(scheduled);
        scheduled++;
      }
      if (scheduled < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  checkDone();
  const sendWindowEnd = wallNow();
  await Promise.race([finished, new Promise((r) => setTimeout(r, drainMs))]);
  // Whatever is still queued or in flight after the drain counts as an error.
  const unanswered = total - completed - errors;
  if (unanswered > 0) errors += unanswered;
  for (const c of conns.splice(0)) c.socket.destroy();
  const windowMs = Math.max(1, Math.max(sendWindowEnd, lastSendAt) - start);
  return {
    offered: total,
    sent,
    completed,
    statuses,
    achievedRate: Math.round((sent * 1000) / windowMs),
    latencies,
    errors,
    connectionsOpened: opened,
  };
}

export function percentile(values: number[], p: number): number {
  if (!values.length) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const k = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[k]!;
}
