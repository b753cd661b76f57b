// api.js talks to danmakud: the HTTP API and the live WebSocket.

// ApiError is an error answered by the server: code and message from its
// JSON error body, and the HTTP status (0 for a network failure).
export class ApiError extends Error {
  constructor(status, code, message, field = '', retryAfterMs = 0) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
    this.retryAfterMs = retryAfterMs;
  }
}

// errorFrom reads an error object in either form the server uses:
// {"error":{"code","message",...}} or {"type":"error","code","message",...}.
export function errorFrom(body, status = 0) {
  const e = body && typeof body === 'object' ? (body.error && typeof body.error === 'object' ? body.error : body) : {};
  const retry = Number(e.retryAfterMs ?? e.retryAfter ?? 0);
  const msg = typeof e.message === 'string' ? e.message : `request failed (${status})`;
  const field = typeof e.field === 'string' ? e.field : '';
  return new ApiError(status, String(e.code || 'internal'), field && !msg.startsWith(field) ? `${field}: ${msg}` : msg, field, retry);
}

// Api calls the HTTP API at base ('' for the page's own origin). When it
// holds a token (setToken), every request carries it as "Authorization:
// Bearer …"; a 401 answer to a request made with that token calls
// onUnauthorized with the error before the request rejects.
export class Api {
  constructor(base = '') {
    this.base = base;
    this.token = '';
    this.onUnauthorized = null;
  }

  // setToken makes token ('' for none) the credential of later requests.
  setToken(token) {
    this.token = token || '';
  }

  // request fetches path. token is the credential to send, the Api's own
  // by default. Errors are ApiErrors whose withToken tells whether the
  // request carried a token.
  async request(path, init = {}, token = this.token) {
    const headers = new Headers(init.headers || {});
    if (token) headers.set('Authorization', `Bearer ${token}`);
    let res;
    try {
      res = await fetch(this.base + path, { credentials: 'same-origin', ...init, headers });
    } catch (err) {
      throw new ApiError(0, 'unavailable', `network error: ${err.message}`);
    }
    let body = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    if (!res.ok) {
      const err = errorFrom(body, res.status);
      err.withToken = token !== '';
      if (res.status === 401 && token && token === this.token && this.onUnauthorized) this.onUnauthorized(err);
      throw err;
    }
    return body;
  }

  // me returns who the server says the viewer is: {userId, role, rooms,
  // anonymous}. In anonymous mode the first call without a token also sets
  // the viewer's signed cookie, which later requests and the WebSocket
  // carry. token, when given, is checked instead of the Api's own.
  me(token = this.token) {
    return this.request('/danmu/me', { cache: 'no-store' }, token);
  }

  // roomState returns the room part of a welcome ({objectId, tickMs,
  // maxPerTick, viewers, seq, live}) read from the room's event stream,
  // which it then closes.
  async roomState(objectId, timeoutMs = 10000) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), timeoutMs);
    try {
      let res;
      try {
        const headers = { Accept: 'text/event-stream' };
        if (this.token) headers.Authorization = `Bearer ${this.token}`;
        res = await fetch(`${this.base}/danmu/stream/${encodeURIComponent(objectId)}`, {
          credentials: 'same-origin', cache: 'no-store', signal: ctl.signal, headers,
        });
      } catch (err) {
        throw new ApiError(0, 'unavailable', `network error: ${err.message}`);
      }
      if (!res.ok || !res.body) throw new ApiError(res.status, 'unavailable', `room state: status ${res.status}`);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) throw new ApiError(0, 'unavailable', 'room state: the stream ended before its welcome');
        buf += value.replace(/\r\n/g, '\n');
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const ev = parseEvent(buf.slice(0, i));
          buf = buf.slice(i + 2);
          if (ev.event === 'welcome') return JSON.parse(ev.data).room || {};
        }
        if (buf.length > 4 << 20) throw new ApiError(0, 'invalid', 'room state: welcome too large');
      }
    } finally {
      clearTimeout(timer);
      ctl.abort();
    }
  }

  // send stores a danmaku and returns it as stored.
  send(body) {
    return this.request('/danmu/send', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  // report tells the moderators about the danmaku id of objectId, with a
  // reason; the server takes the reporter from the credential.
  report(objectId, id, reason) {
    return this.request('/danmu/report', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ objectId, id, reason }),
    });
  }

  // queryByTime returns {data, cursor}: danmaku from playback time t on.
  // With opts.session, only those of that live session (a replay).
  queryByTime(objectId, t, size, opts = {}) {
    const q = new URLSearchParams({ playingTime: String(Math.max(0, Math.floor(t * 1000) / 1000)), size: String(size) });
    if (opts.session) q.set('session', opts.session);
    return this.request(`/danmu/queryByTime/${encodeURIComponent(objectId)}?${q}`);
  }

  // pull continues a listing from cursor, in opts.session when set.
  pull(objectId, cursor, size, opts = {}) {
    const q = new URLSearchParams({ cursor, size: String(size) });
    if (opts.session) q.set('session', opts.session);
    return this.request(`/danmu/pull/${encodeURIComponent(objectId)}?${q}`);
  }

  // heatmap returns {bucketMs, counts} for a video of duration seconds, of
  // opts.session's danmaku when set.
  heatmap(objectId, buckets, duration, opts = {}) {
    const q = new URLSearchParams({ buckets: String(buckets), duration: String(Math.ceil(duration)) });
    if (opts.session) q.set('session', opts.session);
    return this.request(`/danmu/heatmap/${encodeURIComponent(objectId)}?${q}`);
  }

  // sessions returns {objectId, sessions}: the video's live sessions,
  // newest first ({id, startedAt, endedAt, recordingUrl}).
  sessions(objectId) {
    return this.request(`/danmu/sessions/${encodeURIComponent(objectId)}`, { cache: 'no-store' });
  }
}

// parseEvent reads one Server-Sent Event block into {event, data}.
export function parseEvent(block) {
  let event = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    let value = i < 0 ? '' : line.slice(i + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  return { event, data: data.join('\n') };
}

// LiveSocket keeps a WebSocket to a room open, reconnecting with backoff.
// It calls onMessage with every parsed message and onState with 'open' or
// 'closed'. token, a function, gives the credential of each connection
// ('' for none): browsers cannot put headers on a WebSocket, so it goes in
// the "token" query parameter, which the server reads on upgrades.
// onRefused is called when a connection closes without having opened, as
// one whose token the server refuses does.
//
// Every reconnection resumes: it sends the epoch and seq of the last batch
// received (since, epoch), so that the welcome carries exactly the batches
// missed ("recovered": true) when the server still has them. Batches and
// items already handed to onMessage are left out, so that a danmaku never
// shows twice.
export class LiveSocket {
  constructor(objectId, { onMessage, onState, onRefused, token }) {
    this.objectId = objectId;
    this.onMessage = onMessage;
    this.onState = onState || (() => {});
    this.onRefused = onRefused || (() => {});
    this.token = token || (() => '');
    this.ws = null;
    this.closed = false;
    this.backoff = 500;
    this.timer = 0;
    this.refs = new Map();
    this.nextRef = 1;
    this.epoch = ''; // The room's history epoch, from the last welcome.
    this.seq = 0; // The last batch received.
    this.seen = new Set(); // Recent item ids, oldest first.
    this.connect();
  }

  connect() {
    if (this.closed) return;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const token = this.token();
    const params = new URLSearchParams();
    if (token) params.set('token', token);
    if (this.epoch) {
      params.set('since', String(this.seq));
      params.set('epoch', this.epoch);
    }
    const q = params.size > 0 ? `?${params}` : '';
    const ws = new WebSocket(`${proto}//${location.host}/danmu/ws/${encodeURIComponent(this.objectId)}${q}`);
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      opened = true;
      this.backoff = 500;
      this.onState('open');
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (msg && (msg.type === 'ack' || msg.type === 'error') && msg.ref && this.refs.has(msg.ref)) {
        const { resolve, reject } = this.refs.get(msg.ref);
        this.refs.delete(msg.ref);
        if (msg.type === 'ack') resolve(msg.danmaku);
        else reject(errorFrom(msg));
        return;
      }
      if (msg && msg.type === 'welcome') this.welcome(msg);
      else if (msg && msg.type === 'batch' && !this.fresh(msg)) return;
      this.onMessage(msg);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return; // Replaced by reconnect.
      this.dropped();
      if (this.closed) return;
      if (!opened) this.onRefused();
      this.timer = setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 15000);
    };
  }

  // welcome keeps, of a welcome's batches, those not received before, and
  // remembers where the room is for the next resume.
  welcome(msg) {
    const room = msg.room || {};
    if (room.epoch !== this.epoch) this.seq = 0; // Another history: seqs start over.
    msg.batches = (Array.isArray(msg.batches) ? msg.batches : []).filter((b) => this.fresh(b));
    this.epoch = typeof room.epoch === 'string' ? room.epoch : '';
    // The room's seq, even below this.seq: a server that crashed may have
    // lost its last batch's history and made that seq again.
    this.seq = Number(room.seq) || 0;
  }

  // fresh reports whether batch b is new, and drops from it the items
  // received before (a room whose history was lost may send them again).
  fresh(b) {
    const seq = Number(b.seq) || 0;
    if (seq <= this.seq) return false;
    this.seq = seq;
    const items = Array.isArray(b.items) ? b.items : [];
    b.items = items.filter((d) => {
      const id = String(d && d.id);
      if (this.seen.has(id)) return false;
      this.seen.add(id);
      if (this.seen.size > 5000) this.seen.delete(this.seen.values().next().value);
      return true;
    });
    return true;
  }

  // dropped reports the connection closed and fails the sends in flight.
  dropped() {
    this.onState('closed');
    for (const { reject } of this.refs.values()) reject(new ApiError(0, 'unavailable', 'connection closed'));
    this.refs.clear();
  }

  // reconnect replaces the connection at once, for a changed credential.
  reconnect() {
    if (this.closed) return;
    clearTimeout(this.timer);
    const old = this.ws;
    this.ws = null;
    if (old) {
      old.close();
      this.dropped();
    }
    this.backoff = 500;
    this.connect();
  }

  // send sends a danmaku over the socket and resolves with the stored one.
  send(content) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new ApiError(0, 'unavailable', 'not connected'));
    }
    const ref = `r${this.nextRef++}`;
    return new Promise((resolve, reject) => {
      this.refs.set(ref, { resolve, reject });
      this.ws.send(JSON.stringify({ type: 'send', ref, content }));
    });
  }

  close() {
    this.closed = true;
    if (this.ws) this.ws.close();
  }
}
