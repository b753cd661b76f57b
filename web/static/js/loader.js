// loader.js loads a video's danmaku by playback-time window: it keeps the
// next `ahead` seconds after the playhead on the renderer's timeline,
// paging with the API's cursor, and never asks for the whole history.

const PAGE = 100; // The API's largest page.
const MAX_PAGES = 20; // Pages per load; the rest follow on the next tick.

// WindowLoader fills a timeline for the room of client (an SDK Client).
// sink receives each page's danmaku as API objects; onError receives load
// failures. session, when set, is the live session whose danmaku alone it
// loads (a replay).
export class WindowLoader {
  constructor(client, { sink, onError, ahead = 60, low = 30, session = '' }) {
    this.client = client;
    this.session = session;
    this.sink = sink;
    this.onError = onError || (() => {});
    this.ahead = ahead;
    this.low = low;
    this.gen = 0;
    this.reset(0);
  }

  // reset forgets what was loaded and loads again from time t (a seek).
  reset(t) {
    this.gen++;
    this.from = t;
    this.cursor = null;
    this.loadedUntil = t;
    this.done = false;
    this.busy = false;
    this.retryAt = 0;
    this.requests = 0;
  }

  // tick starts a load when the playhead t comes within `low` seconds of
  // the end of what is loaded.
  tick(t) {
    if (this.busy || this.done || performance.now() < this.retryAt) return;
    if (this.loadedUntil >= t + this.low && this.cursor !== null) return;
    this.load(t);
  }

  async load(t) {
    const gen = this.gen;
    this.busy = true;
    const end = t + this.ahead;
    try {
      for (let page = 0; page < MAX_PAGES; page++) {
        this.requests++;
        const opts = { session: this.session };
        const res = this.cursor === null
          ? await this.client.queryByTime(this.from, PAGE, opts)
          : await this.client.pull(this.cursor, PAGE, opts);
        if (gen !== this.gen) return;
        const data = Array.isArray(res?.data) ? res.data : [];
        this.sink(data);
        const last = data.length ? Number(data[data.length - 1].content?.time) : NaN;
        if (Number.isFinite(last)) this.loadedUntil = Math.max(this.loadedUntil, last);
        // A session's page may be empty and still go on (the server
        // stopped reading the video's other danmaku): only "-1" ends it.
        const empty = data.length === 0 && !this.session;
        if (!res || typeof res.cursor !== 'string' || res.cursor === '-1' || empty) {
          this.done = true;
          this.loadedUntil = Infinity;
          return;
        }
        this.cursor = res.cursor;
        if (this.loadedUntil >= end) return;
      }
    } catch (err) {
      if (gen !== this.gen) return;
      this.retryAt = performance.now() + 5000;
      this.onError(err);
    } finally {
      if (gen === this.gen) this.busy = false;
    }
  }
}
