// Parley moderation UI: plain JS, no framework. User text only ever goes in through textContent or
// text nodes, and links are built as elements with a parsed http(s) href: never string-built HTML.
(() => {
  const $ = (sel) => document.querySelector(sel);
  const $$ = (sel) => [...document.querySelectorAll(sel)];
  /**
   * An element with properties and children; null, undefined and false children are skipped, and
   * nested arrays (a section that is a heading and a list) are flattened at any depth.
   */
  const el = (tag, props = {}, ...kids) => {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') n.textContent = v;
      else if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
      else n.setAttribute(k, v === true ? '' : v);
    }
    for (const k of kids.flat(Infinity)) if (k !== null && k !== undefined && k !== false) n.append(k);
    return n;
  };
  /**
   * Replaces a node's children, skipping empty ones (replaceChildren would print "null") and
   * flattening nested arrays (it would print "[object HTMLHeadingElement],...").
   */
  const fill = (node, ...kids) =>
    node.replaceChildren(...kids.flat(Infinity).filter((k) => k !== null && k !== undefined && k !== false));
  const when = (iso) => (iso ? new Date(iso).toLocaleString() : '');
  const lines = (text) =>
    text
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean);
  /** An http(s) URL as a link element, anything else as plain text. */
  function safeLink(url, label) {
    try {
      const u = new URL(url);
      if (u.protocol === 'http:' || u.protocol === 'https:') {
        return el('a', { href: u.href, rel: 'noopener noreferrer', target: '_blank', text: label });
      }
    } catch {}
    return document.createTextNode(label);
  }

  const state = {
    csrf: null,
    user: null,
    sites: [],
    site: null,
    role: null,
    queue: 'held',
    items: [],
    index: 0,
    selected: new Set(),
    claimed: null,
    lastDecided: null,
    view: 'queue',
    historyCursor: null,
    policy: null,
    // The policy the form's hidden fields come from: the current one, or an older version being restored.
    policyBase: null,
    restoring: null,
    previewed: null,
    // Actor id -> display name, learnt from the history and members answers.
    names: new Map(),
  };

  async function api(method, path, body) {
    const headers = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET' && state.csrf) headers['x-csrf-token'] = state.csrf;
    const res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
    const data = res.status === 204 ? null : await res.json().catch(() => null);
    if (!res.ok) {
      const fields = data && Array.isArray(data.errors) ? data.errors : [];
      const detail = fields.map((f) => `${f.path}: ${f.message}`).join('; ');
      const msg = data?.title || `HTTP ${res.status}`;
      throw Object.assign(new Error(detail ? `${msg} (${detail})` : msg), {
        status: res.status,
        code: data?.code,
        problem: data,
      });
    }
    return data;
  }
  const say = (msg) => {
    $('#status').textContent = msg;
  };
  const site = () => encodeURIComponent(state.site);
  const base = () => `/api/v1/moderation/sites/${site()}`;
  const admin = () => `/api/v1/admin/sites/${site()}`;

  // ---- session -------------------------------------------------------------------------------

  async function start() {
    try {
      enter(await api('GET', '/api/v1/moderation/session'));
    } catch {
      $('#signin-view').hidden = false;
      $('#email').focus();
    }
  }

  function enter(s) {
    state.csrf = s.csrfToken;
    state.user = s.user;
    state.sites = s.sites;
    $('#signin-view').hidden = true;
    $('#app').hidden = false;
    $('#who').textContent = s.user ? s.user.email : 'token';
    fill(
      $('#site'),
      s.sites.map((x) => el('option', { value: x.id, text: `${x.name} (${x.role})` })),
    );
    pickSite(s.sites[0]?.id);
  }

  function pickSite(id) {
    state.site = id || null;
    const entry = state.sites.find((x) => x.id === id);
    state.role = entry ? entry.role : null;
    state.index = 0;
    state.selected.clear();
    state.lastDecided = null;
    // Nothing from the previous site's settings stays on screen (least of all a secret shown once).
    for (const box of ['#token-created', '#endpoint-created', '#erase-confirm']) {
      fill($(box));
      $(box).hidden = true;
    }
    fill($('#deliveries'));
    fill($('#endpoint-tools'));
    fill($('#whatif'));
    $('#privacy-email').value = '';
    // Settings are for admins only; the API answers 403 to moderators anyway.
    $('button[data-view=settings]').hidden = state.role !== 'admin';
    if (!state.site) return say('Your account has no site yet.');
    show(state.view === 'settings' && state.role !== 'admin' ? 'queue' : state.view);
  }

  function show(view) {
    state.view = view;
    for (const b of $$('button[data-view]')) b.setAttribute('aria-pressed', String(b.dataset.view === view));
    $('#queue-view').hidden = view !== 'queue';
    $('#history-view').hidden = view !== 'history';
    $('#settings-view').hidden = view !== 'settings';
    const load = { queue: loadQueue, history: loadHistory, settings: loadSettings }[view];
    load().catch((e) => say(e.message));
  }

  // ---- queue ---------------------------------------------------------------------------------

  async function loadQueue() {
    const page = await api('GET', `${base()}/queues/${state.queue}?limit=50`);
    state.items = page.items;
    state.index = Math.min(state.index, Math.max(0, state.items.length - 1));
    // The page moves on by itself (a decision, another queue): never onto an item another
    // moderator has open, or two people would read and decide the same comment.
    state.index = firstFree(state.index);
    state.selected = new Set([...state.selected].filter((id) => state.items.some((i) => i.id === id)));
    counts(page.counts);
    render();
  }

  const isWorkQueue = () => state.queue === 'held' || state.queue === 'reported' || state.queue === 'pending';

  /** Open with another moderator, as far as this page knows (the list's claims, or a refused claim). */
  const takenByOther = (it) =>
    Boolean(it?.claim && !it.claim.mine && Date.parse(it.claim.expiresAt) > Date.now());

  /** The first item from `from` on (wrapping) that no other moderator has open; `from` if none. */
  function firstFree(from) {
    const n = state.items.length;
    for (let k = 0; k < n; k++) {
      const i = (from + k) % n;
      if (!takenByOther(state.items[i])) return i;
    }
    return from;
  }

  /**
   * Opening an item leases it for CLAIM_LEASE_SECONDS; the lease is renewed while the item stays
   * open, and given back when the moderator moves on, so others get it at once. A refused claim
   * (another moderator got there first) marks the item as theirs; if the page had moved here by
   * itself it moves on to the next free item, else it says so and leaves the choice to the moderator.
   */
  function claimCurrent(auto) {
    const it = state.items[state.index];
    const previous = state.claimed;
    if (!it || !isWorkQueue() || takenByOther(it)) {
      state.claimed = null;
    } else if (previous !== it.id) {
      state.claimed = it.id;
      claim(it, auto);
    }
    if (previous && previous !== state.claimed)
      api('DELETE', `${base()}/comments/${previous}/claim`).catch(() => {});
  }

  async function claim(it, auto) {
    try {
      const res = await api('POST', `${base()}/comments/${it.id}/claim`);
      it.claim = { by: state.user ? `user:${state.user.id}` : 'me', expiresAt: res.claimedUntil, mine: true };
      // Moved on (j j j) before the lease arrived: its release may have overtaken it; give it back.
      if (state.claimed !== it.id) api('DELETE', `${base()}/comments/${it.id}/claim`).catch(() => {});
    } catch (e) {
      if (e.code !== 'claimed_by_other' || state.claimed !== it.id) return;
      const until = e.problem?.claimedUntil ?? new Date(Date.now() + 60_000).toISOString();
      it.claim = { by: 'another moderator', expiresAt: until, mine: false };
      state.claimed = null;
      if (state.items[state.index] !== it) return;
      if (auto && firstFree(state.index) !== state.index) {
        state.index = firstFree(state.index);
        say(`${it.authorName}'s comment is open with another moderator; moved on to the next one.`);
      }
      render(auto);
    }
  }

  // A lease outlives a long read only if it is renewed.
  setInterval(() => {
    const it = state.items[state.index];
    if (!it || state.claimed !== it.id || document.hidden || $('#app').hidden) return;
    api('POST', `${base()}/comments/${it.id}/claim`).then(
      (res) => {
        if (it.claim) it.claim.expiresAt = res.claimedUntil;
      },
      () => {},
    );
  }, 30_000);

  function counts(c) {
    for (const b of $$('nav button[data-queue]')) {
      const q = b.dataset.queue;
      b.textContent = `${q} (${c[q]})`;
      b.setAttribute('aria-pressed', String(q === state.queue));
    }
  }

  /**
   * The body with every matched span wrapped in <mark>, built from text nodes only. Overlapping
   * spans are merged, so each character is highlighted at most once.
   */
  function highlighted(body, reasons) {
    const spans = reasons
      .flatMap((r) => (r.spans || []).map((s) => ({ ...s, code: r.code })))
      .filter((s) => s.start >= 0 && s.end <= body.length && s.start < s.end)
      .sort((a, b) => a.start - b.start || b.end - a.end);
    const merged = [];
    for (const s of spans) {
      const last = merged[merged.length - 1];
      if (last && s.start <= last.end) {
        last.end = Math.max(last.end, s.end);
        if (!last.codes.includes(s.code)) last.codes.push(s.code);
      } else merged.push({ start: s.start, end: s.end, codes: [s.code] });
    }
    const out = el('div', { class: 'body' });
    let at = 0;
    for (const s of merged) {
      out.append(
        document.createTextNode(body.slice(at, s.start)),
        el('mark', { title: s.codes.join(', '), text: body.slice(s.start, s.end) }),
      );
      at = s.end;
    }
    out.append(document.createTextNode(body.slice(at)));
    return out;
  }

  function reasonItem(r, decided) {
    return el(
      'li',
      { class: decided ? 'decided' : null },
      decided ? el('strong', { class: 'tag', text: 'decided' }) : null,
      decided ? ' ' : null,
      el('span', { class: 'tag', text: r.rule }),
      ' ',
      el('code', { text: r.code }),
      r.score != null ? el('span', { class: 'score', text: ` ${r.score.toFixed(2)}` }) : null,
      r.shadow ? el('span', { class: 'tag shadow', text: 'shadow' }) : null,
      el('span', { text: ` ${r.message}` }),
    );
  }

  /**
   * Other comments are linked by email only, so with no email the counts would read as a clean
   * record when nothing is known: say so instead.
   */
  function historyLine(it) {
    if (!it.hasEmail)
      return 'Unknown: no email was given, so other comments cannot be linked to this author.';
    const h = it.history;
    if (!h.published && !h.held && !h.rejected && !h.pending && !h.deleted)
      return 'None: this is their first.';
    return `${h.published} published · ${h.held} held · ${h.rejected} rejected · ${h.pending} pending${h.deleted ? ` · ${h.deleted} deleted` : ''}`;
  }

  /** Who made a decision, in words: Parley itself, the comment's author, you, or a named moderator or token. */
  function actorName(d) {
    if (d.actorType === 'system') return 'Parley';
    // The reader who wrote the comment deleted or edited it themselves (there is no undo for that).
    if (d.actorType === 'author') return 'author';
    if (d.actorId && state.user && d.actorId === `user:${state.user.id}`) return 'you';
    if (d.actorName) return d.actorName;
    if (d.actorId && state.names.has(d.actorId)) return state.names.get(d.actorId);
    return d.actorId?.startsWith('token:') ? 'an API token' : 'another moderator';
  }

  function detail(it) {
    // The reason that decided (its code is the decision's) comes first, tagged, and only its words
    // are highlighted: a rule that scored below its threshold did not put the comment here. Only
    // decisions on the text as it is now count: an edited comment's earlier reasons (and their
    // spans) were about a text it no longer has.
    const current = it.decisions.filter((x) => (x.revision ?? 0) === (it.revision ?? 0));
    const decidedBy = new Set(current.map((x) => x.reasonCode).filter(Boolean));
    const all = current.flatMap((x) => x.reasons);
    const deciding = all.filter((r) => decidedBy.has(r.code));
    const reasons = [...deciding, ...all.filter((r) => !decidedBy.has(r.code))];
    const marked = deciding.length ? deciding : all;
    const h = it.history;
    const title = it.article.title || it.article.id;
    return [
      el(
        'h2',
        { class: 'article' },
        it.article.url ? safeLink(it.article.url, title) : title,
        it.article.closed ? el('span', { class: 'tag', text: 'closed' }) : null,
      ),
      el(
        'p',
        { class: 'muted' },
        `${it.authorName} · ${when(it.createdAt)} · ${it.status}${it.hasEmail ? '' : ' · no email'}`,
        it.editedAt ? ' ' : null,
        it.editedAt
          ? el('span', { class: 'tag edited', text: `edited ${when(it.editedAt)}`, title: it.editedAt })
          : null,
      ),
      takenByOther(it) ? el('p', { class: 'warn', text: 'Another moderator has this one open.' }) : null,
      it.parent
        ? el(
            'blockquote',
            { class: 'parent' },
            el('p', { class: 'muted', text: `In reply to ${it.parent.authorName} (${it.parent.status})` }),
            el('p', { class: 'text', text: it.parent.body }),
          )
        : null,
      highlighted(it.body, marked),
      it.revisions?.length
        ? el(
            'details',
            { class: 'revisions' },
            el('summary', {
              text: `Edited by its author: ${it.revisions.length} earlier ${it.revisions.length === 1 ? 'version' : 'versions'}`,
            }),
            el(
              'ol',
              { class: 'plain' },
              it.revisions.map((v) =>
                el(
                  'li',
                  {},
                  el('p', {
                    class: 'muted',
                    text: `Written ${when(v.createdAt)} · replaced ${when(v.replacedAt)}`,
                  }),
                  el('p', { class: 'text', text: v.body }),
                ),
              ),
            ),
          )
        : null,
      el('h3', { text: 'Why it is here' }),
      reasons.length
        ? el(
            'ul',
            { class: 'reasons' },
            reasons.map((r) => reasonItem(r, decidedBy.has(r.code))),
          )
        : el('p', { class: 'muted', text: 'No rule reasons recorded.' }),
      it.reports.length
        ? [
            el('h3', { text: `Reader reports (${it.reports.length})` }),
            el(
              'ul',
              { class: 'plain' },
              it.reports.map((r) =>
                el('li', { text: `${r.reason}${r.note ? `: ${r.note}` : ''} · ${when(r.createdAt)}` }),
              ),
            ),
          ]
        : null,
      el('h3', { text: 'Author’s other comments on this site' }),
      el('p', { class: 'history', text: historyLine(it) }),
      h.recent.length
        ? el(
            'ul',
            { class: 'plain recent' },
            h.recent.map((r) =>
              el(
                'li',
                {},
                el('span', { class: `tag st-${r.status}`, text: r.status }),
                el('span', { class: 'muted', text: ` ${when(r.createdAt)} ` }),
                el('span', { class: 'ex', text: r.body }),
              ),
            ),
          )
        : null,
      el('h3', { text: 'Decisions' }),
      el(
        'ol',
        { class: 'plain decisions' },
        it.decisions.map((d) =>
          el('li', {
            text: `${when(d.createdAt)} · ${actorName(d)} · ${d.action} (${d.fromStatus} → ${d.toStatus})${d.reasonCode ? ` · ${d.reasonCode}` : ''}`,
          }),
        ),
      ),
    ];
  }

  /** `auto`: the page moved to this item by itself (not the moderator's pick). */
  function render(auto = true) {
    // Re-rendering replaces the list; keep keyboard focus in it if it was there.
    const focusInList = $('#list').contains(document.activeElement);
    fill(
      $('#list'),
      state.items.map((it, i) => {
        const box = el('input', { type: 'checkbox', 'aria-label': `Select the comment by ${it.authorName}` });
        box.checked = state.selected.has(it.id);
        box.addEventListener('change', () => {
          box.checked ? state.selected.add(it.id) : state.selected.delete(it.id);
        });
        const pick = el(
          'button',
          { type: 'button', class: 'pick', 'aria-current': i === state.index ? 'true' : null },
          el('strong', { text: it.authorName }),
          el('span', { class: 'ex', text: it.body }),
        );
        if (takenByOther(it)) pick.append(el('span', { class: 'tag', text: 'open elsewhere' }));
        pick.addEventListener('click', () => {
          state.index = i;
          render(false);
        });
        return el('li', { 'data-id': it.id, class: i === state.index ? 'current' : null }, box, pick);
      }),
    );
    const it = state.items[state.index];
    if (!it) {
      fill($('#detail'), el('p', { class: 'empty', text: 'Nothing here. Well done.' }));
      return;
    }
    fill($('#detail'), detail(it));
    const cur = $('#list li.current');
    if (cur) cur.scrollIntoView({ block: 'nearest' });
    if (cur && focusInList) cur.querySelector('.pick').focus();
    claimCurrent(auto);
  }

  async function act(kind) {
    const it = state.items[state.index];
    if (!it) return;
    try {
      // The text decided is the one on screen: if its author edited it since, the server refuses.
      const expectedRevision = it.revision ?? 0;
      if (kind === 'approve') await api('POST', `${base()}/comments/${it.id}/approve`, { expectedRevision });
      else
        await api('POST', `${base()}/comments/${it.id}/reject`, {
          reasonCode: $('#reason').value,
          expectedRevision,
        });
      state.lastDecided = it.id;
      say(`${kind === 'approve' ? 'Approved' : 'Rejected'}: ${it.authorName}. Press u to undo.`);
    } catch (e) {
      say(e.message);
    }
    await loadQueue();
  }

  async function bulk(action) {
    if (!state.selected.size) return say('Select comments first (x or the checkboxes).');
    try {
      const expectedRevisions = {};
      for (const it of state.items)
        if (state.selected.has(it.id)) expectedRevisions[it.id] = it.revision ?? 0;
      const res = await api('POST', `${base()}/bulk`, {
        action,
        ids: [...state.selected],
        expectedRevisions,
        reasonCode: action === 'reject' ? $('#reason').value : undefined,
      });
      const ok = res.results.filter((r) => r.ok).length;
      say(`${ok} of ${res.results.length} ${action === 'approve' ? 'approved' : 'rejected'}.`);
      state.selected.clear();
    } catch (e) {
      say(e.message);
    }
    await loadQueue();
  }

  async function undo() {
    if (!state.lastDecided) return say('Nothing to undo.');
    try {
      await api('POST', `${base()}/comments/${state.lastDecided}/undo`);
      say('Undone.');
      state.lastDecided = null;
    } catch (e) {
      say(e.message);
    }
    await loadQueue();
  }

  async function ban() {
    const it = state.items[state.index];
    if (!it) return;
    try {
      const by = it.hasEmail ? 'email' : 'ip';
      const r = await api('POST', `${base()}/bans`, {
        commentId: it.id,
        by,
        rejectPending: true,
        durationHours: null,
      });
      say(`Banned ${it.authorName} (by ${by}); ${r.rejected.length} waiting comments rejected.`);
    } catch (e) {
      say(e.message);
    }
    await loadQueue();
  }

  // ---- history -------------------------------------------------------------------------------

  async function loadHistory(more = false) {
    const q = more && state.historyCursor ? `&cursor=${encodeURIComponent(state.historyCursor)}` : '';
    const h = await api('GET', `${base()}/history?limit=100${q}`);
    for (const e of h.entries) if (e.actorId && e.actorName) state.names.set(e.actorId, e.actorName);
    const rows = h.entries.map((e) =>
      el(
        'tr',
        {},
        el('td', { text: when(e.createdAt) }),
        el('td', { text: `${e.action} (${e.fromStatus} → ${e.toStatus})` }),
        el('td', { text: e.reasonCode || '' }),
        el('td', { text: actorName(e) }),
        el('td', { class: 'ex' }, el('strong', { text: e.authorName }), ` ${e.excerpt}`),
      ),
    );
    if (more) $('#history-rows').append(...rows);
    else
      fill(
        $('#history-rows'),
        rows.length ? rows : el('tr', {}, el('td', { colspan: '5', text: 'No decisions yet.' })),
      );
    state.historyCursor = h.nextCursor;
    $('#history-more').hidden = !h.nextCursor;
  }

  // ---- settings (admins) ---------------------------------------------------------------------

  async function loadSettings() {
    // Members first, so the policy's "saved by" can name the account.
    await loadMembers();
    await Promise.all([loadSiteSettings(), loadPolicy(), loadTokens(), loadEndpoints()]);
    await loadPolicyVersions();
  }

  async function loadSiteSettings() {
    const s = await api('GET', `${admin()}/settings`);
    $('#origins').value = s.allowedOrigins.join('\n');
    $('#report-threshold').value = String(s.reportThreshold);
    $('#retention-days').value = String(s.retentionDays);
    $('#erase-mode').value = s.eraseMode;
  }

  async function saveSiteSettings() {
    const s = await api('PUT', `${admin()}/settings`, {
      allowedOrigins: lines($('#origins').value),
      reportThreshold: Number($('#report-threshold').value),
      retentionDays: Number($('#retention-days').value),
      eraseMode: $('#erase-mode').value,
    });
    $('#origins').value = s.allowedOrigins.join('\n');
    say(`Settings saved: ${s.allowedOrigins.length} allowed origin(s).`);
  }

  const numberInput = (value, label, data) =>
    el('input', {
      type: 'number',
      min: '0',
      max: '1',
      step: 'any',
      value: String(value),
      'aria-label': label,
      ...data,
    });

  const savedBy = (v) => v.createdBy && actorName({ actorType: 'moderator', actorId: v.createdBy });

  async function loadPolicy() {
    const p = await api('GET', `${admin()}/policy`);
    state.policy = p;
    const by = savedBy(p);
    $('#policy-version').textContent =
      `Version ${p.version}${by ? `, saved by ${by}` : ''}${p.createdAt ? ` on ${when(p.createdAt)}` : ''}.`;
    fillPolicy(p.policy, null);
  }

  /**
   * Puts a policy into the form. `restoring` is the older version it came from (null for the current
   * one); saving it still goes through the what-if and lands as a new version.
   */
  function fillPolicy(pol, restoring) {
    state.policyBase = pol;
    state.restoring = restoring;
    state.previewed = null;
    $('#premoderate').checked = pol.premoderate;
    $('#new-commenter-hold').value = String(pol.newCommenterHold);
    $('#edit-window').value = String(pol.editWindowSeconds ?? 600);
    fill(
      $('#thresholds'),
      Object.entries(pol.thresholds).map(([cat, t]) =>
        el(
          'tr',
          {},
          el('th', { scope: 'row', text: cat }),
          el('td', {}, numberInput(t.hold, `${cat}: hold at`, { 'data-threshold': `${cat}.hold` })),
          el('td', {}, numberInput(t.reject, `${cat}: reject at`, { 'data-threshold': `${cat}.reject` })),
        ),
      ),
    );
    const ids = [...new Set([...$('#settings-view').dataset.rules.split(','), ...Object.keys(pol.rules)])];
    fill(
      $('#rules'),
      ids.map((id) => {
        const sw = pol.rules[id] || {};
        const on = el('input', {
          type: 'checkbox',
          'data-rule': id,
          'data-switch': 'enabled',
          'aria-label': `${id}: on`,
        });
        on.checked = sw.enabled !== false;
        const shadow = el('input', {
          type: 'checkbox',
          'data-rule': id,
          'data-switch': 'shadow',
          'aria-label': `${id}: shadow`,
        });
        shadow.checked = sw.shadow === true;
        return el('tr', {}, el('th', { scope: 'row', text: id }), el('td', {}, on), el('td', {}, shadow));
      }),
    );
    $('#words-banned').value = pol.words.banned.join('\n');
    $('#words-suspect').value = pol.words.suspect.join('\n');
    $('#words-allowed').value = pol.words.allowed.join('\n');
    $('#words-builtin').value = pol.words.builtin;
    for (const input of $$('#flood input[data-flood]')) {
      const [scope, part] = input.dataset.flood.split('.');
      const limit = pol.floodControl?.[scope];
      input.value = limit ? String(limit[part]) : '';
    }
    fill($('#whatif'));
    // What the untouched form proposes, to tell a change of flood control alone (see floodOnly).
    state.loadedProposal = null;
    if (!restoring) {
      try {
        state.loadedProposal = JSON.stringify(proposedPolicy());
      } catch {}
    }
    policyDirty();
  }

  /**
   * Truthy when the form changes the site's flood control or edit window and nothing else
   * ('window' when only the edit window). Flood
   * control refuses submissions before they are stored and the edit window only says how long
   * readers may fix their text; neither decides a comment, so a what-if would show nothing: they
   * are saved at once, which is what a newsroom opening a breaking-news thread needs.
   */
  function floodOnly(policy) {
    const base = state.policyBase;
    const stored = {
      floodControl: base.floodControl || {},
      editWindowSeconds: base.editWindowSeconds ?? 600,
    };
    const mine = { floodControl: policy.floodControl, editWindowSeconds: policy.editWindowSeconds };
    if (!state.loadedProposal || JSON.stringify(mine) === JSON.stringify(stored)) return false;
    if (JSON.stringify({ ...policy, ...stored }) !== state.loadedProposal) return false;
    return JSON.stringify(mine.floodControl) === JSON.stringify(stored.floodControl) ? 'window' : 'flood';
  }

  async function loadPolicyVersions() {
    const { versions, currentVersion } = await api('GET', `${admin()}/policy/versions?limit=50`);
    fill(
      $('#policy-versions'),
      versions.map((v) =>
        el(
          'tr',
          {
            'data-version': String(v.version),
            class: v.version === currentVersion ? 'current-version' : null,
          },
          el('th', { scope: 'row', text: String(v.version) }),
          el('td', { text: savedBy(v) || '' }),
          el('td', { text: when(v.createdAt) }),
          el(
            'td',
            {},
            v.version === currentVersion
              ? el('span', { class: 'muted', text: 'current' })
              : button('Restore…', () => restorePolicy(v), {
                  'aria-label': `Restore version ${v.version}`,
                }),
          ),
        ),
      ),
    );
  }

  function restorePolicy(v) {
    fillPolicy(v.policy, v.version);
    $('#policy').scrollIntoView({ block: 'start' });
    say(`Version ${v.version} is in the form: preview it, then save it as a new version.`);
  }

  /** The stored policy with the form's fields laid over it (fields the form does not show are kept). */
  function proposedPolicy() {
    const cur = state.policyBase;
    // An emptied field is an error, not 0 (which would hold or reject everything).
    const number = (input, what, min, max) => {
      const raw = input.value.trim();
      const n = raw === '' ? Number.NaN : Number(raw);
      if (!Number.isFinite(n) || n < min || n > max) {
        throw new Error(`${what}: give a number from ${min} to ${max}.`);
      }
      return n;
    };
    const thresholds = {};
    for (const cat of Object.keys(cur.thresholds)) {
      const v = (b) =>
        number($(`input[data-threshold="${CSS.escape(`${cat}.${b}`)}"]`), `${cat} ${b} threshold`, 0, 1);
      thresholds[cat] = { hold: v('hold'), reject: v('reject') };
    }
    const rules = { ...cur.rules };
    for (const box of $$('#rules input[data-rule]')) {
      rules[box.dataset.rule] = { ...rules[box.dataset.rule], [box.dataset.switch]: box.checked };
    }
    // A row is a limit of the site's own only when both fields are given; an empty row is the server's.
    const floodControl = {};
    for (const row of $$('#flood tr')) {
      const [points, seconds] = [...row.querySelectorAll('input[data-flood]')];
      const label = row.querySelector('th').textContent;
      if (points.value.trim() === '' && seconds.value.trim() === '') continue;
      if (points.value.trim() === '' || seconds.value.trim() === '') {
        throw new Error(`Flood control, ${label}: give both numbers, or neither to keep the server's limit.`);
      }
      const scope = points.dataset.flood.split('.')[0];
      floodControl[scope] = {
        points: Math.trunc(number(points, `Flood control, ${label}: comments`, 0, 1_000_000)),
        seconds: Math.trunc(number(seconds, `Flood control, ${label}: seconds`, 1, 86_400)),
      };
    }
    return {
      ...cur,
      floodControl,
      premoderate: $('#premoderate').checked,
      newCommenterHold: Math.trunc(
        number($('#new-commenter-hold'), "New authors' comments to hold", 0, 1000),
      ),
      editWindowSeconds: Math.trunc(number($('#edit-window'), 'Edit window (seconds)', 0, 604_800)),
      thresholds,
      rules,
      words: {
        ...cur.words,
        banned: lines($('#words-banned').value),
        suspect: lines($('#words-suspect').value),
        allowed: lines($('#words-allowed').value),
        builtin: $('#words-builtin').value,
      },
    };
  }

  /** Save is offered only for exactly the policy whose what-if the admin has just seen. */
  function policyDirty() {
    let proposed = null;
    let flood = false;
    try {
      const policy = proposedPolicy();
      proposed = JSON.stringify(policy);
      flood = floodOnly(policy);
    } catch {}
    const previewed = state.previewed !== null && state.previewed === proposed;
    $('#policy-save').disabled = !previewed && !flood;
    $('#policy-save').textContent = state.policy
      ? `Save as version ${state.policy.version + 1}`
      : 'Save policy';
    const from = state.restoring ? `Restoring version ${state.restoring}. ` : '';
    $('#policy-hint').textContent = previewed
      ? `${from}The numbers below are for exactly this policy.`
      : flood
        ? flood === 'window'
          ? 'Only the edit window changes: it decides no comment, so it needs no preview.'
          : 'Only flood control changes: it decides no comment, so it needs no preview.'
        : `${from}Preview the change before saving it.`;
  }

  async function previewPolicy() {
    const policy = proposedPolicy();
    fill($('#whatif'), el('p', { class: 'muted', text: 'Replaying recent comments…' }));
    const r = await api('POST', `${admin()}/policy/what-if`, { policy, days: 14, limit: 500 });
    state.previewed = JSON.stringify(policy);
    const pct = (x) => `${Math.round(x * 100)}%`;
    const diff = (n) => (n > 0 ? `+${n}` : String(n));
    const row = (label, a, b, d) =>
      el(
        'tr',
        {},
        el('th', { scope: 'row', text: label }),
        el('td', { text: a }),
        el('td', { text: b }),
        el('td', { text: d }),
      );
    fill(
      $('#whatif'),
      el('h3', { text: 'What this change would have done' }),
      el('p', {
        text: `Replayed ${r.total} comments decided since ${when(r.since)} (${r.reviewedByModerators} decided by moderators).`,
      }),
      el(
        'table',
        { class: 'grid whatif-numbers' },
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            el('th', { scope: 'col' }, el('span', { class: 'sr', text: 'Outcome' })),
            el('th', { scope: 'col', text: `Now (v${r.currentVersion})` }),
            el('th', { scope: 'col', text: 'Proposed' }),
            el('th', { scope: 'col', text: 'Change' }),
          ),
        ),
        el(
          'tbody',
          {},
          row('Published', String(r.current.published), String(r.proposed.published), diff(r.morePublished)),
          row('Held', String(r.current.held), String(r.proposed.held), diff(r.moreHeld)),
          row('Rejected', String(r.current.rejected), String(r.proposed.rejected), diff(r.moreRejected)),
          row('Agrees with moderators', pct(r.current.agreement), pct(r.proposed.agreement), ''),
        ),
      ),
      r.changes.length
        ? el(
            'details',
            {},
            el('summary', {
              text: `${r.changes.length}${r.changesTruncated ? '+' : ''} comments would be decided differently`,
            }),
            el(
              'ul',
              { class: 'plain' },
              r.changes
                .slice(0, 50)
                .map((c) =>
                  el(
                    'li',
                    {},
                    el('span', { class: 'tag', text: `${c.from} → ${c.to}` }),
                    el('span', { class: 'muted', text: ` moderators: ${c.moderators} ` }),
                    el('span', { class: 'ex', text: c.snippet }),
                  ),
                ),
            ),
          )
        : el('p', { class: 'muted', text: 'No comment would be decided differently.' }),
    );
    policyDirty();
  }

  async function savePolicy() {
    const policy = proposedPolicy();
    if (state.previewed !== JSON.stringify(policy) && !floodOnly(policy)) {
      return say('Preview the change before saving it.');
    }
    const saved = await api('PUT', `${admin()}/policy`, { policy, expectedVersion: state.policy.version });
    const restored = state.restoring;
    await loadPolicy();
    await loadPolicyVersions();
    say(`Policy saved as version ${saved.version}${restored ? ` (restored from version ${restored})` : ''}.`);
  }

  function button(text, onclick, props = {}) {
    return el('button', { type: 'button', ...props, text, onclick });
  }

  async function loadMembers() {
    const { members } = await api('GET', `${admin()}/members`);
    for (const m of members) state.names.set(`user:${m.id}`, m.name);
    fill(
      $('#members'),
      members.map((m) =>
        el(
          'tr',
          { 'data-member': m.id },
          el('td', { text: m.email }),
          el('td', { text: m.name }),
          el('td', { text: m.role }),
          el(
            'td',
            {},
            state.user && m.id === state.user.id
              ? el('span', { class: 'muted', text: 'you' })
              : button('Remove', () => removeMember(m), { 'aria-label': `Remove ${m.email}` }),
          ),
        ),
      ),
    );
  }

  async function removeMember(m) {
    if (!confirm(`Remove ${m.email} from this site?`)) return;
    await api('DELETE', `${admin()}/members/${encodeURIComponent(m.id)}`);
    await loadMembers();
    say(`${m.email} removed.`);
  }

  async function addMember() {
    const body = { email: $('#member-email').value.trim(), role: $('#member-role').value };
    if ($('#member-name').value.trim()) body.name = $('#member-name').value.trim();
    if ($('#member-password').value) body.password = $('#member-password').value;
    const m = await api('POST', `${admin()}/members`, body);
    $('#member-add').reset();
    await loadMembers();
    say(`${m.email} is now ${m.role}.`);
  }

  async function loadTokens() {
    const { tokens } = await api('GET', `${admin()}/tokens`);
    // An empty table reads as headers with nothing under them: say there is nothing instead.
    if (!tokens.length) {
      return fill(
        $('#tokens'),
        el('tr', {}, el('td', { colspan: '5', class: 'muted', text: 'No tokens yet.' })),
      );
    }
    fill(
      $('#tokens'),
      tokens.map((t) =>
        el(
          'tr',
          { 'data-token': t.id, class: t.revoked ? 'revoked' : null },
          el('td', { text: t.name }),
          el('td', { text: t.role }),
          el('td', { text: when(t.createdAt) }),
          el('td', { text: t.lastUsedAt ? when(t.lastUsedAt) : 'never' }),
          el(
            'td',
            {},
            t.revoked
              ? el('span', { class: 'muted', text: 'revoked' })
              : button('Revoke', () => revokeToken(t), { 'aria-label': `Revoke ${t.name}` }),
          ),
        ),
      ),
    );
  }

  /** A secret shown once: the text, a note that it will not come back, and a button to hide it. */
  function showSecret(box, label, secret) {
    box.hidden = false;
    const code = el('code', { text: secret, tabindex: '0' });
    fill(
      box,
      el('p', {}, el('strong', { text: label }), ' Copy it now: it is shown only this once.'),
      code,
      el(
        'p',
        {},
        button('Done', () => {
          fill(box);
          box.hidden = true;
        }),
      ),
    );
    code.focus();
  }

  async function createToken() {
    const t = await api('POST', `${admin()}/tokens`, {
      name: $('#token-name').value.trim(),
      role: $('#token-role').value,
    });
    $('#token-add').reset();
    showSecret($('#token-created'), `Token "${t.name}" (${t.role}).`, t.token);
    await loadTokens();
    say(`Token ${t.name} created.`);
  }

  async function revokeToken(t) {
    if (!confirm(`Revoke the token "${t.name}"? Integrations using it stop working at once.`)) return;
    await api('DELETE', `${admin()}/tokens/${encodeURIComponent(t.id)}`);
    await loadTokens();
    say(`Token ${t.name} revoked.`);
  }

  const hooks = () => `${admin()}/webhooks/endpoints`;

  async function loadEndpoints() {
    const events = $('#settings-view').dataset.events.split(',');
    if (!$('#endpoint-events').childElementCount) {
      fill(
        $('#endpoint-events'),
        events.map((e) =>
          el('label', { class: 'check' }, el('input', { type: 'checkbox', value: e }), ` ${e}`),
        ),
      );
    }
    const { endpoints } = await api('GET', hooks());
    fill(
      $('#endpoints'),
      endpoints.length
        ? endpoints.map((ep) =>
            el(
              'tr',
              { 'data-endpoint': ep.id },
              el(
                'td',
                { class: 'url' },
                el('code', { text: ep.url }),
                ep.description ? el('div', { class: 'muted', text: ep.description }) : null,
              ),
              el('td', { text: ep.eventTypes.length ? ep.eventTypes.join(', ') : 'all' }),
              el('td', { text: ep.enabled ? 'enabled' : `disabled (${ep.disabledReason || 'manual'})` }),
              el(
                'td',
                { class: 'buttons' },
                button('Delivery log', () => loadDeliveries(ep)),
                button('Secret and recovery', () => endpointTools(ep)),
                ep.enabled ? button('Send test', () => sendTest(ep)) : null,
                button(ep.enabled ? 'Disable' : 'Enable', () => toggleEndpoint(ep)),
                button('Delete', () => deleteEndpoint(ep), { 'aria-label': `Delete ${ep.url}` }),
              ),
            ),
          )
        : el('tr', {}, el('td', { colspan: '4', class: 'muted', text: 'No endpoints yet.' })),
    );
  }

  async function addEndpoint() {
    const eventTypes = $$('#endpoint-events input:checked').map((b) => b.value);
    const body = { url: $('#endpoint-url').value.trim(), eventTypes };
    if ($('#endpoint-description').value.trim()) body.description = $('#endpoint-description').value.trim();
    const r = await api('POST', hooks(), body);
    $('#endpoint-add').reset();
    showSecret($('#endpoint-created'), `Signing secret for ${r.endpoint.url}.`, r.secret);
    await loadEndpoints();
    say('Endpoint added.');
  }

  async function toggleEndpoint(ep) {
    await api('PATCH', `${hooks()}/${encodeURIComponent(ep.id)}`, { enabled: !ep.enabled });
    await loadEndpoints();
    say(`Endpoint ${ep.enabled ? 'disabled' : 'enabled'}.`);
  }

  async function deleteEndpoint(ep) {
    if (!confirm(`Delete the endpoint ${ep.url} and its delivery log?`)) return;
    await api('DELETE', `${hooks()}/${encodeURIComponent(ep.id)}`);
    fill($('#deliveries'));
    await loadEndpoints();
    say('Endpoint deleted.');
  }

  async function sendTest(ep) {
    await api('POST', `${hooks()}/${encodeURIComponent(ep.id)}/test`, {});
    await loadDeliveries(ep);
    say('Test event queued.');
  }

  async function loadDeliveries(ep) {
    const { messages } = await api('GET', `${hooks()}/${encodeURIComponent(ep.id)}/messages?limit=50`);
    fill(
      $('#deliveries'),
      el('h3', {}, 'Delivery log: ', el('code', { text: ep.url })),
      button('Refresh', () => loadDeliveries(ep).catch((e) => say(e.message))),
      el(
        'table',
        { class: 'grid' },
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            ['Created', 'Event', 'Status', 'Attempts', 'Last answer', 'Next attempt'].map((h) =>
              el('th', { scope: 'col', text: h }),
            ),
            // Named like the other tables' button columns, for screen readers only.
            el('th', { scope: 'col' }, el('span', { class: 'sr', text: 'Actions' })),
          ),
        ),
        el(
          'tbody',
          {},
          messages.length
            ? messages.map((m) =>
                el(
                  'tr',
                  { 'data-message': m.id },
                  el('td', { text: when(m.createdAt) }),
                  el('td', { text: m.eventType }),
                  el('td', { class: `st-${m.status}`, text: m.status }),
                  el('td', { text: String(m.attempts) }),
                  el('td', { text: m.lastStatusCode != null ? String(m.lastStatusCode) : m.lastError || '' }),
                  el('td', { text: when(m.nextAttemptAt) }),
                  el(
                    'td',
                    {},
                    ep.enabled
                      ? button('Redeliver', () => redeliver(ep, m), { 'aria-label': `Redeliver ${m.id}` })
                      : null,
                  ),
                ),
              )
            : el('tr', {}, el('td', { colspan: '7', class: 'muted', text: 'Nothing sent yet.' })),
        ),
      ),
    );
  }

  /** A datetime-local value (the browser's local time) for a moment. */
  function localInput(d) {
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
  }

  const OVERLAPS = [
    ['0', 'none: the old secret stops at once'],
    ['3600', '1 hour'],
    ['86400', '24 hours'],
    ['604800', '7 days'],
  ];

  /** Rotating the signing secret and resending failed messages, for one endpoint. */
  function endpointTools(ep) {
    const overlap = el(
      'select',
      { id: 'rotate-overlap' },
      OVERLAPS.map(([v, label]) => el('option', { value: v, selected: v === '86400', text: label })),
    );
    const since = el('input', {
      id: 'recover-since',
      type: 'datetime-local',
      required: true,
      value: localInput(new Date(Date.now() - 24 * 3600 * 1000)),
    });
    const box = $('#endpoint-tools');
    box.className = 'tools';
    fill(
      box,
      el('h3', {}, 'Secret and recovery: ', el('code', { text: ep.url })),
      el(
        'form',
        { id: 'rotate', class: 'row', onsubmit: guard(() => rotateSecret(ep, Number(overlap.value))) },
        el('label', {}, 'Old secret keeps signing for ', overlap),
        el('button', { type: 'submit', text: 'Rotate the signing secret' }),
      ),
      el('div', { id: 'endpoint-rotated', class: 'secret', hidden: true }),
      ep.enabled
        ? el(
            'form',
            { id: 'recover', class: 'row', onsubmit: guard(() => recoverSince(ep, since.value)) },
            el('label', {}, 'Resend every failed message since ', since),
            el('button', { type: 'submit', text: 'Resend failed' }),
          )
        : el('p', { class: 'muted', text: 'Enable the endpoint to resend failed messages.' }),
      button('Close', () => {
        fill(box);
        box.className = '';
      }),
    );
  }

  async function rotateSecret(ep, overlapSeconds) {
    const r = await api('POST', `${hooks()}/${encodeURIComponent(ep.id)}/secret/rotate`, { overlapSeconds });
    const until = overlapSeconds
      ? `The old secret keeps signing until ${when(r.previousSecretsExpireAt)}.`
      : 'The old secret no longer signs.';
    showSecret($('#endpoint-rotated'), `New signing secret for ${ep.url}. ${until}`, r.secret);
    say(`Secret rotated. ${until}`);
  }

  async function recoverSince(ep, local) {
    const at = new Date(local);
    if (!local || Number.isNaN(at.getTime())) throw new Error('Give a date and time to resend from.');
    if (at.getTime() > Date.now()) throw new Error('Give a time in the past to resend from.');
    const r = await api('POST', `${hooks()}/${encodeURIComponent(ep.id)}/recover`, {
      since: at.toISOString(),
    });
    say(`${r.requeued} failed message(s) since ${when(at.toISOString())} queued again.`);
    await loadDeliveries(ep);
  }

  // ---- privacy (admins) ----------------------------------------------------------------------

  function privacyEmail() {
    const input = $('#privacy-email');
    if (!input.checkValidity() || !input.value.trim()) throw new Error("Give the author's email address.");
    return input.value.trim();
  }

  /** Downloads the export as a JSON file (built in the page: the email never goes in a URL). */
  async function exportAuthor() {
    const email = privacyEmail();
    const data = await api('POST', `${admin()}/privacy/export`, { email });
    const blob = new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' });
    const url = URL.createObjectURL(blob);
    const a = el('a', { href: url, download: `parley-export-${state.site}.json`, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    say(`Export downloaded: ${data.comments.length} comment(s) by this author.`);
  }

  /**
   * Erasure asks first: it says what will be found and what the site's erase mode will do, and the
   * admin types the email again to confirm (a second click alone is too easy).
   */
  async function askErase() {
    const email = privacyEmail();
    const [found, settings] = await Promise.all([
      api('POST', `${admin()}/privacy/export`, { email }),
      api('GET', `${admin()}/settings`),
    ]);
    const box = $('#erase-confirm');
    const n = found.comments.length;
    const what =
      settings.eraseMode === 'delete'
        ? 'Their comments will be emptied and deleted.'
        : 'Their comments stay, with the name, email, IP hash, user agent and referrer removed.';
    const again = el('input', { id: 'erase-again', type: 'email', autocomplete: 'off' });
    const go = el('button', { type: 'button', class: 'confirm', disabled: true, text: 'Erase for good' });
    again.addEventListener('input', () => {
      go.disabled = again.value.trim().toLowerCase() !== email.toLowerCase();
    });
    go.addEventListener(
      'click',
      guard(() => erase(email)),
    );
    box.hidden = false;
    fill(
      box,
      el('p', {}, el('strong', { text: `Erase ${email}? ` }), `${n} comment(s) found on this site. ${what}`),
      el('p', { text: 'This cannot be undone. Download the export first if the author asked for it.' }),
      el('label', {}, 'Type the email again to confirm ', again),
      el(
        'p',
        {},
        go,
        ' ',
        button('Cancel', () => {
          fill(box);
          box.hidden = true;
        }),
      ),
    );
    again.focus();
  }

  async function erase(email) {
    // The address typed above may have changed since the confirmation was asked for.
    if ($('#privacy-email').value.trim() !== email) throw new Error('The email changed: ask again.');
    const r = await api('POST', `${admin()}/privacy/erase`, { email });
    fill($('#erase-confirm'));
    $('#erase-confirm').hidden = true;
    $('#privacy').reset();
    say(`Erased: ${r.comments} comment(s) ${r.mode === 'delete' ? 'deleted' : 'anonymised'}.`);
  }

  async function redeliver(ep, m) {
    await api(
      'POST',
      `${hooks()}/${encodeURIComponent(ep.id)}/messages/${encodeURIComponent(m.id)}/redeliver`,
      {},
    );
    await loadDeliveries(ep);
    say(`Message ${m.id} queued again.`);
  }

  // ---- wiring --------------------------------------------------------------------------------

  /** Runs an async UI action and reports failures in the status line instead of losing them. */
  const guard = (f) => (e) => {
    if (e?.preventDefault) e.preventDefault();
    Promise.resolve()
      .then(f)
      .catch((err) => say(err.message));
  };

  function toggleHelp() {
    const h = $('#help');
    h.hidden = !h.hidden;
    $('#help-toggle').setAttribute('aria-expanded', String(!h.hidden));
  }

  document.addEventListener('keydown', (e) => {
    const t = e.target;
    if (
      t instanceof HTMLInputElement ||
      t instanceof HTMLSelectElement ||
      t instanceof HTMLTextAreaElement ||
      (t instanceof HTMLElement && t.isContentEditable) ||
      e.metaKey ||
      e.ctrlKey ||
      e.altKey
    )
      return;
    if ($('#app').hidden || !state.site) return;
    if (e.key === 'h' && state.view !== 'settings') {
      e.preventDefault();
      show(state.view === 'history' ? 'queue' : 'history');
      return;
    }
    if (state.view !== 'queue') return;
    const keys = {
      j: () => {
        state.index = Math.min(state.index + 1, state.items.length - 1);
        render(false);
      },
      k: () => {
        state.index = Math.max(state.index - 1, 0);
        render(false);
      },
      a: () => act('approve'),
      r: () => act('reject'),
      b: () => ban(),
      u: () => undo(),
      x: () => {
        const it = state.items[state.index];
        if (it) {
          state.selected.has(it.id) ? state.selected.delete(it.id) : state.selected.add(it.id);
          render();
        }
      },
      '?': toggleHelp,
    };
    const f = keys[e.key];
    if (f) {
      e.preventDefault();
      f();
    }
  });

  $('#signin').addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      enter(
        await api('POST', '/api/v1/moderation/session', {
          email: $('#email').value,
          password: $('#password').value,
        }),
      );
    } catch (err) {
      $('#signin-error').textContent = err.message;
    }
  });
  for (const b of $$('nav button[data-queue]'))
    b.addEventListener('click', () => {
      state.queue = b.dataset.queue;
      state.index = 0;
      loadQueue().catch((e) => say(e.message));
    });
  for (const b of $$('button[data-view]')) b.addEventListener('click', () => show(b.dataset.view));
  $('#site').addEventListener('change', (e) => pickSite(e.target.value));
  $('#bulk-approve').addEventListener('click', () => bulk('approve'));
  $('#bulk-reject').addEventListener('click', () => bulk('reject'));
  $('#help-toggle').addEventListener('click', toggleHelp);
  $('#history-more').addEventListener(
    'click',
    guard(() => loadHistory(true)),
  );
  $('#site-settings').addEventListener('submit', guard(saveSiteSettings));
  $('#policy').addEventListener('submit', guard(savePolicy));
  $('#policy').addEventListener('input', () => state.policy && policyDirty());
  $('#policy').addEventListener('change', () => state.policy && policyDirty());
  $('#policy-preview').addEventListener('click', guard(previewPolicy));
  $('#member-add').addEventListener('submit', guard(addMember));
  $('#token-add').addEventListener('submit', guard(createToken));
  $('#endpoint-add').addEventListener('submit', guard(addEndpoint));
  $('#privacy').addEventListener('submit', guard(exportAuthor));
  $('#privacy-erase').addEventListener('click', guard(askErase));
  $('#signout').addEventListener('click', async () => {
    await api('DELETE', '/api/v1/moderation/session').catch(() => {});
    location.reload();
  });
  // Counts refresh by themselves.
  setInterval(async () => {
    if (!state.site || $('#app').hidden || document.hidden || state.view !== 'queue') return;
    try {
      counts(await api('GET', `${base()}/queues`));
    } catch {}
  }, 10000);
  start();
})();
