// renderer.js draws danmaku on a canvas. Positions are computed from the
// playback clock, so danmaku pause with the video, follow its rate, and a
// seek clears the screen. Text is drawn with fillText into cached bitmaps
// (one per distinct label, font and colour), and each frame only copies
// those bitmaps: this keeps 1,000 danmaku on screen cheap.

// Danmaku modes, as in the API's content.position.
export const MODE_SCROLL = 1;
export const MODE_BOTTOM = 4;
export const MODE_TOP = 5;
export const MODE_REVERSE = 6;

const SCROLL_SECONDS = 8; // Media seconds to cross the screen at speed 1.
const FIXED_SECONDS = 4; // Media seconds a top or bottom danmaku stays.
const LATE_SECONDS = 2; // A danmaku due longer ago than this is skipped.
const GAP = 20; // Pixels between consecutive danmaku in a lane.
const PAD = 3; // Pixels around the text inside its bitmap.
const BASE_SIZE = 25; // The font size that one lane fits.
const MAX_LAYERS = 24; // Stacked layers when overlap is allowed.
const FONT_FAMILY = '"PingFang SC", "Microsoft YaHei", "WenQuanYi Zen Hei", "Noto Sans CJK SC", sans-serif';

// kindOf returns the lane group of a mode: scroll, reverse, top or bottom.
export function kindOf(mode) {
  switch (mode) {
    case MODE_BOTTOM: return 'bottom';
    case MODE_TOP: return 'top';
    case MODE_REVERSE: return 'reverse';
    default: return 'scroll';
  }
}

// labelOf returns what is drawn for an item: its text, and "×N" for a
// folded repeat.
export function labelOf(item) {
  return item.count > 1 ? `${item.text} ×${item.count}` : item.text;
}

// fromAPI converts a danmaku of the HTTP or WebSocket API into a renderer
// item. It returns null for something that is not a danmaku.
export function fromAPI(d) {
  if (!d || typeof d !== 'object' || !d.content || typeof d.content.text !== 'string') return null;
  const c = d.content;
  const size = parseInt(String(c.size ?? BASE_SIZE), 10);
  const time = Number(c.time);
  return {
    id: String(d.id ?? ''),
    text: c.text,
    color: /^#[0-9a-fA-F]{6}$/.test(c.color) ? c.color : '#ffffff',
    size: Number.isFinite(size) ? Math.min(64, Math.max(12, size)) : BASE_SIZE,
    mode: Number(c.position) || MODE_SCROLL,
    time: Number.isFinite(time) ? time : 0,
    userId: String(d.userId ?? ''),
    count: Number(d.count) > 1 ? Math.floor(Number(d.count)) : 1,
    mine: false,
  };
}

// BitmapCache keeps pre-rendered labels, least recently used first out.
class BitmapCache {
  constructor(limit) {
    this.limit = limit;
    this.map = new Map();
    this.measure = document.createElement('canvas').getContext('2d');
  }

  get(label, font, color, mine, dpr) {
    const key = `${font}|${color}|${mine ? 1 : 0}|${dpr}|${label}`;
    let bmp = this.map.get(key);
    if (bmp) {
      this.map.delete(key);
      this.map.set(key, bmp);
      return bmp;
    }
    bmp = this.render(label, font, color, mine, dpr);
    this.map.set(key, bmp);
    if (this.map.size > this.limit) this.map.delete(this.map.keys().next().value);
    return bmp;
  }

  render(label, font, color, mine, dpr) {
    this.measure.font = font;
    const px = parseFloat(font.match(/(\d+(?:\.\d+)?)px/)[1]);
    const w = Math.ceil(this.measure.measureText(label).width) + PAD * 2;
    const h = Math.ceil(px * 1.2) + PAD * 2;
    const canvas = document.createElement('canvas');
    canvas.width = Math.max(1, Math.ceil(w * dpr));
    canvas.height = Math.max(1, Math.ceil(h * dpr));
    const ctx = canvas.getContext('2d');
    ctx.scale(dpr, dpr);
    ctx.font = font;
    ctx.textBaseline = 'middle';
    ctx.lineJoin = 'round';
    ctx.lineWidth = Math.max(2, px / 10);
    ctx.strokeStyle = isDark(color) ? 'rgba(255,255,255,0.85)' : 'rgba(0,0,0,0.85)';
    ctx.strokeText(label, PAD, h / 2);
    ctx.fillStyle = color;
    ctx.fillText(label, PAD, h / 2);
    if (mine) {
      ctx.lineWidth = 2;
      ctx.strokeStyle = '#66ccff';
      ctx.strokeRect(1, 1, w - 2, h - 2);
    }
    return { canvas, w, h };
  }
}

function isDark(hex) {
  const n = parseInt(hex.slice(1), 16);
  const r = n >> 16, g = (n >> 8) & 255, b = n & 255;
  return 0.299 * r + 0.587 * g + 0.114 * b < 60;
}

// Renderer places danmaku in lanes and draws them. Call add to put loaded
// danmaku on its timeline, frame once per animation frame with the clock's
// time, and seek when the clock jumps.
export class Renderer {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.cache = new BitmapCache(2048);
    this.pending = []; // Not yet shown, sorted by time, from index head.
    this.head = 0;
    this.active = []; // On screen.
    this.known = new Set(); // Ids on the timeline or shown since the last seek.
    this.deleted = new Set(); // Ids withdrawn by the server.
    this.lanes = { scroll: [], reverse: [], top: [], bottom: [] };
    this.settings = { enabled: true, opacity: 1, speed: 1, fontScale: 1, area: 1, density: 0, overlap: false };
    this.filter = () => false;
    this.width = 0;
    this.height = 0;
    this.dpr = 1;
    this.now = 0;
    this.dirty = true;
    this.counts = { shown: 0, blocked: 0, dropped: 0, late: 0 };
    this.resize();
  }

  // configure applies viewer settings and a block filter (item → true to
  // hide). Items already on screen that the filter now blocks disappear.
  configure(settings, filter) {
    const relayout = settings.fontScale !== this.settings.fontScale || settings.area !== this.settings.area;
    this.settings = { ...this.settings, ...settings };
    if (filter) this.filter = filter;
    this.canvas.style.opacity = String(this.settings.opacity);
    this.active = this.active.filter((it) => it.mine || !this.filter(it));
    if (relayout || !this.settings.enabled) this.clearScreen();
    this.dirty = true;
  }

  // resize matches the canvas to its displayed size.
  resize() {
    const rect = this.canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(rect.width));
    const h = Math.max(1, Math.round(rect.height));
    if (w === this.width && h === this.height && dpr === this.dpr) return;
    this.width = w;
    this.height = h;
    this.dpr = dpr;
    this.canvas.width = Math.round(w * dpr);
    this.canvas.height = Math.round(h * dpr);
    this.relayout();
  }

  // relayout puts the danmaku on screen into lanes again after the canvas
  // changed size (a resize, or entering or leaving fullscreen): oldest
  // first, each in the first lane where it touches nothing at the new size
  // from now until it leaves. A danmaku that no longer fits leaves the
  // screen, except the viewer's own, which stays at the top.
  relayout() {
    const now = this.now;
    const items = this.active.filter((it) => now - it.start < this.duration(it)).sort((a, b) => a.start - b.start);
    this.lanes = { scroll: [], reverse: [], top: [], bottom: [] };
    this.active = [];
    for (const it of items) {
      if (!this.allocate(it, now)) {
        if (!it.mine) { this.counts.dropped++; continue; }
        it.y = 0;
      }
      this.active.push(it);
    }
    this.dirty = true;
  }

  // add puts items on the timeline; each shows when the clock reaches its
  // time. Items already known (by id) are ignored. It returns how many
  // were added.
  add(items) {
    let n = 0;
    for (const it of items) {
      if (!it || (it.id && (this.known.has(it.id) || this.deleted.has(it.id)))) continue;
      if (it.id) this.known.add(it.id);
      this.insert(it);
      n++;
    }
    return n;
  }

  // showAt puts one item on the timeline at time t (the clock's time),
  // whatever its own time is: for pushed and local danmaku.
  showAt(item, t) {
    if (item.id && (this.known.has(item.id) || this.deleted.has(item.id))) return false;
    if (item.id) this.known.add(item.id);
    this.insert({ ...item, due: t });
    return true;
  }

  insert(it) {
    const t = it.due ?? it.time;
    let lo = this.head, hi = this.pending.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.pending[mid].due ?? this.pending[mid].time) <= t) lo = mid + 1; else hi = mid;
    }
    this.pending.splice(lo, 0, it);
  }

  // rekey gives an item (on screen or pending) a new id: a local danmaku
  // takes the id the server assigned.
  rekey(oldId, newId) {
    this.known.add(newId);
    for (const it of this.active) if (it.id === oldId) it.id = newId;
    for (let i = this.head; i < this.pending.length; i++) if (this.pending[i].id === oldId) this.pending[i].id = newId;
  }

  // remove withdraws danmaku by id from the screen and the timeline, and
  // keeps them out if they are loaded again.
  remove(ids) {
    const set = new Set(ids.map(String));
    for (const id of set) this.deleted.add(id);
    this.active = this.active.filter((it) => !set.has(it.id));
    this.pending = this.pending.slice(this.head).filter((it) => !set.has(it.id));
    this.head = 0;
    this.dirty = true;
  }

  // trimKnown forgets the ids of danmaku that are neither on screen nor
  // waiting once more than limit are remembered: a live room never seeks,
  // and its ids would otherwise pile up for the whole session.
  trimKnown(limit = 20000) {
    if (this.known.size <= limit) return;
    this.known = new Set();
    for (const it of this.active) if (it.id) this.known.add(it.id);
    for (let i = this.head; i < this.pending.length; i++) if (this.pending[i].id) this.known.add(this.pending[i].id);
  }

  // seek clears the screen and the timeline; the caller loads the danmaku
  // of the new time again.
  seek(t) {
    this.pending = [];
    this.head = 0;
    this.known.clear();
    this.clearScreen();
    this.now = t;
  }

  clearScreen() {
    this.active = [];
    this.lanes = { scroll: [], reverse: [], top: [], bottom: [] };
    this.dirty = true;
  }

  // prune drops timeline items more than keep seconds behind t.
  prune(t, keep = 10) {
    while (this.head < this.pending.length && (this.pending[this.head].due ?? this.pending[this.head].time) < t - keep) {
      this.known.delete(this.pending[this.head].id);
      this.head++;
    }
    this.compact();
  }

  compact() {
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
  }

  // frame advances to clock time now, places due danmaku and draws.
  frame(now) {
    if (now < this.now - 0.5) this.clearScreen(); // The clock went back without a seek.
    const moved = now !== this.now;
    this.now = now;
    while (this.head < this.pending.length) {
      const it = this.pending[this.head];
      const due = it.due ?? it.time;
      if (due > now) break;
      this.head++;
      if (now - due > LATE_SECONDS) { this.counts.late++; continue; }
      this.place(it, due, now);
    }
    this.compact();
    if (moved || this.dirty) {
      this.expire(now);
      this.draw(now);
      this.dirty = false;
    }
  }

  place(src, start, now) {
    const s = this.settings;
    if (!s.enabled) return;
    if (!src.mine && this.filter(src)) { this.counts.blocked++; return; }
    if (s.density > 0 && this.active.length >= s.density && !src.mine) { this.counts.dropped++; return; }
    const font = `bold ${Math.round(src.size * s.fontScale)}px ${FONT_FAMILY}`;
    const label = labelOf(src);
    const bmp = this.cache.get(label, font, src.color, src.mine, this.dpr);
    const it = { ...src, label, bmp, w: bmp.w, h: bmp.h, start, kind: kindOf(src.mode), x: 0, y: 0 };
    if (src.enter && (it.kind === 'scroll' || it.kind === 'reverse')) {
      // Shown fully inside the edge it enters from at once: a danmaku sent
      // while the video is paused is seen, and moves on when it plays.
      const d = this.duration(it);
      it.start = now - Math.min(d / 2, ((it.w + GAP) * d) / (this.width + it.w));
    }
    if (!this.allocate(it, now)) {
      if (!src.mine) { this.counts.dropped++; return; }
      it.y = 0; // The viewer's own danmaku always shows.
    }
    this.active.push(it);
    this.counts.shown++;
    this.dirty = true;
  }

  duration(it) {
    return it.kind === 'scroll' || it.kind === 'reverse' ? SCROLL_SECONDS / this.settings.speed : FIXED_SECONDS;
  }

  // allocate finds free lanes for it and sets its y; false if none.
  allocate(it, now) {
    const unit = Math.round(BASE_SIZE * this.settings.fontScale * 1.2) + PAD * 2;
    const areaH = this.height * this.settings.area;
    const n = Math.max(1, Math.floor(areaH / unit));
    const k = Math.min(n, Math.ceil(it.h / unit));
    const layers = this.lanes[it.kind];
    const maxLayers = this.settings.overlap ? MAX_LAYERS : 1;
    for (let l = 0; l < maxLayers; l++) {
      const lanes = layers[l] || (layers[l] = []);
      for (let i = 0; i + k <= n; i++) {
        let free = true;
        for (let j = i; j < i + k && free; j++) free = this.laneFree(lanes[j], it, now);
        if (!free) continue;
        for (let j = i; j < i + k; j++) lanes[j] = it;
        const offset = (l % 2) * unit / 2 + Math.floor(l / 2) * 3;
        it.y = it.kind === 'bottom' ? areaH - (i + k) * unit - offset : i * unit + offset;
        it.y = Math.max(0, Math.min(it.y, areaH - it.h));
        return true;
      }
    }
    if (!this.settings.overlap) return false;
    // Every layer is busy: overlap in a random lane rather than drop.
    const i = Math.floor(Math.random() * (n - k + 1));
    it.y = it.kind === 'bottom' ? areaH - (i + k) * unit : i * unit;
    it.y = Math.max(0, Math.min(it.y, areaH - it.h));
    return true;
  }

  // laneFree reports whether item can follow last in a lane without
  // touching it from now on. Both move at constant speeds, so the gap
  // between last's tail and it's head is checked now and when last leaves.
  laneFree(last, it, now) {
    if (!last) return true;
    const d = this.duration(last);
    if (now - last.start >= d) return true;
    if (it.kind === 'top' || it.kind === 'bottom') return false;
    const W = this.width;
    const vLast = (W + last.w) / d;
    const vNew = (W + it.w) / this.duration(it);
    const tail = vLast * (now - last.start) - last.w; // How far last's tail is past the edge.
    const head = vNew * Math.max(0, now - it.start); // How far it's head is past the edge.
    if (tail - head < GAP) return false;
    return vNew * (last.start + d - it.start) <= W; // Never catches up.
  }

  expire(now) {
    const W = this.width;
    let j = 0;
    for (let i = 0; i < this.active.length; i++) {
      const it = this.active[i];
      const d = this.duration(it);
      const e = Math.max(0, now - it.start);
      if (e >= d) continue;
      if (it.kind === 'scroll') it.x = W - ((W + it.w) / d) * e;
      else if (it.kind === 'reverse') it.x = -it.w + ((W + it.w) / d) * e;
      else it.x = (W - it.w) / 2;
      this.active[j++] = it;
    }
    this.active.length = j;
  }

  draw() {
    const ctx = this.ctx;
    const dpr = this.dpr;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    if (!this.settings.enabled) return;
    for (const it of this.active) {
      ctx.drawImage(it.bmp.canvas, Math.round(it.x * dpr), Math.round(it.y * dpr));
    }
  }

  // onScreen describes what is on screen now, for tests and diagnostics.
  onScreen() {
    return this.active.map((it) => ({
      id: it.id, text: it.text, label: it.label, x: it.x, y: it.y, w: it.w, h: it.h,
      mode: it.mode, color: it.color, size: it.size, userId: it.userId, mine: !!it.mine, count: it.count,
    }));
  }

  // pendingCount returns how many danmaku wait on the timeline.
  pendingCount() { return this.pending.length - this.head; }
}
