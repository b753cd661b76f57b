// heatmap.js draws the density strip over the progress bar: how many
// danmaku fall in each time bucket of the video, from the server.

// drawHeatmap paints counts as a filled curve on canvas.
export function drawHeatmap(canvas, counts) {
  const rect = canvas.getBoundingClientRect();
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(rect.width * dpr));
  canvas.height = Math.max(1, Math.round(rect.height * dpr));
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!counts || counts.length === 0) return;
  const max = Math.max(1, ...counts);
  const w = canvas.width, h = canvas.height, step = w / counts.length;
  ctx.beginPath();
  ctx.moveTo(0, h);
  counts.forEach((c, i) => {
    const y = h - (Math.sqrt(c / max) * (h - 2));
    ctx.lineTo(i * step, y);
    ctx.lineTo((i + 1) * step, y);
  });
  ctx.lineTo(w, h);
  ctx.closePath();
  ctx.fillStyle = 'rgba(0, 174, 236, 0.55)';
  ctx.fill();
}

// Heatmap loads and draws the strip for one object.
export class Heatmap {
  constructor(api, objectId, canvas, buckets = 100) {
    this.api = api;
    this.objectId = objectId;
    this.canvas = canvas;
    this.buckets = buckets;
    this.counts = [];
    this.bucketMs = 0;
    this.available = true;
  }

  // refresh reloads the counts for a video of duration seconds. It returns
  // false when the server has no heatmap endpoint.
  async refresh(duration) {
    if (!this.available || !(duration > 0)) return false;
    try {
      const res = await this.api.heatmap(this.objectId, this.buckets, duration);
      this.counts = Array.isArray(res?.counts) ? res.counts.map((n) => Number(n) || 0) : [];
      this.bucketMs = Number(res?.bucketMs) || 0;
    } catch (err) {
      if (err.status === 404 || err.status === 405) this.available = false;
      this.counts = [];
      this.bucketMs = 0;
    }
    this.canvas.hidden = !this.available;
    drawHeatmap(this.canvas, this.counts);
    return this.available;
  }

  // bump counts one danmaku at time t (seconds) at once, before the
  // server's figures (which it caches for a few seconds) catch up.
  bump(t) {
    if (!(this.bucketMs > 0)) return;
    const i = Math.floor((t * 1000) / this.bucketMs);
    if (i >= 0 && i < this.counts.length) {
      this.counts[i]++;
      this.redraw();
    }
  }

  redraw() { drawHeatmap(this.canvas, this.counts); }
}
