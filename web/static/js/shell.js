// shell.js is the player's shell around the danmaku: the control bar over
// the picture that hides itself while the video plays, the seek bar's
// hover time, volume and mute, fullscreen and web fullscreen, click or tap
// on the picture to pause, and the keyboard shortcuts (Space, ←/→, ↑/↓,
// F, M, D, Esc), which never fire while the viewer types.

import { formatTime } from './time.js';

const HIDE_MS = 2500; // Idle time before the control bar hides.
const SEEK_STEP = 5; // Seconds that ← and → move.
const VOLUME_STEP = 0.1;

// typing reports whether a key event goes to a control that takes text or
// keys of its own, where shortcuts must not fire.
export function typing(target) {
  if (!(target instanceof Element)) return false;
  if (target.isContentEditable) return true;
  return target.matches('input, textarea, select');
}

// Shell wires the controls of one player. els holds its elements (player,
// stage, hit, chrome, progress, seek, tip, play, mute, volume, webfull,
// fullscreen, video); hooks are the app's: clock() returns the current
// clock, toggleDanmaku() flips danmaku on or off, closePanels() closes the
// open popovers and returns whether one was open, panelOpen() tells
// whether one is open, and notify(text) shows a short message.
export class Shell {
  constructor(els, hooks) {
    this.els = els;
    this.hooks = hooks;
    this.hideTimer = 0;
    this.visible = true;
    this.bind();
    this.showControls();
  }

  bind() {
    const { player, hit, progress, seek, tip, play, mute, volume, webfull, fullscreen, video } = this.els;
    for (const ev of ['pointermove', 'pointerdown', 'focusin', 'keydown']) {
      player.addEventListener(ev, () => this.showControls());
    }
    player.addEventListener('pointerleave', (ev) => {
      if (ev.pointerType === 'mouse') this.scheduleHide(300);
    });
    let pointer = 'mouse';
    hit.addEventListener('pointerdown', (ev) => { pointer = ev.pointerType; });
    // A click on the picture closes an open panel, or else pauses or plays.
    hit.addEventListener('click', () => {
      if (!this.hooks.closePanels()) this.togglePlay();
    });
    // A double click goes fullscreen; two taps only pause and play.
    hit.addEventListener('dblclick', () => {
      if (pointer === 'mouse') this.toggleFullscreen();
    });
    play.addEventListener('click', () => this.togglePlay());
    mute.addEventListener('click', () => this.setMuted(!video.muted));
    volume.addEventListener('input', () => this.setVolume(Number(volume.value)));
    webfull.addEventListener('click', () => this.setWebFullscreen(!player.classList.contains('webfull')));
    fullscreen.addEventListener('click', () => this.toggleFullscreen());
    document.addEventListener('fullscreenchange', () => this.syncFullscreen());
    video.addEventListener('volumechange', () => this.syncVolume());
    progress.addEventListener('pointermove', (ev) => {
      const clock = this.hooks.clock();
      const r = seek.getBoundingClientRect();
      if (!clock || !(clock.duration > 0) || seek.disabled || r.width === 0) return;
      const f = Math.min(1, Math.max(0, (ev.clientX - r.left) / r.width));
      tip.textContent = formatTime(f * clock.duration);
      tip.style.left = `${Math.max(24, Math.min(r.width - 24, f * r.width))}px`;
      tip.hidden = false;
    });
    progress.addEventListener('pointerleave', () => { tip.hidden = true; });
    document.addEventListener('keydown', (ev) => this.onKey(ev));
    // A space that is not typed must not scroll the page either.
    document.addEventListener('keypress', (ev) => {
      const onButton = ev.target instanceof Element && ev.target.closest('button, a, summary');
      if (ev.key === ' ' && !typing(ev.target) && !onButton && !ev.ctrlKey && !ev.metaKey && !ev.altKey) ev.preventDefault();
    });
    this.syncVolume();
  }

  // onKey runs a shortcut, unless the viewer types or holds a modifier.
  onKey(ev) {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target)) return;
    const clock = this.hooks.clock();
    if (!clock) return;
    const onButton = ev.target instanceof Element && ev.target.closest('button, a, summary');
    switch (ev.key) {
      case ' ':
      case 'Spacebar':
        if (onButton) return; // Space presses the focused button.
        this.togglePlay();
        break;
      case 'ArrowLeft':
        clock.seek(Math.max(0, clock.now() - SEEK_STEP));
        this.hooks.notify(`${formatTime(clock.now())}`);
        break;
      case 'ArrowRight':
        clock.seek(clock.duration > 0 ? Math.min(clock.duration, clock.now() + SEEK_STEP) : clock.now() + SEEK_STEP);
        this.hooks.notify(`${formatTime(clock.now())}`);
        break;
      case 'ArrowUp':
        this.setVolume(this.els.video.volume + VOLUME_STEP);
        break;
      case 'ArrowDown':
        this.setVolume(this.els.video.volume - VOLUME_STEP);
        break;
      case 'f':
      case 'F':
        this.toggleFullscreen();
        break;
      case 'm':
      case 'M':
        this.setMuted(!this.els.video.muted);
        break;
      case 'd':
      case 'D':
        this.hooks.toggleDanmaku();
        break;
      case 'Escape':
        if (this.hooks.closePanels()) break;
        if (this.els.player.classList.contains('webfull')) this.setWebFullscreen(false);
        else return;
        break;
      default:
        return;
    }
    ev.preventDefault();
    this.showControls();
  }

  togglePlay() {
    const clock = this.hooks.clock();
    if (!clock) return;
    if (clock.paused) clock.play(); else clock.pause();
    this.showControls();
  }

  // setVolume sets the video's volume (0 to 1); a volume above 0 unmutes.
  setVolume(v) {
    const video = this.els.video;
    video.volume = Math.round(Math.min(1, Math.max(0, v)) * 100) / 100;
    if (video.volume > 0 && video.muted) video.muted = false;
    this.hooks.notify(`Volume ${Math.round(video.volume * 100)}%`);
  }

  setMuted(m) {
    this.els.video.muted = m;
    this.hooks.notify(m ? 'Muted' : `Volume ${Math.round(this.els.video.volume * 100)}%`);
  }

  syncVolume() {
    const { video, volume, mute } = this.els;
    volume.value = String(video.muted ? 0 : video.volume);
    mute.setAttribute('aria-pressed', String(video.muted));
    mute.setAttribute('aria-label', video.muted ? 'Unmute' : 'Mute');
  }

  get fullscreen() { return document.fullscreenElement === this.els.player; }

  toggleFullscreen() {
    if (this.fullscreen) {
      document.exitFullscreen().catch(() => {});
      return;
    }
    if (!this.els.player.requestFullscreen) {
      this.setWebFullscreen(true); // No fullscreen API (an iPhone): fill the window.
      return;
    }
    this.els.player.requestFullscreen().catch((err) => this.hooks.notify(`Fullscreen refused: ${err.message}`));
  }

  syncFullscreen() {
    const on = this.fullscreen;
    this.els.fullscreen.setAttribute('aria-pressed', String(on));
    this.els.fullscreen.setAttribute('aria-label', on ? 'Exit fullscreen' : 'Fullscreen');
    this.showControls();
  }

  setWebFullscreen(on) {
    this.els.player.classList.toggle('webfull', on);
    document.body.classList.toggle('webfull', on);
    this.els.webfull.setAttribute('aria-pressed', String(on));
    this.els.webfull.setAttribute('aria-label', on ? 'Exit web fullscreen' : 'Web fullscreen');
    this.showControls();
  }

  // showControls shows the control bar and hides it again after a while.
  showControls() {
    this.els.player.classList.remove('idle');
    this.visible = true;
    this.scheduleHide(HIDE_MS);
  }

  scheduleHide(ms) {
    clearTimeout(this.hideTimer);
    this.hideTimer = setTimeout(() => this.hideControls(), ms);
  }

  // hideControls hides the bar while the video plays, no panel is open and
  // the viewer is not using its seek bar, rate or volume.
  hideControls() {
    const clock = this.hooks.clock();
    const active = document.activeElement;
    const focusIn = this.els.chrome.contains(active) && active.matches('input, select');
    if (!clock || clock.paused || this.hooks.panelOpen() || focusIn) {
      this.scheduleHide(HIDE_MS);
      return;
    }
    this.els.player.classList.add('idle');
    this.visible = false;
  }

  // update shows the clock's state on the play button.
  update(clock) {
    const play = this.els.play;
    play.classList.toggle('paused', clock.paused);
    play.setAttribute('aria-label', clock.paused ? 'Play' : 'Pause');
  }

  // state describes the shell, for tests.
  state() {
    return {
      fullscreen: this.fullscreen,
      webFullscreen: this.els.player.classList.contains('webfull'),
      volume: this.els.video.volume,
      muted: this.els.video.muted,
      controlsVisible: !this.els.player.classList.contains('idle'),
    };
  }
}
