// heatmap.js draws the density strip over the progress bar: how many
// danmaku fall in each time bucket of the video, from the server.

// smooth returns counts averaged over a small window (weights 1-2-3-2-1),
// so that the curve shows where danmaku gather rather than each bucket's
// noise.
export function smooth(counts) {
  const w = [1, 2, 3, 2, 1];
  return counts.map((_, i) => {
    let sum = 0, total = 0;
    for (let k = -2; k <= 2; k++) {
      const j = i + k;
      if (j < 0 || j >= counts.length) continue;
      sum += counts[j] * w[k + 2];
      total += w[k + 2];
    }
    return sum / total;
  });
}

// drawHeatmap paints counts as a smoothed filled curve on canvas.
export function drawHeatmap(canvas, counts) {
  const rect = canvas.getBoundingClientRect();
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(rect.width * dpr));
  canvas.height = Math.max(1, Math.round(rect.height * dpr));
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!counts || counts.length === 0) return;
  const values = smooth(counts);
  const max = Math.max(1e-9, ...values);
  const w = canvas.width, h = canvas.height, step = w / values.length;
  const pts = values.map((c, i) => [(i + 0.5) * step, h - Math.sqrt(c / max) * (h - 2)]);
  ctx.beginPath();
  ctx.moveTo(0, h);
  ctx.lineTo(0, pts[0][1]);
  for (let i = 0; i < pts.length - 1; i++) {
    // A quadratic curve through the midpoints keeps the line smooth.
    const mx = (pts[i][0] + pts[i + 1][0]) / 2, my = (pts[i][1] + pts[i + 1][1]) / 2;
    ctx.quadraticCurveTo(pts[i][0], pts[i][1], mx, my);
  }
  const last = pts[pts.length - 1];
  ctx.quadraticCurveTo(last[0], last[1], w, last[1]);
  ctx.lineTo(w, h);
  ctx.closePath();
  ctx.fillStyle = 'rgba(0, 174, 236, 0.45)';
  ctx.fill();
  ctx.strokeStyle = 'rgba(120, 214, 255, 0.9)';
  ctx.lineWidth = Math.max(1, dpr);
  ctx.stroke();
}

// Heatmap loads and draws the strip for the room of client (an SDK
// Client), or for one of its live sessions when session is set (a replay).
export class Heatmap {
  constructor(client, canvas, buckets = 100, session = '') {
    this.client = client;
    this.session = session;
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
      const res = await this.client.heatmap(this.buckets, duration, { session: this.session });
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
