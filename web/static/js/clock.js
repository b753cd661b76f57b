// clock.js gives the player one interface over its time sources: a <video>
// element, the built-in demo's virtual clock, and the wall clock of a live
// room. Each dispatches 'seek' when its time jumps and 'state' when it
// plays, pauses or changes rate.

// DemoClock is a virtual playback clock that needs no media: play, pause,
// seek and rate work as on a video of the given duration (seconds).
export class DemoClock extends EventTarget {
  constructor(duration = 600) {
    super();
    this.kind = 'demo';
    this.duration = duration;
    this.base = 0;
    this.at = performance.now();
    this.paused = false;
    this.rate = 1;
  }

  now() {
    if (this.paused) return this.base;
    const t = this.base + ((performance.now() - this.at) / 1000) * this.rate;
    if (t >= this.duration) {
      this.base = this.duration;
      this.paused = true;
      this.dispatchEvent(new Event('state'));
      return this.duration;
    }
    return t;
  }

  play() {
    if (!this.paused) return;
    if (this.base >= this.duration) this.seek(0);
    this.at = performance.now();
    this.paused = false;
    this.dispatchEvent(new Event('state'));
  }

  pause() {
    if (this.paused) return;
    this.base = this.now();
    this.paused = true;
    this.dispatchEvent(new Event('state'));
  }

  seek(t) {
    this.base = Math.min(this.duration, Math.max(0, t));
    this.at = performance.now();
    this.dispatchEvent(new Event('seek'));
  }

  setRate(r) {
    this.base = this.now();
    this.at = performance.now();
    this.rate = r;
    this.dispatchEvent(new Event('state'));
  }
}

// VideoClock follows a <video> element.
export class VideoClock extends EventTarget {
  constructor(video) {
    super();
    this.kind = 'video';
    this.video = video;
    this.onSeek = () => this.dispatchEvent(new Event('seek'));
    this.onState = () => this.dispatchEvent(new Event('state'));
    video.addEventListener('seeking', this.onSeek);
    for (const ev of ['play', 'pause', 'ratechange', 'loadedmetadata', 'durationchange', 'ended']) {
      video.addEventListener(ev, this.onState);
    }
  }

  get duration() { return Number.isFinite(this.video.duration) ? this.video.duration : 0; }
  get paused() { return this.video.paused; }
  get rate() { return this.video.playbackRate; }
  now() { return this.video.currentTime; }
  play() { this.video.play().catch(() => {}); }
  pause() { this.video.pause(); }
  seek(t) { this.video.currentTime = Math.max(0, t); }
  setRate(r) { this.video.playbackRate = r; }

  // detach stops listening to the video.
  detach() {
    this.video.removeEventListener('seeking', this.onSeek);
    for (const ev of ['play', 'pause', 'ratechange', 'loadedmetadata', 'durationchange', 'ended']) {
      this.video.removeEventListener(ev, this.onState);
    }
  }
}

// LiveClock is the wall clock of a live room, in seconds since the live
// session started (startedAtMs, Unix milliseconds; the page's start if
// omitted). It cannot seek; pausing only freezes the danmaku layer.
export class LiveClock extends EventTarget {
  constructor(startedAtMs = Date.now()) {
    super();
    this.kind = 'live';
    this.duration = 0;
    this.startedAt = startedAtMs;
    this.t0 = performance.now() - Math.max(0, Date.now() - startedAtMs);
    this.frozen = null;
    this.rate = 1;
  }

  get paused() { return this.frozen !== null; }
  now() { return this.frozen ?? (performance.now() - this.t0) / 1000; }
  play() {
    if (this.frozen === null) return;
    this.t0 = performance.now() - this.frozen * 1000;
    this.frozen = null;
    this.dispatchEvent(new Event('state'));
  }
  pause() {
    if (this.frozen !== null) return;
    this.frozen = this.now();
    this.dispatchEvent(new Event('state'));
  }
  seek() {}
  setRate() {}
}
