/** Comment submissions as the benches send them. */
import { corpus } from '../pipeline';
import { type OpenLoopResult, openLoop } from './open-loop';

let texts: string[] | undefined;

/** The n-th bench comment's JSON body: 997 recurring readers, texts from the pipeline's corpus. */
export function commentBody(n: number, formToken: string): string {
  texts ??= corpus(2000);
  return JSON.stringify({
    authorName: `Reader ${n % 997}`,
    authorEmail: `reader${n % 997}@bench.example`,
    body: texts[n % texts.length],
    formToken,
  });
}

/** A complete keep-alive HTTP/1.1 JSON POST to 127.0.0.1, as the open-loop generator sends it. */
function rawJsonPost(port: number, path: string, body: string, origin: string): Buffer {
  return Buffer.from(
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n` +
      `Origin: ${origin}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/**
 * Submissions of new bench comments at a fixed rate (the open-loop generator): comment `first + i`
 * goes to article `breaking-<(first + i) % articles>`, and each 202's comment id is handed to
 * `onAccepted` with the time its send was scheduled.
 */
export function submitAtRate(opts: {
  port: number;
  siteId: string;
  formToken: string;
  origin: string;
  rate: number;
  durationMs: number;
  maxConnections: number;
  articles: number;
  first: number;
  onAccepted: (commentId: string, scheduledAt: number) => void;
}): Promise<OpenLoopResult> {
  return openLoop({
    host: '127.0.0.1',
    port: opts.port,
    rate: opts.rate,
    durationMs: opts.durationMs,
    maxConnections: opts.maxConnections,
    request: (i) => {
      const n = opts.first + i;
      return rawJsonPost(
        opts.port,
        `/api/v1/sites/${opts.siteId}/articles/breaking-${n % opts.articles}/comments`,
        commentBody(n, opts.formToken),
        opts.origin,
      );
    },
    onResponse: (_i, status, body, scheduledAt) => {
      if (status === 202) opts.onAccepted((JSON.parse(body.toString()) as { id: string }).id, scheduledAt);
    },
  });
}
