// admin-browse.js holds two panels of the admin page: the browser of a
// room's stored danmaku (by playback time, searched by user and text) and
// the list of the viewers' reports, each with its danmaku. Both delete
// (after a confirmation, which the page asks) and prepare bans. Text goes
// into the page with textContent only.

const pad = (n) => String(n).padStart(2, '0');

// formatPlay writes playback seconds as m:ss.s or h:mm:ss.
export function formatPlay(s) {
  s = Math.max(0, Number(s) || 0);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return h > 0 ? `${h}:${pad(m)}:${pad(Math.floor(sec))}` : `${m}:${sec.toFixed(1).padStart(4, '0')}`;
}

// parsePlay reads "90", "1:30" or "1:02:03" as seconds; NaN if neither.
export function parsePlay(text) {
  const t = String(text).trim();
  if (t === '') return 0;
  if (!/^\d+(\.\d+)?$|^\d+:\d{1,2}(\.\d+)?$|^\d+:\d{1,2}:\d{1,2}(\.\d+)?$/.test(t)) return NaN;
  return t.split(':').reduce((acc, part) => acc * 60 + Number(part), 0);
}

function el(tag, text = '', cls = '') {
  const e = document.createElement(tag);
  if (text !== '') e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function button(text, cls, onClick) {
  const b = el('button', text, cls);
  b.type = 'button';
  b.addEventListener('click', onClick);
  return b;
}

// Browser lists a room's stored danmaku. hooks: remove(objectId, danmaku)
// resolves true once deleted; ban(userId, objectId); state(text).
export class Browser {
  constructor(tbody, more, hooks) {
    this.tbody = tbody;
    this.more = more;
    this.hooks = hooks;
    this.query = null;
    this.cursor = '';
    this.rows = []; // {d, tr}
    more.addEventListener('click', () => this.page());
  }

  // search starts a listing: room, from (seconds), user and q.
  async search(api, query) {
    this.api = api;
    this.query = query;
    this.cursor = '';
    this.rows = [];
    this.tbody.replaceChildren();
    await this.page();
  }

  async page() {
    const { room, ...rest } = this.query;
    this.more.disabled = true;
    let res;
    try {
      res = await this.api.roomDanmaku(room, { ...rest, cursor: this.cursor, size: 50 });
    } catch (err) {
      this.hooks.state(`Listing failed: ${err.message}`);
      this.more.disabled = false;
      return;
    }
    const list = Array.isArray(res && res.data) ? res.data : [];
    for (const d of list) this.add(d);
    this.cursor = res && res.cursor !== undefined ? String(res.cursor) : '-1';
    this.more.hidden = this.cursor === '-1' || this.cursor === '' || list.length === 0;
    this.more.disabled = false;
    this.hooks.state(this.rows.length ? `${this.rows.length} danmaku${this.more.hidden ? '' : ', more to load'}.` : 'No danmaku match.');
  }

  add(d) {
    if (!d || typeof d !== 'object') return;
    const tr = document.createElement('tr');
    tr.dataset.id = String(d.id ?? '');
    const c = d.content || {};
    tr.append(el('td', formatPlay(c.time), 'time'), el('td', String(d.userId ?? ''), 'user'));
    const text = el('td', '', 'text');
    if (typeof c.color === 'string' && /^#[0-9a-fA-F]{6}$/.test(c.color)) {
      const sw = el('span', '', 'swatch');
      sw.style.background = c.color;
      text.append(sw);
    }
    text.append(document.createTextNode(typeof c.text === 'string' ? c.text : ''));
    const actions = el('td', '', 'actions');
    const objectId = String(d.objectId || this.query.room);
    const del = button('Delete', 'delete', async () => {
      if (await this.hooks.remove(objectId, d)) {
        tr.classList.add('gone');
        del.disabled = true;
      }
    });
    actions.append(del);
    if (d.userId) actions.append(button('Ban author', 'ban', () => this.hooks.ban(String(d.userId), objectId)));
    tr.append(text, actions);
    this.rows.push({ d, tr });
    this.tbody.append(tr);
  }

  // markDeleted strikes out a danmaku deleted elsewhere.
  markDeleted(id) {
    for (const r of this.rows) {
      if (String(r.d.id) === String(id)) {
        r.tr.classList.add('gone');
        const b = r.tr.querySelector('button.delete');
        if (b) b.disabled = true;
      }
    }
  }

  // snapshot describes the rows, for tests.
  snapshot() {
    return this.rows.map(({ d, tr }) => ({
      id: String(d.id), userId: String(d.userId ?? ''), text: d.content && d.content.text, time: d.content && d.content.time,
      gone: tr.classList.contains('gone'),
    }));
  }
}

// Reports shows the viewers' reports with their danmaku. hooks as for
// Browser.
export class Reports {
  constructor(list, hooks) {
    this.list = list;
    this.hooks = hooks;
    this.items = [];
  }

  async load(api) {
    let res;
    try {
      res = await api.reports();
    } catch (err) {
      this.hooks.state(err.status === 404 ? 'This server keeps no reports.' : `Loading reports failed: ${err.message}`);
      return;
    }
    this.items = Array.isArray(res && res.data) ? res.data : [];
    this.list.replaceChildren(...this.items.map((r) => this.card(r)));
    if (this.items.length === 0) this.list.append(el('li', 'No reports.', 'muted'));
    this.hooks.state(`${this.items.length} reports`);
  }

  card(r) {
    const li = el('li', '', 'card');
    li.dataset.id = String(r.id ?? '');
    const d = r.danmaku && typeof r.danmaku === 'object' ? r.danmaku : null;
    const head = el('div', '', 'card-head');
    const at = Number(r.at) || Date.parse(r.at) || 0;
    head.append(el('span', at ? new Date(at).toLocaleString() : '', 'muted'), el('span', String(r.objectId ?? ''), 'room'),
      el('span', `reported by ${r.reporter ?? 'unknown'}`, 'muted'), el('span', String(r.reason ?? ''), 'outcome report'));
    const body = el('p', '', 'card-text');
    if (d && d.content) {
      body.append(el('span', `${formatPlay(d.content.time)} `, 'muted'), el('strong', String(d.userId ?? '')), document.createTextNode(`: ${d.content.text ?? ''}`));
    } else {
      body.textContent = 'The danmaku is gone.';
      li.classList.add('gone');
    }
    const actions = el('div', '', 'row');
    if (d) {
      const del = button('Delete', 'delete', async () => {
        if (await this.hooks.remove(String(r.objectId), d)) {
          li.classList.add('gone');
          del.disabled = true;
        }
      });
      actions.append(del);
      if (d.userId) actions.append(button('Ban author', 'ban', () => this.hooks.ban(String(d.userId), String(r.objectId ?? ''))));
    }
    li.append(head, body, actions);
    return li;
  }

  // markDeleted marks the reports of a danmaku deleted elsewhere.
  markDeleted(id) {
    for (const li of this.list.children) {
      if (li.dataset.id === String(id)) {
        li.classList.add('gone');
        const b = li.querySelector('button.delete');
        if (b) b.disabled = true;
      }
    }
  }

  snapshot() {
    return this.items.map((r) => ({ objectId: r.objectId, id: String(r.id ?? ''), reason: r.reason, reporter: r.reporter,
      text: r.danmaku && r.danmaku.content ? r.danmaku.content.text : '' }));
  }
}
