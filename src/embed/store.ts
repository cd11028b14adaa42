/**
 * The author's own not-yet-decided comments, kept in this browser only (localStorage), so the
 * "awaiting moderation" note survives a reload without the server ever showing them to others.
 */
export interface PendingComment {
  id: string;
  statusUrl: string;
  parentId: string | null;
  authorName: string;
  body: string;
  createdAt: string;
}

// A comment still undecided after a week is dropped from view: its moderator has clearly moved on.
const MAX_AGE_MS = 7 * 86_400_000;
const MAX_ITEMS = 50;

export class PendingStore {
  private key: string;

  constructor(site: string, article: string) {
    this.key = `parley:pending:${site}:${article}`;
  }

  list(): PendingComment[] {
    try {
      const raw = JSON.parse(localStorage.getItem(this.key) ?? '[]') as unknown;
      if (!Array.isArray(raw)) return [];
      const cutoff = Date.now() - MAX_AGE_MS;
      return raw.filter(
        (p): p is PendingComment =>
          p &&
          typeof p.id === 'string' &&
          typeof p.statusUrl === 'string' &&
          typeof p.body === 'string' &&
          typeof p.authorName === 'string' &&
          Date.parse(p.createdAt) > cutoff,
      );
    } catch {
      return []; // storage disabled or corrupted: the note simply does not persist
    }
  }

  private save(items: PendingComment[]): void {
    try {
      if (items.length) localStorage.setItem(this.key, JSON.stringify(items.slice(-MAX_ITEMS)));
      else localStorage.removeItem(this.key);
    } catch {
      /* private mode or full: keep working without persistence */
    }
  }

  add(p: PendingComment): void {
    this.save([...this.list().filter((x) => x.id !== p.id), p]);
  }

  remove(id: string): void {
    this.save(this.list().filter((x) => x.id !== id));
  }
}

const MAX_TOKENS = 200;

/**
 * The author tokens of the reader's own comments on this site (from each submission's 202), which
 * prove to Parley that they wrote them and so let them delete them. Kept in this browser only, at
 * most MAX_TOKENS (the oldest go first); another browser, or a cleared storage, cannot delete.
 */
export class AuthorTokens {
  private key: string;
  /** Read once: a token another tab adds shows its Delete button here after a reload. */
  private map: Map<string, string>;

  constructor(site: string) {
    this.key = `parley:authored:${site}`;
    this.map = this.load();
  }

  private load(): Map<string, string> {
    try {
      const list = JSON.parse(localStorage.getItem(this.key) ?? '[]') as unknown;
      if (Array.isArray(list))
        return new Map(list.filter((e) => typeof e?.[0] === 'string' && typeof e[1] === 'string'));
    } catch {
      /* storage disabled or corrupted: nothing is remembered */
    }
    return new Map();
  }

  get(id: string): string | undefined {
    return this.map.get(id);
  }

  /** Adds (token) or removes (no token) one entry, on top of what other tabs stored meanwhile. */
  set(id: string, token?: string): void {
    const map = this.load();
    map.delete(id); // a re-added id moves to the newest end
    if (token) map.set(id, token);
    this.map = new Map([...map].slice(-MAX_TOKENS));
    try {
      if (this.map.size) localStorage.setItem(this.key, JSON.stringify([...this.map]));
      else localStorage.removeItem(this.key);
    } catch {
      /* private mode or full: this page still remembers */
    }
  }
}

/**
 * An opaque random id for this browser, sent with reader reports so that readers sharing one
 * address (an office, a mobile carrier) count as different reporters. It identifies nothing else.
 */
export function readerToken(make: () => string): string | undefined {
  try {
    let t = localStorage.getItem('parley:reader');
    if (!t || !/^[A-Za-z0-9_-]{16,128}$/.test(t)) {
      t = make();
      localStorage.setItem('parley:reader', t);
    }
    return t;
  } catch {
    return undefined;
  }
}

/** Remembers the reader's name (not their email) so the next comment is quicker to write. */
export function rememberedName(): string {
  try {
    return localStorage.getItem('parley:name') ?? '';
  } catch {
    return '';
  }
}

export function rememberName(name: string): void {
  try {
    localStorage.setItem('parley:name', name);
  } catch {
    /* ignore */
  }
}

/**
 * Until when each of the reader's own comments may still be edited (the editableUntil of its 202),
 * kept beside the author tokens in this browser only; entries whose time has passed are dropped.
 */
export class EditWindows {
  private key: string;

  constructor(site: string) {
    this.key = `parley:editable:${site}`;
  }

  private load(): Array<[string, number]> {
    try {
      const list = JSON.parse(localStorage.getItem(this.key) ?? '[]') as unknown;
      const now = Date.now();
      if (Array.isArray(list))
        return list.filter((e) => typeof e?.[0] === 'string' && typeof e[1] === 'number' && e[1] > now);
    } catch {
      /* storage disabled or corrupted: no Edit after a reload */
    }
    return [];
  }

  /** Ms since the epoch until which `id` may be edited; 0 when it may not (or is not known). */
  until(id: string): number {
    return this.load().find((e) => e[0] === id)?.[1] ?? 0;
  }

  /** Remembers a comment's window (an ISO time), or forgets it (null). */
  set(id: string, until: string | null | undefined): void {
    const at = until ? Date.parse(until) : 0;
    const list = this.load().filter((e) => e[0] !== id);
    if (at > Date.now()) list.push([id, at]);
    try {
      if (list.length) localStorage.setItem(this.key, JSON.stringify(list.slice(-MAX_TOKENS)));
      else localStorage.removeItem(this.key);
    } catch {
      /* private mode or full: Edit is offered until the page is reloaded */
    }
  }
}
