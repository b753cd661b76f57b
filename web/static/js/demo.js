// demo.js paints the built-in demo "video": an animated background driven
// by the demo clock, so that danmaku have something to fly over without
// any download.

// drawDemo paints the frame at time t (seconds) on ctx, whose canvas is
// w by h CSS pixels at device pixel ratio dpr.
export function drawDemo(ctx, w, h, dpr, t, duration) {
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const hue = (t * 6) % 360;
  const g = ctx.createLinearGradient(0, 0, w, h);
  g.addColorStop(0, `hsl(${hue}, 45%, 22%)`);
  g.addColorStop(1, `hsl(${(hue + 80) % 360}, 45%, 12%)`);
  ctx.fillStyle = g;
  ctx.fillRect(0, 0, w, h);
  for (let i = 0; i < 6; i++) {
    const phase = t * (0.2 + i * 0.07) + i;
    const x = w / 2 + Math.cos(phase) * w * (0.15 + i * 0.05);
    const y = h / 2 + Math.sin(phase * 1.3) * h * (0.12 + i * 0.04);
    ctx.beginPath();
    ctx.arc(x, y, 18 + i * 10, 0, Math.PI * 2);
    ctx.fillStyle = `hsla(${(hue + i * 50) % 360}, 70%, 60%, 0.35)`;
    ctx.fill();
  }
  ctx.fillStyle = 'rgba(255,255,255,0.8)';
  ctx.font = `bold ${Math.round(h / 10)}px sans-serif`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.fillText(formatTime(t), w / 2, h / 2);
  ctx.font = `${Math.round(h / 28)}px sans-serif`;
  ctx.fillText(`demo timeline · ${formatTime(duration)}`, w / 2, h / 2 + h / 10);
  ctx.textAlign = 'start';
}

// formatTime writes seconds as m:ss or h:mm:ss.
export function formatTime(s) {
  s = Math.max(0, Math.floor(s || 0));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const ss = String(sec).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
