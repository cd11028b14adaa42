/** Comment submissions as the benches send them. */
import { corpus } from '../pipeline';

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
export function rawJsonPost(port: number, path: string, body: string, origin: string): Buffer {
  return Buffer.from(
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n` +
      `Origin: ${origin}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
