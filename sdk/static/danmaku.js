// danmaku.js is the JavaScript client of danmakud: an ES module with no
// dependencies. It keeps one live WebSocket to a room (reconnecting with
// backoff), hands each batch to the page once, sends danmaku and reads the
// stored history. See docs/sdk.md.
//
//   import { connect } from '/sdk/danmaku.js';
//   const room = connect('', 'video-1', { onBatch: (b) => console.log(b.items) });
//   await room.send('hello');

// OBJECT_ID is the form of an object id the server accepts.
const OBJECT_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

// SEEN_MAX bounds the ids remembered to drop repeated items.
const SEEN_MAX = 20000;

// DanmakuError is an error the server answered, or a network failure
// (status 0, code 'unavailable'). code is one of the API's error codes
// ('invalid', 'rate_limited', 'refused', ...); field names the request field
// at fault, if any; retryAfterMs is how long to wait before trying again.
export class DanmakuError extends Error {
  constructor(code, message, { status = 0, field = '', retryAfterMs = 0 } = {}) {
    super(message);
    this.name = 'DanmakuError';
    this.code = code;
    this.status = status;
    this.field = field;
    this.retryAfterMs = retryAfterMs;
  }
}

// errorFrom builds a DanmakuError from either error shape the server
// uses: {"error":{code,message,...}} over HTTP, {"type":"error",...} over
// the WebSocket.
function errorFrom(body, status) {
  let e = {};
  if (body && typeof body === 'object') e = body.error && typeof body.error === 'object' ? body.error : body;
  const message = typeof e.message === 'string' ? e.message : `request failed (status ${status})`;
  return new DanmakuError(typeof e.code === 'string' ? e.code : 'internal', message, {
    status,
    field: typeof e.field === 'string' ? e.field : '',
    retryAfterMs: Number(e.retryAfterMs ?? e.retryAfter ?? 0) || 0,
  });
}

// backoffDelay returns the wait before reconnect attempt n (1, 2, ...):
// exponential from minMs, capped at maxMs, with "equal jitter" (half fixed,
// half random) so that many clients dropped at once do not return at once.
export function backoffDelay(n, minMs = 500, maxMs = 30000, random = Math.random) {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(n - 1, 0), 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

// connect opens a live connection to objectId's room on the server at
// baseUrl ('' for the page's own origin) and returns its Client.
//
// Options (all optional):
//   onBatch(batch)       a batch {seq, at, items} not seen before; items
//                        carry mine: true when this client sent them
//   onWelcome(welcome)   the first message of every connection {room, batches}
//   onDelete(ids)        danmaku to take off the screen
//   onDropped(info)      {count, next}: batches this client missed
//   onError(err)         a DanmakuError not tied to a send
//   onStatus(status, detail)  'connecting' | 'open' | 'reconnecting' | 'closed'
//   token                a user token (sent as ?token= on the socket and as
//                        Authorization: Bearer over HTTP)
//   userId               the sender named in HTTP sends, for servers that
//                        trust the body (no anonymous ids, no tokens)
//   credentials          fetch credentials mode (default 'include', so the
//                        server's anonymous-id cookie is kept cross-origin)
//   sendTimeoutMs        how long a send waits for its ack (default 10000)
//   minBackoffMs, maxBackoffMs   reconnect delays (default 500 and 30000)
export function connect(baseUrl, objectId, options = {}) {
  return new Client(baseUrl, objectId, options);
}

// Client is one live connection to a room. Create it with connect.
export class Client {
  constructor(baseUrl, objectId, options = {}) {
    if (typeof objectId !== 'string' || !OBJECT_ID.test(objectId)) {
      throw new TypeError('objectId must be 1-128 letters, digits or _-.:');
    }
    this.objectId = objectId;
    this.options = options;
    this.base = resolveBase(baseUrl);
    this.userId = '';
    this.lastSeq = 0;
    this.status = 'connecting';
    this.ws = null;
    this.closed = false;
    this.attempt = 0;
    this.timer = null;
    this.nextRef = 1;
    this.pending = new Map(); // ref -> {resolve, reject, timer}
    this.seen = new Map(); // Recent item ids, oldest first.
    this.sent = new Set(); // Ids of danmaku this client sent.
    this.ready = new Promise((resolve) => { this.resolveReady = resolve; });
    this.start();
  }

  // start asks the server who this browser is (which, in anonymous mode,
  // sets the cookie the socket then carries), then opens the socket.
  async start() {
    try {
      const me = await this.request('danmu/me', { cache: 'no-store' });
      if (me && typeof me.userId === 'string') this.userId = me.userId;
    } catch (err) {
      this.report(err);
    }
    this.open();
  }

  // open starts one WebSocket connection.
  open() {
    if (this.closed) return;
    this.setStatus(this.attempt === 0 ? 'connecting' : 'reconnecting', { attempt: this.attempt });
    const url = new URL(`danmu/ws/${encodeURIComponent(this.objectId)}`, this.base);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    if (this.options.token) url.searchParams.set('token', this.options.token);
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (err) {
      this.report(new DanmakuError('unavailable', `websocket: ${err.message}`));
      this.retry(0, '');
      return;
    }
    this.ws = ws;
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.failPending();
      this.retry(ev.code, ev.reason);
    };
  }

  // retry schedules the next connection unless the client is closed.
  retry(code, reason) {
    if (this.closed) {
      this.setStatus('closed', { code, reason });
      return;
    }
    this.attempt++;
    const delayMs = backoffDelay(this.attempt, this.options.minBackoffMs ?? 500, this.options.maxBackoffMs ?? 30000);
    this.setStatus('reconnecting', { attempt: this.attempt, delayMs, code, reason });
    this.timer = setTimeout(() => {
      this.timer = null;
      this.open();
    }, delayMs);
  }

  // receive handles one server message.
  receive(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      this.report(new DanmakuError('invalid', 'the server sent a message that is not JSON'));
      return;
    }
    switch (msg && msg.type) {
      case 'welcome': this.welcome(msg); break;
      case 'batch': this.batch(msg); break;
      case 'delete':
        if (Array.isArray(msg.ids)) this.call('onDelete', msg.ids.map(String));
        break;
      case 'dropped': this.call('onDropped', { count: Number(msg.count) || 0, next: Number(msg.next) || 0 }); break;
      case 'ack': this.answer(msg, null); break;
      case 'error':
        if (!this.answer(msg, errorFrom(msg, 0))) this.report(errorFrom(msg, 0));
        break;
      default: break; // 'pong' and messages of later versions.
    }
  }

  // welcome starts a connection and hands over the recent batches it
  // carries, minus the items this client has delivered already. Items are
  // matched by id rather than by sequence number, since a server that
  // restarted numbers its batches from 1 again.
  welcome(msg) {
    const room = msg.room || {};
    const seq = Number(room.seq) || 0;
    this.attempt = 0;
    this.setStatus('open', { room });
    this.call('onWelcome', msg);
    const batches = Array.isArray(msg.batches) ? msg.batches : [];
    const first = batches.find((b) => Number(b.seq) > this.lastSeq);
    if (this.lastSeq > 0 && seq >= this.lastSeq && first && Number(first.seq) > this.lastSeq + 1) {
      this.call('onDropped', { count: Number(first.seq) - this.lastSeq - 1, next: Number(first.seq) });
    }
    for (const b of batches) this.deliver(b);
    this.lastSeq = seq;
    this.resolveReady(this);
  }

  // batch handles a live batch: one at or below the last sequence number
  // seen on this connection is a repeat.
  batch(b) {
    const seq = Number(b.seq) || 0;
    if (seq <= this.lastSeq) return;
    this.lastSeq = seq;
    this.deliver(b);
  }

  // deliver hands the items of b not delivered before to onBatch.
  deliver(b) {
    const items = [];
    for (const d of Array.isArray(b.items) ? b.items : []) {
      if (!d || typeof d !== 'object') continue;
      const id = String(d.id);
      if (this.seen.has(id)) continue;
      this.remember(id);
      d.mine = this.sent.has(id) || (this.userId !== '' && d.userId === this.userId);
      items.push(d);
    }
    if (items.length > 0) this.call('onBatch', { ...b, items });
  }

  remember(id) {
    this.seen.set(id, true);
    if (this.seen.size > SEEN_MAX) this.seen.delete(this.seen.keys().next().value);
  }

  // send stores a danmaku and resolves with it as stored. content is the
  // text, or {text, color, size, position, time}. It goes over the socket
  // when it is open, else by HTTP. It rejects with a DanmakuError.
  send(content) {
    if (this.closed) return Promise.reject(new DanmakuError('unavailable', 'the client is closed'));
    const c = typeof content === 'string' ? { text: content } : { ...content };
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || this.status !== 'open') return this.post(c);
    const ref = `c-${this.nextRef++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(new DanmakuError('unavailable', 'no answer from the server in time; the danmaku may have been stored'));
      }, this.options.sendTimeoutMs ?? 10000);
      this.pending.set(ref, { resolve, reject, timer });
      ws.send(JSON.stringify({ type: 'send', ref, content: c }));
    });
  }

  // post sends a danmaku by HTTP.
  async post(content) {
    const body = { objectId: this.objectId, content };
    if (this.options.userId) body.userId = this.options.userId;
    const d = await this.request('danmu/send', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (d && d.id !== undefined) this.sent.add(String(d.id));
    return d;
  }

  // answer settles the send with msg.ref; it reports whether there was one.
  answer(msg, err) {
    const p = typeof msg.ref === 'string' ? this.pending.get(msg.ref) : undefined;
    if (!p) return false;
    this.pending.delete(msg.ref);
    clearTimeout(p.timer);
    if (err) {
      p.reject(err);
    } else {
      if (msg.id !== undefined) this.sent.add(String(msg.id));
      p.resolve(msg.danmaku);
    }
    return true;
  }

  // failPending rejects the sends still waiting when a socket ends.
  failPending() {
    for (const [ref, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new DanmakuError('unavailable', 'the connection closed before the server answered; the danmaku may have been stored'));
      this.pending.delete(ref);
    }
  }

  // queryByTime resolves with {data, cursor}: stored danmaku from playback
  // time seconds on, in playback order. cursor is '-1' on the last page.
  queryByTime(seconds = 0, size = 20) {
    const q = new URLSearchParams({ playingTime: String(Math.max(0, Number(seconds) || 0)), size: String(size) });
    return this.request(`danmu/queryByTime/${encodeURIComponent(this.objectId)}?${q}`);
  }

  // pull resolves with the page after cursor, as queryByTime does.
  pull(cursor, size = 20) {
    const q = new URLSearchParams({ cursor: String(cursor), size: String(size) });
    return this.request(`danmu/pull/${encodeURIComponent(this.objectId)}?${q}`);
  }

  // close ends the connection for good; pending sends are rejected.
  close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    this.failPending();
    if (ws) ws.close(1000, 'client closed');
    this.setStatus('closed', { code: 1000, reason: 'client closed' });
  }

  // request calls the HTTP API at path (relative to the base URL) and
  // resolves with the decoded JSON body.
  async request(path, init = {}) {
    const headers = { ...(init.headers || {}) };
    if (this.options.token) headers.Authorization = `Bearer ${this.options.token}`;
    let res;
    try {
      res = await fetch(new URL(path, this.base), { credentials: this.options.credentials ?? 'include', ...init, headers });
    } catch (err) {
      throw new DanmakuError('unavailable', `network error: ${err.message}`);
    }
    let body = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    if (!res.ok) throw errorFrom(body, res.status);
    return body;
  }

  setStatus(status, detail) {
    if (this.status === 'closed' && status !== 'closed') return;
    this.status = status;
    this.call('onStatus', status, detail);
  }

  report(err) {
    this.call('onError', err instanceof DanmakuError ? err : new DanmakuError('internal', String(err && err.message ? err.message : err)));
  }

  // call runs a handler; a handler that throws does not stop the client.
  call(name, ...args) {
    const f = this.options[name];
    if (typeof f !== 'function') return;
    try {
      f(...args);
    } catch (err) {
      if (name !== 'onError') this.report(err);
      else setTimeout(() => { throw err; });
    }
  }
}

// resolveBase returns the server's origin and path prefix as a URL that
// ends with '/', resolving '' and relative URLs against the page.
function resolveBase(baseUrl) {
  const here = typeof location !== 'undefined' ? location.href : undefined;
  const u = new URL(baseUrl || '/', here);
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return u;
}
