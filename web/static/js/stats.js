// stats.js measures frame times: the interval between animation frames,
// and the time the player's own work took within each frame.

const SIZE = 1200;

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

function summary(values) {
  const s = [...values].sort((a, b) => a - b);
  const mean = s.length ? s.reduce((a, b) => a + b, 0) / s.length : 0;
  const r = (v) => Math.round(v * 100) / 100;
  return { p50: r(percentile(s, 50)), p95: r(percentile(s, 95)), p99: r(percentile(s, 99)), max: r(s[s.length - 1] || 0), mean: r(mean) };
}

// FrameStats keeps the last SIZE frames.
export class FrameStats {
  constructor() { this.reset(); }

  reset() {
    this.intervals = [];
    this.work = [];
    this.last = 0;
  }

  // record adds one frame: ts is the animation frame's timestamp, work the
  // milliseconds spent in it.
  record(ts, work) {
    if (this.last > 0) {
      this.intervals.push(ts - this.last);
      if (this.intervals.length > SIZE) this.intervals.shift();
    }
    this.last = ts;
    this.work.push(work);
    if (this.work.length > SIZE) this.work.shift();
  }

  // report summarises the frames recorded since the last reset.
  report() {
    const frame = summary(this.intervals);
    const total = this.intervals.reduce((a, b) => a + b, 0);
    return {
      frames: this.intervals.length,
      frameMs: frame,
      workMs: summary(this.work),
      fps: total > 0 ? Math.round((this.intervals.length * 1000 / total) * 10) / 10 : 0,
    };
  }
}
