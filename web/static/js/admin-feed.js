// admin-feed.js shows the moderators' feed: every send and what became of
// it (accepted, masked, shadowed, rejected with the reason) and every
// deletion, newest first, the last 500, across all rooms or one. It loads
// the recent events, then follows the server's event stream.

export const FEED_CAP = 500;

// eventKey identifies a feed event, to merge the loaded list with events
// that arrived on the stream meanwhile.
export function eventKey(ev) {
  const id = ev.danmaku && ev.danmaku.id ? ev.danmaku.id : ev.text || '';
  return `${ev.at}|${ev.objectId}|${ev.userId}|${ev.outcome}|${id}`;
}

// eventText is the text an event is about: the stored text, or the
// attempted text of a rejection.
export function eventText(ev) {
  if (ev.danmaku && ev.danmaku.content && typeof ev.danmaku.content.text === 'string') return ev.danmaku.content.text;
  return typeof ev.text === 'string' ? ev.text : '';
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

function clockTime(ms) {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

// Feed renders events into a table body. onDelete({objectId, id, text})
// and onBan(userId, objectId) act on a row; onCount and onState report the
// number of rows and the stream's state; onEvent sees each new event.
export class Feed {
  constructor(tbody, { onDelete, onBan, onCount = () => {}, onState = () => {}, onEvent = () => {} }) {
    this.tbody = tbody;
    this.onDelete = onDelete;
    this.onBan = onBan;
    this.onCount = onCount;
    this.onState = onState;
    this.onEvent = onEvent;
    this.rows = []; // Newest first: {key, ev, tr}.
    this.keys = new Set();
    this.deleted = new Set(); // Danmaku ids deleted.
    this.source = null;
    this.gen = 0;
    this.state = 'stopped';
  }

  setState(s) {
    this.state = s;
    this.onState(s);
  }

  // start shows the feed of roomId ('' for all rooms): the recent events,
  // then new ones as they happen.
  start(api, roomId) {
    this.stop();
    const gen = ++this.gen;
    this.clear();
    this.setState('connecting…');
    let buffered = [];
    let loaded = false;
    const source = new EventSource(api.feedStreamURL(roomId));
    this.source = source;
    source.addEventListener('feed', (m) => {
      let ev;
      try {
        ev = JSON.parse(m.data);
      } catch {
        return;
      }
      if (loaded) this.add(ev); else buffered.push(ev);
    });
    let broken = false;
    source.addEventListener('open', () => {
      this.setState(roomId ? `live: ${roomId}` : 'live: all rooms');
      if (broken) { // Events may have been missed while reconnecting.
        broken = false;
        this.start(api, roomId);
      }
    });
    source.addEventListener('error', () => {
      if (gen !== this.gen) return;
      broken = true;
      if (source.readyState === EventSource.CLOSED) {
        this.setState('stopped');
        api.stats().catch(() => {}); // A refused token signs the page out.
      } else {
        this.setState('reconnecting…');
      }
    });
    api.feed(roomId).then((res) => {
      if (gen !== this.gen) return;
      const events = Array.isArray(res && res.events) ? res.events : [];
      for (let i = events.length - 1; i >= 0; i--) this.add(events[i]);
      loaded = true;
      buffered.sort((a, b) => a.at - b.at);
      for (const ev of buffered) this.add(ev);
      buffered = [];
    }).catch((err) => {
      if (gen === this.gen) this.setState(`loading failed: ${err.message}`);
    });
  }

  stop() {
    this.gen++;
    if (this.source) this.source.close();
    this.source = null;
    this.setState('stopped');
  }

  clear() {
    this.rows = [];
    this.keys.clear();
    this.tbody.replaceChildren();
    this.onCount(0);
  }

  // add puts one event at the top (it is the newest) and trims the list.
  add(ev) {
    if (!ev || typeof ev !== 'object') return;
    const key = eventKey(ev);
    if (this.keys.has(key)) return;
    this.keys.add(key);
    if (ev.outcome === 'deleted' && ev.danmaku && ev.danmaku.id) this.markDeleted(ev.danmaku.id);
    const tr = this.row(ev);
    this.rows.unshift({ key, ev, tr });
    this.tbody.prepend(tr);
    while (this.rows.length > FEED_CAP) {
      const old = this.rows.pop();
      this.keys.delete(old.key);
      old.tr.remove();
    }
    this.onCount(this.rows.length);
    this.onEvent(ev);
  }

  // markDeleted strikes out the rows of a deleted danmaku.
  markDeleted(id) {
    this.deleted.add(id);
    for (const r of this.rows) {
      if (r.ev.danmaku && r.ev.danmaku.id === id && r.ev.outcome !== 'deleted') this.strike(r.tr);
    }
  }

  strike(tr) {
    tr.classList.add('gone');
    const b = tr.querySelector('button.delete');
    if (b) b.disabled = true;
  }

  row(ev) {
    const tr = document.createElement('tr');
    tr.dataset.outcome = ev.outcome || '';
    const cell = (text, cls) => {
      const td = document.createElement('td');
      if (cls) td.className = cls;
      td.textContent = text;
      tr.append(td);
      return td;
    };
    cell(clockTime(Number(ev.at) || 0), 'time');
    cell(String(ev.objectId ?? ''), 'room').title = String(ev.objectId ?? '');
    cell(String(ev.userId ?? ''), 'user').title = String(ev.userId ?? '');
    const outcome = cell('', 'outcome-cell');
    const badge = document.createElement('span');
    badge.className = `outcome ${/^[a-z]+$/.test(ev.outcome) ? ev.outcome : ''}`;
    badge.textContent = String(ev.outcome ?? '');
    outcome.append(badge);
    const text = cell('', 'text');
    const color = ev.danmaku && ev.danmaku.content && ev.danmaku.content.color;
    if (typeof color === 'string' && /^#[0-9a-fA-F]{6}$/.test(color)) {
      const sw = document.createElement('span');
      sw.className = 'swatch';
      sw.style.background = color;
      text.append(sw);
    }
    text.append(document.createTextNode(eventText(ev)));
    const reporter = ev.outcome === 'report' && ev.reporter ? `(reported by ${ev.reporter})` : '';
    cell([ev.reason, ev.code && ev.code !== ev.reason ? `(${ev.code})` : '', reporter].filter(Boolean).join(' '), 'reason');
    const actions = cell('', 'actions');
    const d = ev.danmaku;
    if (d && d.id && ev.outcome !== 'deleted' && ev.outcome !== 'rejected') {
      const del = document.createElement('button');
      del.type = 'button';
      del.className = 'delete';
      del.textContent = 'Delete';
      del.addEventListener('click', () => this.onDelete({ objectId: d.objectId || ev.objectId, id: d.id, text: eventText(ev) }));
      actions.append(del);
    }
    // A report's user is the reporter: its ban button bans the author.
    const author = ev.outcome === 'report' ? (d && d.userId) || '' : ev.userId;
    if (author) {
      const ban = document.createElement('button');
      ban.type = 'button';
      ban.className = 'ban';
      ban.textContent = 'Ban author';
      ban.addEventListener('click', () => this.onBan(author, ev.objectId || ''));
      actions.append(ban);
    }
    if (d && d.id && this.deleted.has(d.id) && ev.outcome !== 'deleted') this.strike(tr);
    return tr;
  }

  // snapshot describes the rows, newest first, for tests.
  snapshot() {
    return this.rows.map(({ ev, tr }) => ({
      at: ev.at, objectId: ev.objectId, userId: ev.userId, outcome: ev.outcome, reason: ev.reason || '',
      code: ev.code || '', text: eventText(ev), id: ev.danmaku ? ev.danmaku.id : '', gone: tr.classList.contains('gone'),
    }));
  }
}
