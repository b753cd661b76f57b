// listpanel.js is the player's danmaku list: the danmaku around the
// current time as text, newest last, with live ones added as they come.
// A row seeks to its danmaku; its buttons block the sender (the settings'
// user block list) or report the danmaku to the moderators with a reason.
// Text goes into the page with textContent only.

import { formatTime } from './time.js';

const KEEP = 3000; // Danmaku remembered for the list.
const SHOWN = 150; // Rows shown at most.
const BEHIND = 90; // Seconds before the playhead that the list covers.
const AHEAD = 3; // Seconds after it.

// REASONS are the reasons a viewer may give for a report.
export const REASONS = [
  ['spam', 'Spam or advertising'],
  ['abuse', 'Abuse or harassment'],
  ['spoiler', 'Spoiler'],
  ['illegal', 'Illegal content'],
  ['other', 'Something else'],
];

// ListPanel keeps the list of one player. hooks: seek(t), block(userId)
// and report(item, reason), which returns a promise.
export class ListPanel {
  constructor(panel, list, count, hooks) {
    this.panel = panel;
    this.list = list;
    this.count = count;
    this.hooks = hooks;
    this.items = new Map(); // By id, in arrival order.
    this.shownKey = '';
    this.reporting = false; // A report form is open: the rows stay as they are.
    this.follow = true; // Scroll to the newest row unless the viewer scrolled away.
    this.reported = new Set();
    this.lis = new Map(); // Row elements by id: kept while shown, so a click never lands on a replaced row.
    this.hold = false; // The pointer is over the list: it changes only on the viewer's own actions.
    this.forced = false;
    list.addEventListener('scroll', () => {
      this.follow = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
    });
    list.addEventListener('pointerenter', (ev) => { this.hold = ev.pointerType === 'mouse'; });
    list.addEventListener('pointerleave', () => { this.hold = false; });
  }

  get open() { return !this.panel.hidden; }

  // add remembers renderer items; at, when given, is the time they show at
  // (a live room's pushed danmaku show when they arrive).
  add(items, at) {
    for (const it of items) {
      if (!it || !it.id || it.id.startsWith('local-')) continue;
      this.items.delete(it.id);
      this.items.set(it.id, { id: it.id, text: it.text, userId: it.userId, mode: it.mode, mine: !!it.mine, t: at ?? it.time });
    }
    while (this.items.size > KEEP) this.items.delete(this.items.keys().next().value);
  }

  // remove forgets danmaku the server withdrew.
  remove(ids) {
    for (const id of ids) this.items.delete(String(id));
  }

  // rows returns what the list shows at time now, oldest first.
  rows(now, blocked) {
    const out = [];
    for (const it of this.items.values()) {
      if (it.t < now - BEHIND || it.t > now + AHEAD) continue;
      if (!it.mine && blocked(it)) continue;
      out.push(it);
    }
    out.sort((a, b) => a.t - b.t);
    return out.slice(-SHOWN);
  }

  // update redraws the list for time now if it is open and changed. While
  // the mouse is over it or a report is being written, only the viewer's
  // own actions (invalidate) change it.
  update(now, blocked) {
    if (!this.open || this.reporting || (this.hold && !this.forced)) return;
    this.forced = false;
    const rows = this.rows(now, blocked);
    const key = rows.map((r) => r.id).join(',');
    if (key === this.shownKey) return;
    this.shownKey = key;
    const lis = new Map();
    for (const r of rows) lis.set(r.id, this.lis.get(r.id) || this.row(r));
    this.lis = lis;
    this.list.replaceChildren(...lis.values());
    this.count.textContent = `${rows.length}`;
    if (this.follow) this.list.scrollTop = this.list.scrollHeight;
  }

  // invalidate makes the next update redraw.
  invalidate() {
    this.shownKey = '';
    this.forced = true;
  }

  row(r) {
    const li = document.createElement('li');
    li.dataset.id = r.id;
    li.dataset.user = r.userId;
    const go = button('', 'seekto', () => {
      this.hooks.seek(Math.max(0, r.t - 0.5));
      this.invalidate();
    });
    go.title = `Go to ${formatTime(r.t)}`;
    const t = document.createElement('span');
    t.className = 't';
    t.textContent = formatTime(r.t);
    const x = document.createElement('span');
    x.className = 'x';
    x.textContent = r.text;
    go.append(t, x);
    li.append(go);
    if (!r.mine && r.userId) {
      li.append(button('Block user', 'act block', () => {
        this.hooks.block(r.userId);
        this.invalidate();
      }));
    }
    if (!r.mine) {
      const rep = button(this.reported.has(r.id) ? 'Reported' : 'Report', 'act report', () => this.openReport(li, r, rep));
      rep.disabled = this.reported.has(r.id);
      li.append(rep);
    }
    return li;
  }

  // openReport shows the reason picker under a row.
  openReport(li, r, rep) {
    if (li.querySelector('form')) return;
    this.reporting = true;
    const form = document.createElement('form');
    form.className = 'report-form';
    const select = document.createElement('select');
    select.setAttribute('aria-label', 'Reason');
    for (const [value, label] of REASONS) {
      const o = document.createElement('option');
      o.value = value;
      o.textContent = label;
      select.append(o);
    }
    const send = document.createElement('button');
    send.type = 'submit';
    send.textContent = 'Send report';
    const done = () => {
      form.remove();
      this.reporting = false;
    };
    const cancel = button('Cancel', 'cancel', done);
    form.append(select, send, cancel);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      send.disabled = true;
      try {
        await this.hooks.report(r, select.value);
        this.reported.add(r.id);
        rep.textContent = 'Reported';
        rep.disabled = true;
        done();
      } catch {
        send.disabled = false; // The app has said why.
      }
    });
    li.append(form);
    select.focus();
  }
}

function button(text, cls, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = cls;
  if (text) b.textContent = text;
  b.addEventListener('click', onClick);
  return b;
}
