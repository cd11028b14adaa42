/** The embed's HTTP client for Parley's public API: JSON in and out, problem+json errors typed. */

export interface PublicComment {
  id: string;
  parentId: string | null;
  authorName: string;
  body: string;
  createdAt: string;
  /** When its author last edited it; null (or absent from an older server) if never. */
  editedAt?: string | null;
  /** A tombstone: deleted, kept for the published replies under it (no name, no text). */
  deleted?: true;
  replies: PublicComment[];
}

export interface Thread {
  article: { id: string; title: string | null; url: string | null; closed: boolean; commentCount: number };
  comments: PublicComment[];
  nextCursor: string | null;
}

export interface Submission {
  authorName: string;
  authorEmail?: string;
  body: string;
  parentId?: string;
  articleUrl?: string;
  articleTitle?: string;
  website: string;
  formToken?: string;
}

export type PublicStatus = 'pending' | 'published' | 'rejected';
export type ReportReason = 'spam' | 'abuse' | 'off_topic' | 'other';

/** A non-2xx answer; `network` is set when no answer arrived at all (offline, refused by CORS). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly errors: Array<{ path: string; message: string }> = [],
    readonly retryAfter = 0,
  ) {
    super(message);
  }
  get network(): boolean {
    return this.status === 0;
  }
}

export class Api {
  private etags = new Map<string, { etag: string; body: unknown }>();

  constructor(
    /** Parley's base URL, ending in a slash (where embed.js was loaded from). */
    readonly base: string,
    readonly site: string,
  ) {}

  url(path: string): string {
    return new URL(path.replace(/^\//, ''), this.base).toString();
  }

  private sitePath(rest: string): string {
    return `api/v1/sites/${encodeURIComponent(this.site)}/${rest}`;
  }

  private async call<T>(path: string, init: RequestInit = {}, conditional = false): Promise<T> {
    const url = this.url(path);
    const headers = new Headers(init.headers);
    const cached = conditional ? this.etags.get(url) : undefined;
    if (cached) headers.set('if-none-match', cached.etag);
    let res: Response;
    try {
      // No cookies: Parley needs no login, so nothing ambient is ever sent to it.
      res = await fetch(url, { ...init, headers, credentials: 'omit', mode: 'cors' });
    } catch {
      throw new ApiError(0, 'network', 'network');
    }
    if (res.status === 304 && cached) return cached.body as T;
    const body = await res.json().catch(() => null);
    if (!res.ok) {
      const p = (body ?? {}) as { code?: string; title?: string; errors?: ApiError['errors'] };
      throw new ApiError(
        res.status,
        p.code ?? 'http_error',
        p.title ?? `HTTP ${res.status}`,
        Array.isArray(p.errors) ? p.errors : [],
        Number(res.headers.get('retry-after')) || 0,
      );
    }
    const etag = res.headers.get('etag');
    if (conditional && etag) this.etags.set(url, { etag, body });
    return body as T;
  }

  thread(article: string, order: string, limit: number, cursor?: string | null): Promise<Thread> {
    const q = new URLSearchParams({ order, limit: String(limit) });
    if (cursor) q.set('cursor', cursor);
    // Only the first page is polled; If-None-Match makes an unchanged thread cost a 304.
    return this.call(this.sitePath(`articles/${encodeURIComponent(article)}/comments?${q}`), {}, !cursor);
  }

  formToken(): Promise<{ token: string }> {
    return this.call(this.sitePath('form-token'));
  }

  submit(article: string, input: Submission, idempotencyKey: string) {
    return this.call<{
      id: string;
      status: PublicStatus;
      statusUrl: string;
      authorToken?: string;
      editableUntil?: string | null;
    }>(this.sitePath(`articles/${encodeURIComponent(article)}/comments`), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
      body: JSON.stringify(input),
    });
  }

  status(statusUrl: string): Promise<{ status: PublicStatus }> {
    return this.call(statusUrl);
  }

  /** The status URL of one comment, as a submission's 202 gives it. */
  statusUrl(commentId: string): string {
    return `/${this.sitePath(`comments/${encodeURIComponent(commentId)}`)}`;
  }

  /** A JSON POST about one comment (`reports`, `withdraw`, `edit`). */
  private onComment<T = unknown>(commentId: string, action: string, body: object) {
    return this.call<T>(this.sitePath(`comments/${encodeURIComponent(commentId)}/${action}`), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  report(commentId: string, reason: ReportReason, note: string, readerToken?: string) {
    return this.onComment(commentId, 'reports', {
      reason,
      ...(note ? { note } : {}),
      ...(readerToken ? { readerToken } : {}),
    });
  }

  /** Deletes the reader's own comment; the author token of its submission proves it is theirs. */
  withdraw(commentId: string, authorToken: string) {
    return this.onComment(commentId, 'withdraw', { authorToken });
  }

  /** Replaces the text of the reader's own comment; it is moderated again (pending) if it changed. */
  edit(commentId: string, authorToken: string, body: string) {
    return this.onComment<{ status: PublicStatus; editedAt: string | null; changed: boolean }>(
      commentId,
      'edit',
      { authorToken, body },
    );
  }

  counts(articles: string[]): Promise<{ counts: Record<string, number> }> {
    const q = new URLSearchParams();
    for (const a of articles) q.append('article', a);
    // Polled like the thread: If-None-Match makes unchanged counts cost a 304.
    return this.call(this.sitePath(`counts?${q}`), {}, true);
  }
}

/** A random key; crypto.randomUUID exists only in secure contexts, getRandomValues everywhere. */
export function randomKey(): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** Parley's base URL from the script element that loaded us. */
export function baseOf(script: HTMLScriptElement): string {
  return new URL('.', script.src || location.href).toString();
}
