// admin-api.js calls danmakud's admin API with the admin token, and keeps
// the token for the browser tab (sessionStorage: it ends with the tab). Its
// errors are the SDK's DanmakuErrors; the admin page reads no public
// endpoint, which the SDK (/sdk/danmaku.js) would call.

import { DanmakuError, errorFrom } from '/sdk/danmaku.js';

const KEY = 'danmakud.adminToken';

// TokenStore keeps the admin token in storage; it works (for the page's
// life only) when storage is disabled.
export class TokenStore {
  constructor(storage = safeSessionStorage()) {
    this.storage = storage;
    this.memory = '';
  }

  get() {
    try {
      return (this.storage && this.storage.getItem(KEY)) || this.memory;
    } catch {
      return this.memory;
    }
  }

  set(token) {
    this.memory = token;
    try {
      if (this.storage) this.storage.setItem(KEY, token);
    } catch {
      // Kept in memory only.
    }
  }

  clear() {
    this.memory = '';
    try {
      if (this.storage) this.storage.removeItem(KEY);
    } catch {
      // Nothing kept.
    }
  }
}

function safeSessionStorage() {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

const q = (params) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
};

const room = (id) => `/admin/api/rooms/${encodeURIComponent(id)}`;

// AdminApi calls the admin API. onUnauthorized runs when the server
// refuses the token (it expired, or the secret changed).
export class AdminApi {
  constructor(tokens, { base = '', onUnauthorized = () => {} } = {}) {
    this.tokens = tokens;
    this.base = base;
    this.onUnauthorized = onUnauthorized;
  }

  get signedIn() { return this.tokens.get() !== ''; }

  async request(method, path, body) {
    const headers = {};
    const token = this.tokens.get();
    if (token) headers.Authorization = `Bearer ${token}`;
    const init = { method, headers, credentials: 'omit', cache: 'no-store' };
    if (body instanceof Blob) {
      headers['Content-Type'] = 'application/xml';
      init.body = body;
    } else if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(this.base + path, init);
    } catch (err) {
      throw new DanmakuError('unavailable', `network error: ${err.message}`);
    }
    let data = null;
    try {
      data = await res.json();
    } catch {
      data = null;
    }
    if (!res.ok) {
      const err = errorFrom(data, res.status);
      if (res.status === 401 && token) this.onUnauthorized(err);
      throw err;
    }
    return data;
  }

  // login exchanges the password for a token and keeps it.
  async login(password) {
    const res = await this.request('POST', '/admin/api/login', { password });
    if (!res || typeof res.token !== 'string' || res.token === '') {
      throw new DanmakuError('internal', 'the server answered no token', { status: 500 });
    }
    this.tokens.set(res.token);
    return res.token;
  }

  logout() { this.tokens.clear(); }

  feed(roomId) { return this.request('GET', `/admin/api/feed${q({ room: roomId })}`); }

  // feedStreamURL is the event stream of new feed events; EventSource
  // cannot send headers, so the token goes in the query.
  feedStreamURL(roomId) {
    return `${this.base}/admin/api/feed/stream${q({ room: roomId, token: this.tokens.get() })}`;
  }

  stats() { return this.request('GET', '/admin/api/stats'); }

  words(roomId) { return this.request('GET', `/admin/api/words${q({ room: roomId })}`); }
  addWord(roomId, word, action) { return this.request('POST', '/admin/api/words', { room: roomId || undefined, word, action }); }
  removeWord(roomId, word) { return this.request('DELETE', `/admin/api/words${q({ room: roomId, word })}`); }

  bans(roomId) { return this.request('GET', `/admin/api/bans${q({ room: roomId })}`); }
  ban(userId, roomId, reason, seconds) {
    return this.request('POST', '/admin/api/bans', { userId, room: roomId || undefined, reason, seconds });
  }
  // unban lifts the ban of userId, or of the address range cidr, in roomId.
  unban(userId, roomId, cidr) { return this.request('DELETE', `/admin/api/bans${q({ userId, cidr, room: roomId })}`); }

  room(id) { return this.request('GET', room(id)); }
  setRoom(id, patch) { return this.request('POST', room(id), patch); }
  startLive(id) { return this.request('POST', `${room(id)}/live/start`, {}); }
  endLive(id) { return this.request('POST', `${room(id)}/live/end`, {}); }

  // importXML uploads a Bilibili danmaku XML file into a room.
  importXML(id, file) { return this.request('POST', `/admin/api/import/${encodeURIComponent(id)}`, file); }

  // roomDanmaku lists a room's stored danmaku from playback time from
  // (seconds), optionally only those of user or whose text contains q;
  // cursor continues a listing. It answers {data, cursor}, cursor "-1" at
  // the end.
  roomDanmaku(id, { from = 0, user = '', q: text = '', cursor = '', size = 50 } = {}) {
    return this.request('GET', `${room(id)}/danmaku${q({ from, user, q: text, cursor, size })}`);
  }

  // reports lists the viewers' reports, newest first: {data: [{objectId,
  // id, reason, reporter, at, danmaku}]}.
  reports() { return this.request('GET', '/admin/api/reports'); }

  // deleteDanmaku removes a danmaku from the store and every screen.
  deleteDanmaku(objectId, id) {
    return this.request('DELETE', `/danmu/item/${encodeURIComponent(objectId)}/${encodeURIComponent(id)}`);
  }
}

// rates turns two successive stats answers into per-second figures:
// accepted, filtered (refused, masked and shadowed) and dropped (cut by
// the tick cap or lost by slow viewers). It returns null when the two
// cannot be compared.
export function rates(prev, cur) {
  if (!prev || !cur) return null;
  const dt = (Number(cur.at) - Number(prev.at)) / 1000;
  if (!(dt > 0)) return null;
  const sends = (s, k) => Number((s.sends || {})[k] || 0);
  const filtered = (s) => sends(s, 'refused') + sends(s, 'masked') + sends(s, 'shadowed');
  const dropped = (s) => Number(s.droppedByCap || 0) + Number(s.droppedBatches || 0);
  const per = (a, b) => Math.max(0, a - b) / dt;
  return {
    accepted: per(sends(cur, 'accepted'), sends(prev, 'accepted')),
    filtered: per(filtered(cur), filtered(prev)),
    dropped: per(dropped(cur), dropped(prev)),
  };
}
