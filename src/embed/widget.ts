/**
 * The comment widget: the "Leave a Comment" form and the published thread, inside a shadow root.
 * All user text reaches the DOM through `h()`/textContent, never as markup.
 */
import { type Api, ApiError, type PublicComment, type ReportReason, randomKey, type Thread } from './api';
import { PUBLISHED_EVENT, type PublishedDetail } from './counts';
import { h, setText, uid } from './dom';
import {
  AuthorTokens,
  EditWindows,
  type PendingComment,
  PendingStore,
  readerToken,
  rememberedName,
  rememberName,
} from './store';
import { CSS } from './styles';
import { applyTheme } from './theme';
import { absoluteTime, relativeTime } from './time';

export interface WidgetOptions {
  api: Api;
  article: string;
  articleUrl?: string;
  articleTitle?: string;
  order: 'oldest' | 'newest';
  pageSize: number;
  /** Thread refresh interval; 0 turns polling off. */
  pollMs: number;
  theme: string;
  maxChars: number;
}

interface CNode {
  li: HTMLLIElement;
  /** Reply, Report and (on the reader's own comments) Edit and Delete. */
  acts: HTMLDivElement;
  replies: HTMLOListElement;
  slot: HTMLDivElement;
  name: string;
  pending?: boolean;
  /** A tombstone: deleted, kept for the replies under it. */
  gone?: boolean;
  /** When the reader edited it on this page: a thread page older than that is not its publication. */
  edited?: string;
}

interface Field {
  input: HTMLInputElement | HTMLTextAreaElement;
  err: HTMLElement;
  wrap: HTMLDivElement;
}

// Form tokens prove time-to-submit; one older than this is refreshed before posting so it is not stale.
const TOKEN_MAX_AGE_MS = 20 * 60_000;
const STATUS_DELAYS = [1500, 2500, 4000, 8000, 15000, 30000];
const REASONS: Array<[ReportReason, string]> = [
  ['spam', 'Spam or advertising'],
  ['abuse', 'Abusive or hateful'],
  ['off_topic', 'Off topic'],
  ['other', 'Something else'],
];
const UNREACHABLE = 'We could not reach the comment server. Check your connection and try again.';
const FIELD_OF: Record<string, 'name' | 'email' | 'body'> = {
  authorName: 'name',
  authorEmail: 'email',
  body: 'body',
};

export class Widget {
  private wrap: HTMLDivElement;
  private heading: HTMLHeadingElement;
  private list: HTMLOListElement;
  private more: HTMLButtonElement;
  private nodes = new Map<string, CNode>();
  private store: PendingStore;
  private tokens: AuthorTokens;
  private editable: EditWindows;
  /** Own comments deleted on this page: a status answer already in flight must not bring them back. */
  private withdrawn = new Set<string>();
  private form!: HTMLFormElement;
  private formHome!: HTMLDivElement;
  private fields!: Record<'name' | 'email' | 'body' | 'website', Field>;
  private counter!: HTMLElement;
  private status!: HTMLElement;
  private submitBtn!: HTMLButtonElement;
  private replying!: HTMLElement;
  private replyTo: { id: string; opener: HTMLElement } | null = null;
  private token: { value: string; at: number } | null = null;
  private attempt: { fp: string; key: string } | null = null;
  private busy = false;
  private cursor: string | null = null;
  /** Where the last poll's first page ends (its nextCursor and last root's time), for the re-check. */
  private span: { cursor: string; at: string } | null = null;
  private loadedMore = false;
  private rechecking = false;
  private polls = 0;
  private statusStep = 0;
  private statusTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  constructor(
    host: HTMLElement,
    private o: WidgetOptions,
  ) {
    const root = host.attachShadow({ mode: 'open' });
    // Constructed stylesheets are not inline <style>, so a host page CSP without 'unsafe-inline'
    // still lets them apply; very old browsers fall back to a <style> element.
    if ('adoptedStyleSheets' in root && 'replaceSync' in CSSStyleSheet.prototype) {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } else {
      root.appendChild(h('style', {}, CSS));
    }
    this.store = new PendingStore(o.api.site, o.article);
    this.tokens = new AuthorTokens(o.api.site);
    this.editable = new EditWindows(o.api.site);
    // One name per landmark: the region is named by its heading (with the count), the list by
    // what it holds, so a screen reader does not announce "Comments" three times over.
    this.heading = h('h2', { id: uid('ph'), tabindex: -1 }, 'Comments');
    this.list = h('ol', { 'aria-label': 'Published comments' });
    this.more = h('button', { type: 'button', class: 'more', hidden: true, onclick: () => this.loadMore() });
    setText(this.more, 'Load more comments');
    this.wrap = h(
      'div',
      // Busy until the thread's first answer (or its failure) is drawn: assistive technology
      // waits instead of announcing an empty region, and scripts can tell when it is ready.
      { class: 'pw', role: 'region', 'aria-labelledby': this.heading.id, 'aria-busy': 'true' },
      this.heading,
      this.buildForm(),
      this.list,
      this.more,
    );
    root.appendChild(this.wrap);
    applyTheme(host, this.wrap, o.theme);
  }

  async start(): Promise<void> {
    await this.refresh(true);
    for (const p of this.store.list()) {
      if (this.nodes.has(p.id)) this.store.remove(p.id);
      else this.renderPending(p);
    }
    this.showEmpty();
    this.wrap.removeAttribute('aria-busy');
    this.fetchToken();
    this.schedulePending();
    if (this.o.pollMs > 0) {
      setInterval(() => {
        if (document.visibilityState !== 'visible') return;
        this.refresh(false);
        // Pages loaded with "Load more" are not in the poll's answer: read them again, less often.
        if (++this.polls % 3 === 0) void this.recheckMore();
      }, this.o.pollMs);
      document.addEventListener('visibilitychange', () => {
        if (document.visibilityState === 'visible') this.refresh(false);
      });
    }
  }

  // ---- thread ------------------------------------------------------------------------------

  private async refresh(first: boolean): Promise<void> {
    let t: Thread;
    try {
      t = await this.o.api.thread(this.o.article, this.o.order, this.o.pageSize);
    } catch {
      if (first) this.list.before(h('p', { class: 'note', role: 'alert' }, 'Comments could not be loaded.'));
      return;
    }
    setText(this.heading, t.article.commentCount ? `Comments (${t.article.commentCount})` : 'Comments');
    if (first) this.cursor = t.nextCursor;
    this.more.hidden = !this.cursor;
    const last = t.comments.at(-1);
    this.span = t.nextCursor && last ? { cursor: t.nextCursor, at: last.createdAt } : null;
    // New top-level comments appear at the top in newest-first order; in oldest-first order only
    // once the reader has reached the end (otherwise "load more" will bring them).
    const prepend = this.o.order === 'newest' && !first;
    const list = prepend ? [...t.comments].reverse() : t.comments;
    for (const c of list) {
      if (!first && !this.nodes.has(c.id) && this.o.order === 'oldest' && this.cursor) continue;
      this.merge(c, this.list, prepend);
    }
    if (!first) this.prune(t);
    if (t.article.closed) this.close();
    for (const el of this.list.querySelectorAll('time')) {
      setText(el, relativeTime(el.dateTime));
    }
    this.showEmpty();
  }

  private async loadMore(): Promise<void> {
    if (!this.cursor) return;
    this.more.disabled = true;
    try {
      const t = await this.o.api.thread(this.o.article, this.o.order, this.o.pageSize, this.cursor);
      this.loadedMore = true;
      const firstNew = t.comments.find((c) => !this.nodes.has(c.id));
      for (const c of t.comments) this.merge(c, this.list, false);
      this.cursor = t.nextCursor;
      this.more.hidden = !this.cursor;
      // Keyboard users continue reading where the new comments start.
      if (firstNew) this.nodes.get(firstNew.id)?.li.focus();
    } catch {
      this.say('More comments could not be loaded. Please try again.', true);
    } finally {
      this.more.disabled = false;
    }
  }

  private merge(c: PublicComment, into: HTMLOListElement, prepend: boolean): void {
    const known = this.nodes.get(c.id);
    if (c.deleted) {
      if (known && !known.gone) this.tombstone(known);
    } else if (known?.pending && (!known.edited || (c.editedAt ?? '') >= known.edited)) {
      this.publish(c.id, known);
    }
    // Its author edited it and the new text was published: show that text, marked edited.
    if (known && !known.pending && !known.gone && !c.deleted && c.editedAt) {
      this.showEdited(known, c.body, c.editedAt);
    }
    if (!known) {
      const n = this.renderComment(c.id, c.authorName, c.body, c.createdAt, false, c.editedAt);
      if (c.deleted) this.tombstone(n);
      into.insertBefore(n.li, prepend ? into.firstChild : null);
    }
    const node = this.nodes.get(c.id)!;
    for (const r of c.replies) this.merge(r, node.replies, false);
  }

  /**
   * Re-reads what "Load more" brought in, from where the last poll's first page ends (in newest
   * order new comments push that edge along, so a fixed start would leave a gap), at most 100 roots
   * a request and five requests a round, until past the last root loaded; each answer is judged like
   * the poll's (prune) and updates the comments it holds (edits, tombstones, new replies).
   */
  private async recheckMore(): Promise<void> {
    if (!this.loadedMore || !this.span || this.rechecking) return;
    this.rechecking = true;
    const newest = this.o.order === 'newest';
    // The last published root shown (own pending ones carry the browser's time, not the server's).
    const end = [...this.list.children]
      .reverse()
      .find((li) => this.nodes.get((li as HTMLElement).dataset.id ?? '')?.pending === false) as
      | HTMLElement
      | undefined;
    const lastLoaded = this.cursor ? end?.dataset.at : undefined;
    let { cursor, at } = this.span;
    try {
      for (let i = 0; i < 5; i++) {
        const t = await this.o.api.thread(this.o.article, this.o.order, 100, cursor);
        for (const c of t.comments) if (this.nodes.has(c.id)) this.merge(c, this.list, false);
        this.prune(t, at);
        const last = t.comments.at(-1)?.createdAt;
        if (!t.nextCursor || !last) break;
        // Reached the last root this page has loaded: what lies beyond was never shown.
        if (lastLoaded && (newest ? last <= lastLoaded : last >= lastLoaded)) break;
        cursor = t.nextCursor;
        at = last;
      }
    } catch {
      /* the next round tries again */
    } finally {
      this.rechecking = false;
    }
  }

  /**
   * Takes down what a poll no longer returns: a comment a moderator rejected after publishing it,
   * or one its author deleted with no replies to keep it as a tombstone. Judged only where the
   * answer is complete: roots strictly inside the first page's span (ties at its edge may be on
   * the next page), and every reply of a root the page returned. The reader's own pending
   * comments are never judged; they are not published yet.
   */
  private prune(t: Thread, after?: string): void {
    const seen = new Set<string>();
    const walk = (cs: PublicComment[]) => {
      for (const c of cs) {
        seen.add(c.id);
        walk(c.replies);
      }
    };
    walk(t.comments);
    const newest = this.o.order === 'newest';
    const times = t.comments.map((c) => c.createdAt).sort();
    // Without a next page the first page is the whole thread.
    const edge = t.nextCursor ? (newest ? times[0] : times[times.length - 1]) : undefined;
    // A page read from a cursor holds only what lies strictly beyond `after` (ties there may be on
    // the page before).
    const inside = (at: string) =>
      (after === undefined || (newest ? at < after : at > after)) &&
      (edge === undefined || (newest ? at > edge : at < edge));
    const rootOf = (li: HTMLElement): HTMLElement => {
      let r = li;
      while (r.parentElement && r.parentElement !== this.list) r = r.parentElement;
      return r;
    };
    const gone: CNode[] = [];
    for (const [id, node] of this.nodes) {
      if (node.pending || seen.has(id) || !node.li.isConnected) continue;
      const root = rootOf(node.li);
      const judged = root === node.li ? inside(node.li.dataset.at ?? '') : seen.has(root.dataset.id ?? '');
      if (judged) gone.push(node);
    }
    if (!gone.length) return;
    const shadow = this.wrap.getRootNode() as ShadowRoot;
    for (const node of gone) {
      if (this.replyTo && node.li.contains(this.form)) this.cancelReply(false);
      if (shadow.activeElement && node.li.contains(shadow.activeElement)) this.heading.focus();
      node.li.remove();
    }
    for (const [id, node] of this.nodes) if (!node.li.isConnected) this.nodes.delete(id);
  }

  private renderComment(
    id: string,
    name: string,
    body: string,
    at: string,
    pending: boolean,
    editedAt?: string | null,
  ): CNode {
    const slot = h('div');
    const replies = h('ol', { 'aria-label': `Replies to ${name}` });
    const nameId = uid('pn');
    const li = h(
      'li',
      { class: 'c', tabindex: -1, 'data-id': id, 'data-at': at, 'aria-labelledby': nameId },
      h(
        'div',
        { class: 'head' },
        h('span', { class: 'name', id: nameId }, name),
        h('time', { datetime: at, title: absoluteTime(at) }, relativeTime(at)),
        editedAt && this.editedMark(editedAt),
        pending && h('span', { class: 'badge' }, 'Awaiting moderation'),
      ),
      h('p', { class: 'body' }, body),
      pending && h('p', { class: 'meta' }, 'Only you can see this until it is approved.'),
      slot,
      replies,
    );
    const node: CNode = { li, acts: h('div', { class: 'actions' }), replies, slot, name, pending };
    slot.before(node.acts);
    this.actions(id, node);
    this.nodes.set(id, node);
    return node;
  }

  /** Fills a comment's actions: Reply and Report once published, Edit and Delete on the reader's own. */
  private actions(id: string, node: CNode): void {
    const mine = this.tokens.get(id);
    const del = mine
      ? h('button', { type: 'button', class: 'link', 'aria-label': 'Delete your comment' }, 'Delete')
      : null;
    if (del) del.onclick = () => this.confirmDelete(id, node, del);
    const left = mine ? this.editable.until(id) - Date.now() : 0;
    const edit =
      left > 0
        ? h('button', { type: 'button', class: 'link', 'aria-label': 'Edit your comment' }, 'Edit')
        : null;
    if (edit) {
      edit.onclick = () => this.startEdit(id, node, edit);
      // Gone when the window closes (an open editor stays; the server then says it is too late).
      setTimeout(() => edit.remove(), Math.min(left, 2 ** 31 - 1));
    }
    const own = [edit, del].filter((b): b is HTMLButtonElement => !!b);
    node.acts.hidden = !!node.pending && !own.length;
    if (node.pending) {
      node.acts.replaceChildren(...own);
      return;
    }
    const reply = h(
      'button',
      { type: 'button', class: 'link', 'aria-label': `Reply to ${node.name}` },
      'Reply',
    );
    reply.onclick = () => this.startReply(id, reply);
    reply.hidden = this.closed;
    reply.dataset.reply = '';
    const report = h(
      'button',
      { type: 'button', class: 'link', 'aria-label': `Report comment by ${node.name}` },
      'Report',
    );
    report.onclick = () => this.openReport(id, node, report);
    node.acts.replaceChildren(reply, report, ...own);
  }

  private editedMark(at: string): HTMLElement {
    return h('span', { class: 'edited', title: `Edited ${absoluteTime(at)}` }, 'edited');
  }

  /** Shows a comment's new text, marked edited (its own edit, or another reader's published one). */
  private showEdited(node: CNode, body: string, at: string): void {
    const p = node.li.querySelector(':scope > .body');
    if (p && p.textContent !== body) setText(p, body);
    const mark = node.li.querySelector(':scope > .head > .edited');
    if (mark) mark.setAttribute('title', `Edited ${absoluteTime(at)}`);
    else node.li.querySelector(':scope > .head > time')?.after(this.editedMark(at));
  }

  /** Turns a comment into the tombstone that holds its replies' place. */
  private tombstone(node: CNode): void {
    if (this.replyTo && node.li.contains(this.form)) this.cancelReply(false);
    node.gone = true;
    node.pending = false;
    const note = h('p', { class: 'gone', id: uid('pg') }, 'This comment was deleted by its author.');
    node.slot.replaceChildren();
    node.li.replaceChildren(note, node.replies);
    node.li.setAttribute('aria-labelledby', note.id);
    node.replies.setAttribute('aria-label', 'Replies to a deleted comment');
  }

  private showEmpty(): void {
    const empty = this.wrap.querySelector('.empty');
    if (this.nodes.size === 0 && !empty) this.list.before(h('p', { class: 'empty' }, 'No comments yet.'));
    if (this.nodes.size > 0) empty?.remove();
  }

  // ---- own pending comments ----------------------------------------------------------------

  private renderPending(p: PendingComment): HTMLLIElement {
    const node = this.renderComment(p.id, p.authorName, p.body, p.createdAt, true);
    const parent = p.parentId ? this.nodes.get(p.parentId) : undefined;
    const into = parent ? parent.replies : this.list;
    into.insertBefore(node.li, parent || this.o.order === 'oldest' ? null : into.firstChild);
    return node.li;
  }

  private publish(id: string, node: CNode): void {
    node.pending = false;
    node.li.querySelector('.badge')?.remove();
    node.li.querySelector('.meta')?.remove();
    this.actions(id, node);
    this.store.remove(id);
    this.say('Your comment has been published.');
    // Count tags on the page (embed.js's or count.js's) refresh at once rather than at their next poll.
    const detail: PublishedDetail = { site: this.o.api.site, article: this.o.article, id };
    document.dispatchEvent(new CustomEvent(PUBLISHED_EVENT, { detail }));
    // The heading's count comes from the thread page, which a cache may hold for up to a second
    // (max-age=1) after the publish; read it again once that has passed, not at the next poll.
    setTimeout(() => void this.refresh(false), 1500);
  }

  private schedulePending(reset = false): void {
    if (reset) this.statusStep = 0;
    clearTimeout(this.statusTimer);
    if (!this.store.list().length) return;
    const delay = STATUS_DELAYS[Math.min(this.statusStep++, STATUS_DELAYS.length - 1)]!;
    this.statusTimer = setTimeout(() => this.checkPending(), delay);
  }

  private async checkPending(): Promise<void> {
    for (const p of this.store.list()) {
      const node = this.nodes.get(p.id);
      try {
        const { status } = await this.o.api.status(p.statusUrl);
        if (this.withdrawn.has(p.id)) continue;
        if (status === 'published' && node?.pending) this.publish(p.id, node);
        else if (status === 'published') this.store.remove(p.id);
        else if (status === 'rejected') this.reject(p.id, node);
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) {
          this.store.remove(p.id);
          node?.li.remove();
        }
      }
    }
    this.schedulePending();
  }

  private reject(id: string, node: CNode | undefined): void {
    this.store.remove(id);
    if (!node) return;
    this.nodes.delete(id);
    const note = h(
      'li',
      { class: 'note', tabindex: -1 },
      'Your comment was not published. It may not have met this site’s guidelines.',
    );
    node.li.replaceWith(note);
    this.say('Your comment was not published.');
  }

  // ---- form --------------------------------------------------------------------------------

  private field(
    key: 'name' | 'email' | 'body',
    label: string,
    input: HTMLInputElement | HTMLTextAreaElement,
    hint?: string,
  ): Field {
    const id = uid(`pf-${key}`);
    const errId = `${id}-e`;
    const hintId = `${id}-h`;
    input.id = id;
    input.setAttribute('aria-describedby', hint ? `${errId} ${hintId}` : errId);
    const err = h('p', { class: 'ferr', id: errId });
    const wrap = h(
      'div',
      {},
      h('label', { for: id }, label, hint && h('span', { class: 'hint', id: hintId }, ` (${hint})`)),
      input,
      err,
    );
    return { input, err, wrap };
  }

  private buildForm(): HTMLElement {
    const title = h('h3', { id: uid('pt') }, 'Leave a Comment');
    const name = this.field(
      'name',
      'Name',
      h('input', { name: 'name', autocomplete: 'name', maxlength: 80, required: true }),
    );
    name.input.value = rememberedName();
    const email = this.field(
      'email',
      'Email',
      h('input', { name: 'email', type: 'email', autocomplete: 'email', maxlength: 254 }),
      'optional, never shown',
    );
    const body = this.field('body', 'Comment', h('textarea', { name: 'body', rows: 4, required: true }));
    this.counter = h('p', { class: 'count', id: uid('pc') });
    body.input.setAttribute('aria-describedby', `${body.err.id} ${this.counter.id}`);
    body.wrap.append(this.counter);
    body.input.addEventListener('input', () => this.count());
    // The honeypot: invisible, unreachable by keyboard, hidden from assistive tech. Bots fill it.
    const website = h('input', { name: 'website', tabindex: -1, autocomplete: 'off' });
    const hp = h('div', { class: 'hp', 'aria-hidden': 'true' }, h('label', {}, 'Website', website));
    this.fields = { name, email, body, website: { input: website, err: h('p'), wrap: hp } };
    this.replying = h('div', { class: 'replying', hidden: true });
    this.submitBtn = h('button', { type: 'submit' }, 'Post comment');
    this.status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
    this.form = h(
      'form',
      { novalidate: true, 'aria-labelledby': title.id },
      title,
      this.replying,
      h('div', { class: 'row' }, name.wrap, email.wrap),
      body.wrap,
      hp,
      h('div', { class: 'actions' }, this.submitBtn, this.status),
    );
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
    this.form.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.replyTo) this.cancelReply();
    });
    // Fetch a token as the form is first used, if the load-time fetch failed.
    this.form.addEventListener('focusin', () => {
      if (!this.token) this.fetchToken();
    });
    this.count();
    this.formHome = h('div', {}, this.form);
    return this.formHome;
  }

  private count(): void {
    const n = this.fields.body.input.value.length;
    setText(this.counter, `${n} / ${this.o.maxChars} characters`);
    this.counter.classList.toggle('ferr', n > this.o.maxChars);
  }

  private async fetchToken(): Promise<void> {
    try {
      const { token } = await this.o.api.formToken();
      this.token = { value: token, at: Date.now() };
    } catch {
      this.token = null;
    }
  }

  private say(text: string, error = false): void {
    setText(this.status, text);
    this.status.classList.toggle('err', error);
  }

  private setError(key: 'name' | 'email' | 'body', message: string): void {
    const f = this.fields[key];
    setText(f.err, message);
    f.input.setAttribute('aria-invalid', 'true');
  }

  private clearErrors(): void {
    for (const key of ['name', 'email', 'body'] as const) {
      setText(this.fields[key].err, '');
      this.fields[key].input.removeAttribute('aria-invalid');
    }
  }

  private focusFirstError(): void {
    for (const key of ['name', 'email', 'body'] as const) {
      if (this.fields[key].input.getAttribute('aria-invalid')) {
        this.fields[key].input.focus();
        return;
      }
    }
  }

  private async submit(): Promise<void> {
    if (this.busy || this.closed) return;
    this.clearErrors();
    const authorName = this.fields.name.input.value.trim();
    const authorEmail = this.fields.email.input.value.trim();
    const body = this.fields.body.input.value;
    if (!authorName) this.setError('name', 'Enter your name.');
    if (authorEmail && !authorEmail.includes('@')) this.setError('email', 'Enter a valid email address.');
    if (!body.trim()) this.setError('body', 'Write a comment.');
    if (body.length > this.o.maxChars) this.setError('body', `At most ${this.o.maxChars} characters.`);
    if (this.form.querySelector('[aria-invalid]')) {
      this.say('Please correct the marked fields.', true);
      return this.focusFirstError();
    }
    const input = {
      authorName,
      ...(authorEmail ? { authorEmail } : {}),
      body,
      ...(this.replyTo ? { parentId: this.replyTo.id } : {}),
      ...(this.o.articleUrl ? { articleUrl: this.o.articleUrl } : {}),
      ...(this.o.articleTitle ? { articleTitle: this.o.articleTitle } : {}),
      website: this.fields.website.input.value,
    };
    // The same text sent again (a retry after a network error) reuses its Idempotency-Key, so
    // the server stores it once; any edit makes it a new attempt.
    const fp = JSON.stringify(input);
    if (this.attempt?.fp !== fp) this.attempt = { fp, key: randomKey() };
    this.busy = true;
    this.submitBtn.disabled = true;
    this.say('Sending…');
    try {
      if (!this.token || Date.now() - this.token.at > TOKEN_MAX_AGE_MS) await this.fetchToken();
      const res = await this.o.api.submit(
        this.o.article,
        { ...input, formToken: this.token?.value },
        this.attempt.key,
      );
      this.attempt = null;
      rememberName(authorName);
      const p: PendingComment = {
        id: res.id,
        statusUrl: res.statusUrl,
        parentId: input.parentId ?? null,
        authorName,
        body,
        createdAt: new Date().toISOString(),
      };
      if (res.authorToken) this.tokens.set(res.id, res.authorToken);
      this.editable.set(res.id, res.editableUntil);
      this.store.add(p);
      this.fields.body.input.value = '';
      this.count();
      if (this.replyTo) this.cancelReply(false);
      const li = this.nodes.get(p.id)?.li ?? this.renderPending(p);
      this.showEmpty();
      this.say('Thank you! Your comment is awaiting moderation.');
      li.focus();
      this.token = null;
      this.fetchToken();
      this.schedulePending(true);
    } catch (err) {
      await this.failed(err);
    } finally {
      this.busy = false;
      this.submitBtn.disabled = false;
    }
  }

  private async failed(err: unknown): Promise<void> {
    const e = err instanceof ApiError ? err : new ApiError(0, 'network', 'network');
    const kept = ' Your comment is still here.';
    if (e.code === 'validation_failed' && e.errors.length) {
      const other: string[] = [];
      for (const fe of e.errors) {
        const key = FIELD_OF[fe.path];
        if (key) this.setError(key, fe.message);
        else other.push(fe.message);
      }
      this.say(other.length ? other.join(' ') : 'Please correct the marked fields.', true);
      return this.focusFirstError();
    }
    if (e.code === 'article_closed') {
      this.close();
      return this.say('Comments are closed for this article.', true);
    }
    if (e.code === 'invalid_parent') {
      return this.say('The comment you are replying to is no longer available.', true);
    }
    if (e.status === 429) {
      const wait = e.retryAfter
        ? ` Please wait ${e.retryAfter} seconds and try again.`
        : ' Please try again soon.';
      return this.say(`You are commenting too quickly.${wait}`, true);
    }
    if (e.status === 403 || e.network) {
      // A refused CORS preflight looks like a network error; if Parley answers a plain GET, it is
      // reachable and the page's origin is what it refused.
      const reachable =
        e.status === 403 ||
        (await this.o.api.formToken().then(
          () => true,
          () => false,
        ));
      if (reachable) {
        return this.say(
          `Comments cannot be posted from this page (${location.origin} is not on this site’s list).${kept}`,
          true,
        );
      }
      return this.say(UNREACHABLE + kept, true);
    }
    this.say(`Something went wrong (${e.code}). Please try again.${kept}`, true);
  }

  private startReply(id: string, opener: HTMLElement): void {
    const node = this.nodes.get(id);
    if (!node || this.closed) return;
    this.replyTo = { id, opener };
    this.replying.replaceChildren(
      h('span', {}, `Replying to ${node.name}`),
      h('button', { type: 'button', class: 'link', onclick: () => this.cancelReply() }, 'Cancel reply'),
    );
    this.replying.hidden = false;
    setText(this.form.querySelector('h3')!, 'Write a reply');
    node.slot.append(this.form);
    this.fields.body.input.focus();
  }

  private cancelReply(refocus = true): void {
    const opener = this.replyTo?.opener;
    this.replyTo = null;
    this.replying.hidden = true;
    this.replying.replaceChildren();
    setText(this.form.querySelector('h3')!, 'Leave a Comment');
    this.formHome.append(this.form);
    if (refocus) opener?.focus();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.replyTo) this.cancelReply(false);
    this.formHome.replaceChildren(h('p', { class: 'note' }, 'Comments are closed for this article.'));
    for (const b of this.list.querySelectorAll<HTMLElement>('[data-reply]')) b.hidden = true;
  }

  // ---- deleting one's own comment ----------------------------------------------------------

  private confirmDelete(id: string, node: CNode, opener: HTMLButtonElement): void {
    const open = node.slot.querySelector('.confirm');
    if (open) {
      open.querySelector('button')?.focus();
      return;
    }
    const question = h('p', { id: uid('pq') }, 'Delete your comment? This cannot be undone.');
    const yes = h('button', { type: 'button' }, 'Delete comment');
    const close = () => {
      box.remove();
      // Publishing rebuilds the actions meanwhile: the new Delete button is the last of them.
      ((opener.isConnected ? opener : node.acts.lastElementChild) as HTMLElement | null)?.focus();
    };
    const box = h(
      'div',
      { class: 'confirm', role: 'group', 'aria-labelledby': question.id },
      question,
      h(
        'div',
        { class: 'actions' },
        yes,
        h('button', { type: 'button', class: 'link', onclick: close }, 'Cancel'),
      ),
    );
    box.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') close();
    });
    yes.onclick = () => this.withdraw(id, node, yes);
    node.slot.prepend(box);
    yes.focus();
  }

  private async withdraw(id: string, node: CNode, yes: HTMLButtonElement): Promise<void> {
    const token = this.tokens.get(id);
    if (!token || yes.disabled) return;
    yes.disabled = true;
    try {
      await this.o.api.withdraw(id, token);
    } catch (err) {
      yes.disabled = false;
      const e = err instanceof ApiError ? err : new ApiError(0, 'network', 'network');
      return this.say(e.network ? UNREACHABLE : `Your comment could not be deleted (${e.code}).`, true);
    }
    this.withdrawn.add(id);
    this.tokens.set(id);
    this.editable.set(id, null);
    this.store.remove(id);
    const wasPublished = !node.pending;
    // Other readers' replies keep their place under a tombstone; a comment without any just goes,
    // and focus moves to its neighbour (or its parent, or the heading).
    const replied = [...node.replies.children].some((li) => {
      const n = this.nodes.get((li as HTMLElement).dataset.id ?? '');
      return n && !n.pending;
    });
    let focus: HTMLElement;
    if (replied) {
      this.tombstone(node);
      focus = node.li;
    } else {
      if (this.replyTo && node.li.contains(this.form)) this.cancelReply(false);
      const li = node.li;
      focus = (li.nextElementSibling ??
        li.previousElementSibling ??
        li.parentElement?.closest('li') ??
        this.heading) as HTMLElement;
      li.remove();
      this.nodes.delete(id);
      this.showEmpty();
    }
    this.say('Your comment was deleted.');
    focus.focus();
    // The heading's count: read again once the thread page's cache (max-age=1) has passed.
    if (wasPublished) setTimeout(() => void this.refresh(false), 1500);
  }

  // ---- editing one's own comment -----------------------------------------------------------

  private startEdit(id: string, node: CNode, opener: HTMLButtonElement): void {
    const open = node.slot.querySelector<HTMLTextAreaElement>('.editor textarea');
    if (open) {
      open.focus();
      return;
    }
    const label = h('label', { for: uid('pe') }, 'Edit your comment');
    const text = h('textarea', { id: label.htmlFor, rows: 4 });
    text.value = node.li.querySelector(':scope > .body')?.textContent ?? '';
    const err = h('p', { class: 'ferr', id: uid('pe') });
    const hint = h(
      'p',
      { class: 'hint', id: uid('pe') },
      'Your edited comment is checked again before it is shown.',
    );
    text.setAttribute('aria-describedby', `${err.id} ${hint.id}`);
    const save = h('button', { type: 'submit' }, 'Save');
    const close = () => {
      form.remove();
      // Publishing or an edit rebuilds the actions meanwhile: find this comment's Edit again.
      (
        (opener.isConnected
          ? opener
          : node.acts.querySelector('[aria-label="Edit your comment"]')) as HTMLElement | null
      )?.focus();
    };
    const form = h(
      'form',
      { class: 'editor', novalidate: true, 'aria-label': 'Edit your comment' },
      h('div', {}, label, text, err, hint),
      h(
        'div',
        { class: 'actions' },
        save,
        h('button', { type: 'button', class: 'link', onclick: close }, 'Cancel'),
      ),
    );
    form.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') close();
    });
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.saveEdit(id, node, form, text, err, save, close);
    });
    node.slot.prepend(form);
    text.focus();
  }

  private async saveEdit(
    id: string,
    node: CNode,
    form: HTMLFormElement,
    text: HTMLTextAreaElement,
    err: HTMLElement,
    save: HTMLButtonElement,
    close: () => void,
  ): Promise<void> {
    const token = this.tokens.get(id);
    if (!token || save.disabled) return;
    const invalid = (message: string) => {
      setText(err, message);
      text.setAttribute('aria-invalid', 'true');
      this.say(message, true);
      text.focus();
    };
    const body = text.value;
    if (!body.trim()) return invalid('Write a comment.');
    if (body.length > this.o.maxChars) return invalid(`At most ${this.o.maxChars} characters.`);
    setText(err, '');
    text.removeAttribute('aria-invalid');
    save.disabled = true;
    let res: Awaited<ReturnType<Api['edit']>>;
    try {
      res = await this.o.api.edit(id, token, body);
    } catch (e) {
      save.disabled = false;
      const x = e instanceof ApiError ? e : new ApiError(0, 'network', 'network');
      if (x.code === 'validation_failed') {
        return invalid(x.errors.find((f) => f.path === 'body')?.message ?? 'Please check your comment.');
      }
      const ended: Record<string, string> = {
        edit_window_closed: 'The time to edit this comment has passed.',
        has_replies: 'Someone has replied to your comment, so it can no longer be edited.',
        not_editable: 'This comment can no longer be edited.',
      };
      if (ended[x.code]) {
        this.editable.set(id, null);
        close();
        node.acts.querySelector('[aria-label="Edit your comment"]')?.remove();
        return this.say(ended[x.code]!, true);
      }
      if (x.status === 429) return this.say('You are editing too quickly. Please try again soon.', true);
      return this.say(x.network ? UNREACHABLE : `Your comment could not be edited (${x.code}).`, true);
    }
    if (!res.changed) {
      close();
      return this.say('Nothing changed.');
    }
    form.remove();
    // Like a fresh post: awaiting moderation, shown to its author only, until it is published again.
    node.edited = res.editedAt ?? new Date().toISOString();
    this.showEdited(node, body, node.edited);
    if (!node.pending) {
      node.pending = true;
      node.li.querySelector(':scope > .head')?.append(h('span', { class: 'badge' }, 'Awaiting moderation'));
      node.li
        .querySelector(':scope > .body')
        ?.after(h('p', { class: 'meta' }, 'Only you can see this until it is approved.'));
      this.actions(id, node);
    }
    this.store.add({
      id,
      statusUrl: this.o.api.statusUrl(id),
      parentId: node.li.parentElement?.closest<HTMLElement>('li.c')?.dataset.id ?? null,
      authorName: node.name,
      body,
      createdAt: node.li.dataset.at ?? new Date().toISOString(),
    });
    this.say('Your edit was saved and is awaiting moderation.');
    node.li.focus();
    this.schedulePending(true);
  }

  // ---- reports -----------------------------------------------------------------------------

  private openReport(id: string, node: CNode, opener: HTMLButtonElement): void {
    const existing = node.slot.querySelector('.report');
    if (existing) {
      existing.querySelector('input')?.focus();
      return;
    }
    const name = uid('pr');
    const note = h('textarea', { rows: 2, maxlength: 500, id: `${name}-n` });
    const msg = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
    const send = h('button', { type: 'submit' }, 'Send report');
    const close = () => {
      form.remove();
      opener.focus();
    };
    const form = h(
      'form',
      { class: 'report', novalidate: true },
      h(
        'fieldset',
        {},
        h('legend', {}, 'Why are you reporting this comment?'),
        ...REASONS.map(([value, label], i) =>
          h('label', { class: 'radio' }, h('input', { type: 'radio', name, value, checked: i === 0 }), label),
        ),
      ),
      h('div', {}, h('label', { for: note.id }, 'Note ', h('span', { class: 'hint' }, '(optional)')), note),
      h(
        'div',
        { class: 'actions' },
        send,
        h('button', { type: 'button', class: 'link', onclick: close }, 'Cancel'),
        msg,
      ),
    );
    form.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') close();
    });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const reason = (form.querySelector(`input[name="${name}"]:checked`) as HTMLInputElement).value;
      send.disabled = true;
      try {
        await this.o.api.report(id, reason as ReportReason, note.value.trim(), readerToken(randomKey));
        this.reported(form, opener, 'Thank you. A moderator will review this comment.');
      } catch (err) {
        const e2 = err instanceof ApiError ? err : new ApiError(0, 'network', 'network');
        if (e2.status === 409) return this.reported(form, opener, 'You have already reported this comment.');
        if (e2.status === 404) return this.reported(form, opener, 'This comment is no longer available.');
        setText(
          msg,
          e2.status === 429
            ? 'You have sent many reports just now. Please try again later.'
            : 'Your report could not be sent. Please try again.',
        );
        msg.classList.add('err');
        send.disabled = false;
      }
    });
    node.slot.prepend(form);
    form.querySelector('input')!.focus();
  }

  private reported(form: HTMLFormElement, opener: HTMLButtonElement, text: string): void {
    const note = h('p', { class: 'note', role: 'status', tabindex: -1 }, text);
    form.replaceWith(note);
    opener.hidden = true;
    note.focus();
  }
}
