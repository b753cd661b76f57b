// danmaku.js is the JavaScript client of danmakud: an ES module with no
// dependencies. It keeps one live WebSocket to a room (reconnecting with
// backoff), hands each batch to the page once, sends danmaku, and reads the
// stored history, the heatmap and the room's state; it also reports danmaku
// to the moderators and keeps the viewer's sign-in token. danmakud's own
// player is built on it. mount puts that player on another page; the
// dplayerDanmaku and artplayerDanmaku adapters give a DPlayer or ArtPlayer
// page live danmakud danmaku. See docs/sdk.md.
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
// the WebSocket. A message about a field starts with the field's name.
export function errorFrom(body, status = 0) {
  let e = {};
  if (body && typeof body === 'object') e = body.error && typeof body.error === 'object' ? body.error : body;
  const field = typeof e.field === 'string' ? e.field : '';
  let message = typeof e.message === 'string' ? e.message : `request failed (status ${status})`;
  if (field && !message.startsWith(field)) message = `${field}: ${message}`;
  return new DanmakuError(typeof e.code === 'string' ? e.code : 'internal', message, {
    status,
    field,
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

// batchItems returns the items of a batch message in the seed's shape
// ({id, objectId, userId, ownerId, content, createdAt, count?}), whether
// the batch is compact (v 2: see docs/protocol.md, "Batch shapes") or
// not; a live batch and a welcome's batches alike. It is the one place
// that reads a batch's items. Items that are not objects are left out.
export function batchItems(b, objectId) {
  const items = Array.isArray(b && b.items) ? b.items.filter((d) => d && typeof d === 'object') : [];
  if (!b || Number(b.v) !== 2) return items;
  const at = Number(b.at) || 0;
  const pad = (n, w) => String(n).padStart(w, '0');
  return items.map((d) => {
    const createdAt = at + (Number(d.d) || 0);
    const ms = Number(d.ms) || 0;
    let id = d.id;
    if (id === undefined) {
      const tail = pad(createdAt + (Number(d.k) || 0), 13) + pad(Number(d.q) || 0, 4) + pad(d.n ?? b.node ?? 0, 5);
      id = ms > 0 ? String(ms) + tail : (tail.replace(/^0+/, '') || '0');
    }
    const out = {
      id: String(id),
      objectId,
      userId: d.u ?? '', // Compact batches name signed-in senders only.
      ownerId: d.o ?? '',
      content: { text: String(d.t ?? ''), color: d.c ?? '#ffffff', size: `${d.s ?? 25}px`, position: d.p ?? 1, time: ms / 1000 },
      createdAt,
    };
    if (d.se !== undefined) out.session = d.se;
    if (d.x !== undefined) out.count = d.x;
    if (d.src !== undefined) out.source = d.src;
    return out;
  });
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

// connect opens a live connection to objectId's room on the server at
// baseUrl ('' for the page's own origin) and returns its Client.
//
// Options (all optional):
//   onBatch(batch, info) a batch {seq, at, items} not seen before; items
//                        carry mine: true when this client or its user
//                        sent them. info is {welcome, recovered, last}:
//                        welcome is true for the batches a welcome carries,
//                        recovered when those are the batches missed since
//                        the last connection, last for the welcome's last
//   onWelcome(welcome)   the first message of every connection {room,
//                        recovered, batches}; it resumes after the last
//                        batch received (see docs/protocol.md, "Resume")
//   onDelete(ids)        danmaku to take off the screen
//   onLive(session)      a live session started ({objectId, startedAt}) or
//                        ended (null)
//   onDropped(info)      {count, next}: batches this client missed
//   onError(err)         a DanmakuError not tied to a send
//   onStatus(status, detail)  'connecting' | 'open' | 'reconnecting' | 'closed'
//   onUnauthorized(err)  the server refused the client's token (401)
//   token                a user token (sent as ?token= on the socket and as
//                        Authorization: Bearer over HTTP); see setToken
//   userId               the sender named in HTTP sends, for servers that
//                        trust the body (no anonymous ids, no tokens)
//   credentials          fetch credentials mode (default 'include', so the
//                        server's anonymous-id cookie is kept cross-origin)
//   sendTimeoutMs        how long a send waits for its ack (default 10000)
//   minBackoffMs, maxBackoffMs   reconnect delays (default 500 and 30000)
//   start                false to connect only when start() is called; the
//                        HTTP calls work before
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
    this.token = typeof options.token === 'string' ? options.token : '';
    this.userId = '';
    this.identity = null; // {token, me}: the last /danmu/me answer and the token it was for.
    this.lastSeq = 0;
    this.epoch = ''; // The room's history epoch, from the last welcome.
    this.status = 'connecting';
    this.ws = null;
    this.closed = false;
    this.started = false;
    this.gen = 0; // Counts starts: a later one makes an earlier one's steps moot.
    this.attempt = 0;
    this.timer = null;
    this.nextRef = 1;
    this.pending = new Map(); // ref -> {resolve, reject, timer}
    this.seen = new Map(); // Recent item ids, oldest first.
    this.sent = new Set(); // Ids of danmaku this client sent.
    this.ready = new Promise((resolve) => { this.resolveReady = resolve; });
    if (options.start !== false) this.start();
  }

  // start connects the client: connect calls it unless the start option is
  // false. Later calls do nothing.
  start() {
    if (this.started || this.closed) return;
    this.started = true;
    this.restart();
  }

  // restart asks the server who this browser is, unless it already knows
  // for the current token (in anonymous mode the question sets the cookie
  // the socket then carries), then opens the socket.
  async restart() {
    const gen = ++this.gen;
    if (!this.identity || this.identity.token !== this.token) {
      try {
        await this.me();
      } catch (err) {
        this.emitError(err);
      }
    }
    if (gen === this.gen) this.open();
  }

  // me resolves with who the server says the viewer is ({userId, role,
  // rooms, anonymous}), asking with token (the client's own by default).
  // An answer for the client's own token sets userId; the client keeps the
  // last answer, so that a page that asked (or checked a token before
  // setToken) does not make start ask again.
  async me(token = this.token) {
    const answer = await this.request('danmu/me', { cache: 'no-store' }, token);
    const who = answer && typeof answer === 'object' ? answer : {};
    this.identity = { token, me: who };
    if (token === this.token) this.userId = typeof who.userId === 'string' ? who.userId : '';
    return who;
  }

  // setToken makes token ('' for none) the credential of later requests
  // and, when the client has started, replaces the live connection at once
  // (sends in flight are rejected).
  setToken(token) {
    const t = typeof token === 'string' ? token : '';
    if (t === this.token) return;
    this.token = t;
    const known = this.identity && this.identity.token === t;
    this.userId = known && typeof this.identity.me.userId === 'string' ? this.identity.me.userId : '';
    if (!this.started || this.closed) return;
    clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    this.failPending();
    if (ws) ws.close(1000, 'the token changed');
    this.attempt = 0;
    this.restart();
  }

  // open starts one WebSocket connection.
  open() {
    if (this.closed) return;
    const gen = this.gen;
    this.setStatus(this.attempt === 0 ? 'connecting' : 'reconnecting', { attempt: this.attempt });
    const url = this.socketURL();
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    if (this.epoch) {
      // Resume: the welcome carries exactly the batches missed since.
      url.searchParams.set('since', String(this.lastSeq));
      url.searchParams.set('epoch', this.epoch);
    }
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (err) {
      this.emitError(new DanmakuError('unavailable', `websocket: ${err.message}`));
      this.retry(0, '');
      return;
    }
    this.ws = ws;
    this.welcomed = false;
    ws.onmessage = (ev) => {
      if (this.ws === ws) this.receive(ev.data);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.failPending();
      if (this.welcomed) {
        this.retry(ev.code, ev.reason);
        return;
      }
      // The socket never opened: a browser does not tell why, so ask the
      // server before trying again.
      this.diagnose().then((refusal) => {
        if (gen !== this.gen) return; // Started again meanwhile.
        if (refusal) this.refuse(refusal);
        else this.retry(ev.code, ev.reason);
      });
    };
  }

  // socketURL returns the room's WebSocket URL (with the http scheme) and
  // the token.
  socketURL() {
    const url = new URL(`danmu/ws/${encodeURIComponent(this.objectId)}`, this.base);
    if (this.token) url.searchParams.set('token', this.token);
    url.searchParams.set('v', '2'); // Compact batches; see batchItems.
    return url;
  }

  // diagnose resolves with a DanmakuError when the server refuses this
  // page for good (its origin is not allowed: 403, or CORS refused while
  // the server answers), and with null when trying again may help. A
  // refused token (401) goes to onUnauthorized, whose handler may change
  // it before the next try.
  async diagnose() {
    const token = this.token;
    const url = this.socketURL();
    let res;
    try {
      res = await fetch(url, { credentials: this.options.credentials ?? 'include', cache: 'no-store' });
    } catch {
      return (await reachable(url)) ? corsRefusal() : null;
    }
    if (res.status !== 403 && res.status !== 401) return null;
    let body = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    const err = errorFrom(body, res.status);
    if (res.status === 403) return err;
    if (token && token === this.token) this.call('onUnauthorized', err);
    return null;
  }

  // refuse stops the client for good after a refusal, and reports it.
  refuse(err) {
    this.closed = true;
    this.emitError(err);
    this.setStatus('closed', { code: 403, reason: err.message, error: err });
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
      this.emitError(new DanmakuError('invalid', 'the server sent a message that is not JSON'));
      return;
    }
    switch (msg && msg.type) {
      case 'welcome': this.welcome(msg); break;
      case 'batch': this.batch(msg); break;
      case 'delete':
        if (Array.isArray(msg.ids)) this.call('onDelete', msg.ids.map(String));
        break;
      case 'live': this.call('onLive', msg.live && typeof msg.live === 'object' ? msg.live : null); break;
      case 'dropped': this.call('onDropped', { count: Number(msg.count) || 0, next: Number(msg.next) || 0 }); break;
      case 'ack': this.answer(msg, null); break;
      case 'error':
        if (!this.answer(msg, errorFrom(msg, 0))) this.emitError(errorFrom(msg, 0));
        break;
      default: break; // 'pong' and messages of later versions.
    }
  }

  // welcome starts a connection and hands over the batches it carries
  // (those missed since the last connection when it resumed, "recovered"),
  // minus the items this client has delivered already. Items are matched
  // by id as well as by sequence number, since seq starts over when the
  // room's history epoch changes.
  welcome(msg) {
    const room = msg.room || {};
    const seq = Number(room.seq) || 0;
    if (room.epoch !== this.epoch) this.lastSeq = 0;
    this.epoch = typeof room.epoch === 'string' ? room.epoch : '';
    this.attempt = 0;
    this.welcomed = true;
    this.setStatus('open', { room });
    this.call('onWelcome', msg);
    const batches = Array.isArray(msg.batches) ? msg.batches : [];
    const first = batches.find((b) => Number(b.seq) > this.lastSeq);
    if (this.lastSeq > 0 && seq >= this.lastSeq && first && Number(first.seq) > this.lastSeq + 1) {
      this.call('onDropped', { count: Number(first.seq) - this.lastSeq - 1, next: Number(first.seq) });
    }
    const fresh = batches.map((b) => this.fresh(b)).filter((b) => b !== null);
    const recovered = msg.recovered === true;
    fresh.forEach((b, i) => this.call('onBatch', b, { welcome: true, recovered, last: i === fresh.length - 1 }));
    this.lastSeq = seq;
    this.resolveReady(this);
  }

  // batch handles a live batch: one at or below the last sequence number
  // seen on this connection is a repeat.
  batch(msg) {
    const seq = Number(msg.seq) || 0;
    if (seq <= this.lastSeq) return;
    this.lastSeq = seq;
    const b = this.fresh(msg);
    if (b) this.call('onBatch', b, { welcome: false, recovered: false, last: false });
  }

  // fresh returns batch msg with only the items not delivered before, each
  // marked mine or not, or null when none is left.
  fresh(msg) {
    const items = [];
    for (const d of batchItems(msg, this.objectId)) {
      const id = String(d.id);
      if (this.seen.has(id)) continue;
      this.remember(id);
      d.mine = this.sent.has(id) || (this.userId !== '' && d.userId === this.userId);
      items.push(d);
    }
    return items.length > 0 ? { ...msg, items } : null;
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

  // report tells the moderators about the room's danmaku id, with a reason
  // ('spam', 'abuse', ...); the server takes the reporter from the
  // credential and limits how often a viewer reports.
  report(id, reason) {
    return this.request('danmu/report', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ objectId: this.objectId, id: String(id), reason }),
    });
  }

  // queryByTime resolves with {data, cursor}: stored danmaku from playback
  // time seconds on, in playback order. cursor is '-1' on the last page.
  // query holds further query parameters of the read, if any.
  queryByTime(seconds = 0, size = 20, query = {}) {
    const t = Math.floor(Math.max(0, Number(seconds) || 0) * 1000) / 1000;
    return this.read('queryByTime', { ...query, playingTime: t, size });
  }

  // pull resolves with the page after cursor, as queryByTime does.
  pull(cursor, size = 20, query = {}) {
    return this.read('pull', { ...query, cursor, size });
  }

  // heatmap resolves with {bucketMs, counts}: how many danmaku fall in each
  // of buckets equal parts of a video of duration seconds.
  heatmap(buckets, duration, query = {}) {
    return this.read('heatmap', { ...query, buckets, duration: Math.ceil(Number(duration) || 0) });
  }

  // sessions resolves with {objectId, sessions}: the room's live sessions,
  // newest first ({id, startedAt, endedAt, recordingUrl}); pass an id as
  // query.session to queryByTime, pull or heatmap to read one of them.
  sessions() {
    return this.request(`danmu/sessions/${encodeURIComponent(this.objectId)}`, { cache: 'no-store' });
  }

  // read calls GET /danmu/{route}/{objectId} with the query parameters of
  // params that are not undefined, null or ''.
  read(route, params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    return this.request(`danmu/${route}/${encodeURIComponent(this.objectId)}?${q}`);
  }

  // roomState resolves with the room part of a welcome ({objectId, tickMs,
  // maxPerTick, viewers, seq, epoch, live}), read from the room's event
  // stream, which it then closes. It is for a page that wants to look
  // again without its own socket's welcome.
  async roomState(timeoutMs = 10000) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), timeoutMs);
    const url = new URL(`danmu/stream/${encodeURIComponent(this.objectId)}`, this.base);
    const headers = { Accept: 'text/event-stream' };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    try {
      let res;
      try {
        res = await fetch(url, { credentials: this.options.credentials ?? 'include', cache: 'no-store', signal: ctl.signal, headers });
      } catch (err) {
        throw new DanmakuError('unavailable', `network error: ${err.message}`);
      }
      if (!res.ok || !res.body) throw new DanmakuError('unavailable', `room state: status ${res.status}`, { status: res.status });
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) throw new DanmakuError('unavailable', 'room state: the stream ended before its welcome');
        buf += value.replace(/\r\n/g, '\n');
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const ev = parseEvent(buf.slice(0, i));
          buf = buf.slice(i + 2);
          if (ev.event === 'welcome') return JSON.parse(ev.data).room || {};
        }
        if (buf.length > 4 << 20) throw new DanmakuError('invalid', 'room state: the welcome is too large');
      }
    } finally {
      clearTimeout(timer);
      ctl.abort();
    }
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

  // request calls the HTTP API at path (relative to the base URL) with
  // token (the client's own by default) and resolves with the decoded JSON
  // body. A 401 answer to a request with the client's own token calls
  // onUnauthorized before the request rejects.
  async request(path, init = {}, token = this.token) {
    const headers = { ...(init.headers || {}) };
    if (token) headers.Authorization = `Bearer ${token}`;
    const url = new URL(path, this.base);
    let res;
    try {
      res = await fetch(url, { credentials: this.options.credentials ?? 'include', ...init, headers });
    } catch (err) {
      if (url.origin !== globalThis.location?.origin && await reachable(url)) throw corsRefusal();
      throw new DanmakuError('unavailable', `network error: ${err.message}`);
    }
    let body = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    if (!res.ok) {
      const err = errorFrom(body, res.status);
      if (res.status === 401 && token && token === this.token) this.call('onUnauthorized', err);
      throw err;
    }
    return body;
  }

  setStatus(status, detail) {
    if (this.status === 'closed' && status !== 'closed') return;
    this.status = status;
    this.call('onStatus', status, detail);
  }

  // emitError hands err to onError.
  emitError(err) {
    this.call('onError', err instanceof DanmakuError ? err : new DanmakuError('internal', String(err && err.message ? err.message : err)));
  }

  // call runs a handler; a handler that throws does not stop the client.
  call(name, ...args) {
    const f = this.options[name];
    if (typeof f !== 'function') return;
    try {
      f(...args);
    } catch (err) {
      if (name !== 'onError') this.emitError(err);
      else setTimeout(() => { throw err; });
    }
  }
}

// reachable tells whether the server at url answers at all: an opaque
// (no-cors) request succeeds even when CORS would hide the answer.
async function reachable(url) {
  try {
    await fetch(url, { mode: 'no-cors', cache: 'no-store' });
    return true;
  } catch {
    return false;
  }
}

// corsRefusal is the error of a server that answers but does not let this
// page's origin read its answers.
function corsRefusal() {
  const origin = globalThis.location?.origin ?? 'this page';
  return new DanmakuError('forbidden', `the danmakud server does not allow pages of ${origin}: ` +
    'its operator must add this origin to the -cors-origins setting (and to -origins for the live connection)', { status: 403 });
}

// resolveBase returns the server's origin and path prefix as a URL that
// ends with '/', resolving '' and relative URLs against the page.
function resolveBase(baseUrl) {
  const here = typeof location !== 'undefined' ? location.href : undefined;
  const u = new URL(baseUrl || '/', here);
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return u;
}

// mount puts danmakud's player for objectId into element, as an iframe of
// the server's /embed/ page, and returns {iframe, destroy()}. The server
// must list this page's origin in -frame-ancestors.
//
// Options: src (the video's http or https URL; empty shows the demo
// timeline), baseUrl (the server, '' for this page's origin), title (the
// iframe's accessible name).
export function mount(element, { src = '', objectId, baseUrl = '', title = 'danmaku player' } = {}) {
  if (!element || typeof element.appendChild !== 'function') throw new TypeError('mount needs an element');
  if (typeof objectId !== 'string' || !OBJECT_ID.test(objectId)) {
    throw new TypeError('objectId must be 1-128 letters, digits or _-.:');
  }
  const url = new URL(`embed/${encodeURIComponent(objectId)}`, resolveBase(baseUrl));
  if (src) {
    const video = new URL(src, typeof location !== 'undefined' ? location.href : undefined);
    if (video.protocol !== 'http:' && video.protocol !== 'https:') throw new TypeError('src must be an http or https URL');
    url.searchParams.set('src', video.href);
  }
  const iframe = document.createElement('iframe');
  iframe.src = url.href;
  iframe.title = title;
  iframe.allow = 'fullscreen; autoplay';
  iframe.allowFullscreen = true;
  iframe.style.cssText = 'border:0;width:100%;aspect-ratio:16/9;display:block';
  element.appendChild(iframe);
  return { iframe, destroy: () => iframe.remove() };
}

// colorString returns a danmaku's colour as "#rrggbb".
function colorString(c) {
  if (typeof c === 'string' && /^#[0-9a-fA-F]{6}$/.test(c)) return c.toLowerCase();
  const n = Number(c);
  return Number.isFinite(n) ? `#${(n & 0xffffff).toString(16).padStart(6, '0')}` : '#ffffff';
}

// escapeHTML returns text with the characters HTML gives meaning to
// escaped.
function escapeHTML(text) {
  const map = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  return String(text).replace(/[&<>"']/g, (c) => map[c]);
}

// recentSends remembers the texts a player sent itself for a few seconds,
// so that their live copies are not drawn a second time.
function recentSends(windowMs = 10000) {
  const sent = [];
  return {
    add(text) { sent.push({ text: String(text), at: Date.now() }); },
    // take reports whether text was sent here recently, forgetting it.
    take(text) {
      const now = Date.now();
      while (sent.length > 0 && now - sent[0].at > windowMs) sent.shift();
      const i = sent.findIndex((s) => s.text === text);
      if (i < 0) return false;
      sent.splice(i, 1);
      return true;
    },
  };
}

// dplayerDanmaku connects a DPlayer to a danmakud room. DPlayer loads the
// stored danmaku and sends through danmakud's DPlayer API (give it
// .api as danmaku.api); attach(dp) draws the room's live danmaku from
// other viewers as they arrive. close() ends the live connection.
//
//   const dm = dplayerDanmaku('https://danmaku.example', 'video-1');
//   const dp = new DPlayer({ container, video: { url }, danmaku: { id: 'video-1', api: dm.api } });
//   dm.attach(dp);
export function dplayerDanmaku(baseUrl, objectId, options = {}) {
  const api = new URL('dplayer/', resolveBase(baseUrl)).href;
  const mine = recentSends();
  let room = null;
  const types = { 4: 2, 5: 1 }; // DPlayer's types: 0 scroll, 1 top, 2 bottom.
  return {
    api,
    attach(dp) {
      dp.on('danmaku_send', (d) => mine.add(d && d.text));
      room = connect(baseUrl, objectId, {
        ...options,
        onBatch: (b, info) => {
          for (const d of b.items) {
            const c = d.content || {};
            if (d.mine || mine.take(c.text)) continue;
            // DPlayer puts the text into innerHTML: it must be escaped.
            dp.danmaku.draw({ text: escapeHTML(c.text), color: parseInt(colorString(c.color).slice(1), 16), type: types[c.position] ?? 0 });
          }
          if (options.onBatch) options.onBatch(b, info);
        },
      });
      return room;
    },
    get room() { return room; },
    close() { if (room) room.close(); },
  };
}

// artplayerDanmaku connects ArtPlayer's danmaku plugin
// (artplayer-plugin-danmuku) to a danmakud room: .danmuku loads the stored
// danmaku, .beforeEmit stores what the viewer sends, and attach(art) emits
// the room's live danmaku from other viewers as they arrive. close() ends
// the live connection. maxHistory (default 5000) bounds the danmaku loaded.
//
//   const dm = artplayerDanmaku('https://danmaku.example', 'video-1');
//   const art = new Artplayer({ container, url, plugins: [
//     artplayerPluginDanmuku({ danmuku: dm.danmuku, beforeEmit: dm.beforeEmit })] });
//   dm.attach(art);
export function artplayerDanmaku(baseUrl, objectId, options = {}) {
  const modes = { 4: 2, 5: 1 };
  const positions = { 1: 5, 2: 4 };
  const maxHistory = options.maxHistory ?? 5000;
  const room = connect(baseUrl, objectId, {
    ...options,
    onBatch: (b, info) => {
      const plugin = art && art.plugins && art.plugins.artplayerPluginDanmuku;
      for (const d of b.items) {
        const c = d.content || {};
        if (d.mine || !plugin) continue;
        plugin.emit({ text: String(c.text), color: colorString(c.color), mode: modes[c.position] ?? 0 });
      }
      if (options.onBatch) options.onBatch(b, info);
    },
  });
  let art = null;
  return {
    room,
    // danmuku resolves with the stored danmaku in the plugin's shape.
    danmuku: async () => {
      const out = [];
      let page = await room.queryByTime(0, 100);
      for (;;) {
        for (const d of page.data || []) {
          const c = d.content || {};
          out.push({ text: String(c.text), time: Number(c.time) || 0, color: colorString(c.color), mode: modes[c.position] ?? 0 });
        }
        if (page.cursor === '-1' || out.length >= maxHistory) return out.slice(0, maxHistory);
        page = await room.pull(page.cursor, 100);
      }
    },
    // beforeEmit stores the viewer's danmaku; the plugin shows it when the
    // server took it.
    beforeEmit: async (d) => {
      try {
        await room.send({ text: d.text, color: colorString(d.color), position: positions[d.mode] ?? 1, time: Number(d.time) || 0 });
        return true;
      } catch (err) {
        room.emitError(err);
        return false;
      }
    },
    attach(player) { art = player; return room; },
    close() { room.close(); },
  };
}
