/** The bench's comment submissions as bytes on the wire, shared by the bench and its generator. */
import { corpus } from './corpus';

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

/** One open-loop run of submissions (see submitAtRate). */
export interface SubmissionRun {
  port: number;
  siteId: string;
  formToken: string;
  origin: string;
  rate: number;
  durationMs: number;
  maxConnections: number;
  articles: number;
  first: number;
}

/** The n-th bench comment's path: article `breaking-<n % articles>` of the run's site. */
export function submissionPath(run: Pick<SubmissionRun, 'siteId' | 'articles'>, n: number): string {
  return `/api/v1/sites/${run.siteId}/articles/breaking-${n % run.articles}/comments`;
}

/**
 * The i-th send of a run as a complete keep-alive HTTP/1.1 JSON POST to 127.0.0.1: comment
 * `first + i`, to article `breaking-<(first + i) % articles>`.
 */
export function submissionRequest(run: SubmissionRun, i: number): Buffer {
  const n = run.first + i;
  const body = commentBody(n, run.formToken);
  return Buffer.from(
    `POST ${submissionPath(run, n)} HTTP/1.1\r\n` +
      `Host: 127.0.0.1:${run.port}\r\nContent-Type: application/json\r\n` +
      `Origin: ${run.origin}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
