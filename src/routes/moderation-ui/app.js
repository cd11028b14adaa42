// Parley moderation UI: plain JS, no framework. Every piece of user text goes in with textContent.
(() => {
  const $ = (sel) => document.querySelector(sel);
  const el = (tag, props = {}, ...kids) => {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === 'text') n.textContent = v;
      else if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
      else n.setAttribute(k, v);
    }
    for (const k of kids) if (k) n.append(k);
    return n;
  };
  const state = {
    csrf: null,
    site: null,
    queue: 'held',
    items: [],
    index: 0,
    selected: new Set(),
    lastDecided: null,
    view: 'queue',
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
    if (!res.ok)
      throw Object.assign(new Error((data && data.title) || `HTTP ${res.status}`), {
        status: res.status,
        code: data && data.code,
      });
    return data;
  }
  const say = (msg) => {
    $('#status').textContent = msg;
  };
  const base = () => `/api/v1/moderation/sites/${encodeURIComponent(state.site)}`;

  async function start() {
    try {
      const s = await api('GET', '/api/v1/moderation/session');
      enter(s);
    } catch {
      $('#signin').hidden = false;
    }
  }

  function enter(s) {
    state.csrf = s.csrfToken;
    $('#signin').hidden = true;
    $('#app').hidden = false;
    $('#who').textContent = s.user ? s.user.email : 'token';
    const pick = $('#site');
    pick.replaceChildren(...s.sites.map((x) => el('option', { value: x.id, text: `${x.name} (${x.role})` })));
    state.site = s.sites[0] && s.sites[0].id;
    if (state.site) load();
  }

  async function load() {
    state.view = 'queue';
    const page = await api('GET', `${base()}/queues/${state.queue}?limit=50`);
    state.items = page.items;
    state.index = Math.min(state.index, Math.max(0, state.items.length - 1));
    state.selected = new Set([...state.selected].filter((id) => state.items.some((i) => i.id === id)));
    counts(page.counts);
    render();
  }

  function counts(c) {
    for (const b of document.querySelectorAll('nav button[data-queue]')) {
      const q = b.dataset.queue;
      b.textContent = `${q} (${c[q]})`;
      b.setAttribute('aria-pressed', String(q === state.queue));
    }
  }

  /** The body with the rule's matched spans wrapped in <mark>, built from text nodes only. */
  function highlighted(body, reasons) {
    const spans = reasons
      .flatMap((r) => r.spans)
      .filter((s) => s.start >= 0 && s.end <= body.length && s.start < s.end)
      .sort((a, b) => a.start - b.start);
    const out = el('div', { class: 'body' });
    let at = 0;
    for (const s of spans) {
      if (s.start < at) continue;
      out.append(
        document.createTextNode(body.slice(at, s.start)),
        el('mark', { text: body.slice(s.start, s.end) }),
      );
      at = s.end;
    }
    out.append(document.createTextNode(body.slice(at)));
    return out;
  }

  function render() {
    const list = $('#list');
    list.replaceChildren(
      ...state.items.map((it, i) => {
        const box = el('input', { type: 'checkbox', 'aria-label': 'select' });
        box.checked = state.selected.has(it.id);
        box.addEventListener('change', () => {
          box.checked ? state.selected.add(it.id) : state.selected.delete(it.id);
        });
        const li = el(
          'li',
          { 'data-id': it.id, class: i === state.index ? 'current' : '' },
          box,
          el('span', { class: 'ex', text: `${it.authorName}: ${it.body}` }),
        );
        li.addEventListener('click', (e) => {
          if (e.target !== box) {
            state.index = i;
            render();
          }
        });
        return li;
      }),
    );
    const it = state.items[state.index];
    const d = $('#detail');
    if (!it) {
      d.replaceChildren(el('p', { text: 'Nothing here. Well done.' }));
      return;
    }
    const reasons = it.decisions.flatMap((x) => x.reasons);
    d.replaceChildren(
      el('h2', { text: it.article.title || it.article.id }),
      el('p', {
        class: 'muted',
        text: `${it.authorName} · ${new Date(it.createdAt).toLocaleString()} · history: ${it.history.published} published, ${it.history.rejected} rejected, ${it.history.held} held`,
      }),
      it.parent
        ? el(
            'div',
            { class: 'parent' },
            el('div', { class: 'muted', text: `In reply to ${it.parent.authorName}` }),
            el('div', { text: it.parent.body }),
          )
        : null,
      highlighted(it.body, reasons),
      el(
        'ul',
        {},
        ...reasons.map((r) =>
          el('li', { text: `${r.code}: ${r.message}${r.score != null ? ` (${r.score.toFixed(2)})` : ''}` }),
        ),
      ),
      it.reports.length
        ? el('p', { class: 'muted', text: `Reports: ${it.reports.map((r) => r.reason).join(', ')}` })
        : null,
      it.claim && !it.claim.mine
        ? el('p', { class: 'muted', text: 'Another moderator is on this one.' })
        : null,
    );
    api('POST', `${base()}/comments/${it.id}/claim`).catch(() => {});
  }

  async function act(kind) {
    const it = state.items[state.index];
    if (!it) return;
    try {
      if (kind === 'approve') await api('POST', `${base()}/comments/${it.id}/approve`, {});
      else await api('POST', `${base()}/comments/${it.id}/reject`, { reasonCode: $('#reason').value });
      state.lastDecided = it.id;
      say(`${kind === 'approve' ? 'Approved' : 'Rejected'}: ${it.authorName}. Press u to undo.`);
    } catch (e) {
      say(e.message);
    }
    await load();
  }

  async function bulk(action) {
    if (!state.selected.size) return say('Select comments first (x or the checkboxes).');
    const res = await api('POST', `${base()}/bulk`, {
      action,
      ids: [...state.selected],
      reasonCode: action === 'reject' ? $('#reason').value : undefined,
    });
    const ok = res.results.filter((r) => r.ok).length;
    say(`${ok} of ${res.results.length} ${action === 'approve' ? 'approved' : 'rejected'}.`);
    state.selected.clear();
    await load();
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
    await load();
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
    await load();
  }

  async function history() {
    state.view = 'history';
    const h = await api('GET', `${base()}/history?limit=100`);
    $('#list').replaceChildren(
      ...h.entries.map((e) =>
        el(
          'li',
          {},
          el('span', {
            class: 'ex',
            text: `${new Date(e.createdAt).toLocaleTimeString()} ${e.action} ${e.reasonCode || ''} · ${e.authorName}: ${e.excerpt}`,
          }),
        ),
      ),
    );
    $('#detail').replaceChildren(
      el('p', { text: 'Decision history (newest first). Press h again or pick a queue to go back.' }),
    );
  }

  document.addEventListener('keydown', (e) => {
    if (
      e.target instanceof HTMLInputElement ||
      e.target instanceof HTMLSelectElement ||
      e.metaKey ||
      e.ctrlKey ||
      e.altKey
    )
      return;
    if ($('#app').hidden) return;
    const keys = {
      j: () => {
        state.index = Math.min(state.index + 1, state.items.length - 1);
        render();
      },
      k: () => {
        state.index = Math.max(state.index - 1, 0);
        render();
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
      h: () => (state.view === 'history' ? load() : history()),
      '?': () => {
        $('#help').hidden = !$('#help').hidden;
      },
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
  for (const b of document.querySelectorAll('nav button[data-queue]'))
    b.addEventListener('click', () => {
      state.queue = b.dataset.queue;
      state.index = 0;
      load();
    });
  $('#site').addEventListener('change', (e) => {
    state.site = e.target.value;
    state.index = 0;
    load();
  });
  $('#bulk-approve').addEventListener('click', () => bulk('approve'));
  $('#bulk-reject').addEventListener('click', () => bulk('reject'));
  $('#signout').addEventListener('click', async () => {
    await api('DELETE', '/api/v1/moderation/session').catch(() => {});
    location.reload();
  });
  // Counts refresh by themselves.
  setInterval(async () => {
    if (!state.site || $('#app').hidden || document.hidden) return;
    try {
      counts(await api('GET', `${base()}/queues`));
    } catch {}
  }, 10000);
  start();
})();
