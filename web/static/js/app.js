// app.js wires the player page: the viewer's identity, the clock (demo,
// video or live room), the renderer, the time-window loader, the live
// connection, the shell's controls (shell.js), the sending bar with its
// colour, mode and size picker, the danmaku list (listpanel.js), the
// settings popover with its sign-in form, and the heatmap. Its one client
// of the server is the SDK (/sdk/danmaku.js): every request and the live
// WebSocket go through one Client. With ?session=<id> the page replays
// that live session of the video: its danmaku only, over its recording
// when a moderator set one. It also exposes two hooks for tests:
// window.__danmaku (renderer state) and window.__danmakuStats (frame
// times).

import { connect } from '/sdk/danmaku.js';
import { DemoClock, LiveClock, VideoClock } from './clock.js';
import { drawDemo } from './demo.js';
import { Heatmap } from './heatmap.js';
import { Identity, loadIdentity } from './identity.js';
import { ListPanel } from './listpanel.js';
import { WindowLoader } from './loader.js';
import { Renderer, fromAPI } from './renderer.js';
import { compileFilter, load as loadSettings, normalize, save as saveSettings } from './settings.js';
import {
  checkToken, forgetToken, loadToken, normalizeToken, saveToken, takeTokenFromURL, tokenExpiry, unauthorizedMessage,
} from './signin.js';
import { Shell } from './shell.js';
import { FrameStats } from './stats.js';
import { formatTime } from './time.js';

const $ = (id) => document.getElementById(id);

// objectIdFromPath returns the object of /watch/{objectId} or
// /embed/{objectId}, or "demo".
function objectIdFromPath(path) {
  const m = path.match(/^\/(?:watch|embed)\/([^/]+)\/?$/);
  if (!m) return 'demo';
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return 'demo';
  }
}

const objectId = objectIdFromPath(location.pathname);
// client is the page's connection to the server. Its live socket opens
// once the viewer's identity is known (start).
const client = connect('', objectId, {
  start: false,
  onWelcome,
  onBatch,
  onDelete,
  onLive: (session) => {
    livePushes = true;
    applyLive(session);
  },
  onDropped,
  onError: (err) => {
    // A refused token signs the viewer out (onTokenRefused), which says so.
    if (err.code !== 'unauthorized') status(`Live: ${err.message}`);
  },
  onUnauthorized: onTokenRefused,
});
const params = new URLSearchParams(location.search);
// replayId is the live session that the page replays (?session=<id>), or
// empty: every read (the loader, the heatmap) then asks for its danmaku
// only, and the page stays on the recording's time.
const replayId = params.get('session') || '';
let replay = null; // The replayed session, as GET /danmu/sessions lists it.
const stats = new FrameStats();
const renderer = new Renderer($('danmaku-layer'));
const mineIds = new Set(); // Ids the server gave this viewer's sends.
const video = $('video');
const demoLayer = $('demo-layer');
const demoCtx = demoLayer.getContext('2d');
const heatmap = new Heatmap(client, $('heatmap'), 100, replayId);

let settings = loadSettings();
let clock = null;
let mode = 'vod'; // 'vod' or 'live'.
let liveSession = null; // The running live session, as the server gave it.
let tickMs = 1000;
let identity = new Identity(); // Unknown until the server answers.
let ready = false; // Identity known: loading may start.
let livePushes = false; // The server announces live sessions as they start.
let probeDelay = 15000;
let localSeq = 0;
let dragging = false;
let lastDemo = -1;
let blockedBy = () => false; // The settings' block filter.
let missed = 0; // Pushed batches the server could not deliver to this page.

$('room-name').textContent = objectId;

function status(msg) {
  $('status').textContent = msg;
}

function isMine(it) {
  return mineIds.has(it.id) || identity.owns(it);
}

// toItems converts API danmaku into renderer items, marking the viewer's
// (the SDK marks those it knows as mine).
function toItems(list) {
  const out = [];
  for (const d of list) {
    const it = fromAPI(d);
    if (!it) continue;
    it.mine = d.mine === true || isMine(it);
    out.push(it);
  }
  return out;
}

const loader = new WindowLoader(client, {
  session: replayId,
  sink: (data) => {
    const items = toItems(data);
    renderer.add(items);
    danmakuList.add(items);
  },
  onError: (err) => {
    // A refused token has signed the viewer out (onTokenRefused) and said so.
    if (err.status !== 401) status(`Loading danmaku failed: ${err.message}`);
  },
});

// setClock switches the time source and starts over from its time.
function setClock(c) {
  if (clock) {
    clock.removeEventListener('seek', onSeek);
    clock.removeEventListener('state', updateControls);
    if (clock.detach) clock.detach();
  }
  clock = c;
  clock.addEventListener('seek', onSeek);
  clock.addEventListener('state', updateControls);
  onSeek();
  updateControls();
  heatmap.refresh(clock.duration);
}

function onSeek() {
  const t = clock.now();
  renderer.seek(t);
  if (mode === 'vod' && ready) {
    loader.reset(t);
    loader.tick(t);
  }
}

// Live messages, as the SDK hands them over.

// onWelcome applies the room state a (re)connection starts with. The
// welcome's batches follow through onBatch.
function onWelcome(msg) {
  applyRoom(msg.room || {});
}

// onBatch shows a pushed batch. Of a welcome's batches (which the SDK has
// cut to the danmaku not shown before), a live room shows those missed
// while away ("recovered"), else only the most recent; a video shows none,
// since the loader reads the stored ones.
function onBatch(batch, info) {
  if (info.welcome && (mode !== 'live' || (!info.recovered && !info.last))) return;
  showPushed(batch.items);
}

// onDropped tells the viewer that the server skipped count batches (one
// a tick) because the connection fell behind, or that a reconnection came
// too late to recover them: their danmaku will not be shown live.
function onDropped(info) {
  if (!(info.count > 0)) return;
  missed += info.count;
  const seconds = Math.round((info.count * tickMs) / 100) / 10;
  const what = seconds === 1 ? '1 second' : `${seconds} seconds`;
  status(`Missed ${what} of pushed danmaku: the connection fell behind.`);
}

// onDelete takes danmaku off the screen and the list.
function onDelete(ids) {
  renderer.remove(ids);
  danmakuList.remove(ids);
}

// applyRoom takes the tick and the live session from a room state.
function applyRoom(room) {
  if (Number(room.tickMs) > 0) tickMs = Number(room.tickMs);
  applyLive(room.live ?? null);
}

// applyLive switches to live mode while session (a live.Session: objectId,
// startedAt, endedAt) runs, and back to the video when it ends.
function applyLive(session) {
  if (replayId) return; // A replay keeps to its recording's time.
  const running = session && typeof session === 'object' && !session.endedAt;
  if (running) goLive(session);
  else if (mode === 'live') goVOD();
}

function goLive(session) {
  const started = Date.parse(session.startedAt);
  const same = liveSession && liveSession.startedAt === session.startedAt;
  liveSession = session;
  if (mode === 'live' && same) return;
  mode = 'live';
  $('live-badge').hidden = false;
  setClock(new LiveClock(Number.isFinite(started) ? started : Date.now()));
}

function goVOD() {
  if (mode === 'vod') return;
  mode = 'vod';
  liveSession = null;
  $('live-badge').hidden = true;
  if (!video.hidden && video.getAttribute('src')) setClock(new VideoClock(video));
  else showDemo();
}

// probeRoom reads the room state now and then, for servers that do not
// push "live" messages: a live session started or ended while this page
// was connected shows up within the probe interval. It backs off to two
// minutes, and stops once the server has pushed a "live" message.
async function probeRoom() {
  if (livePushes) return;
  if (!document.hidden && client.status === 'open') {
    try {
      applyRoom(await client.roomState());
    } catch {
      // The next probe or reconnection's welcome tells.
    }
  }
  probeDelay = Math.min(probeDelay * 1.5, 120000);
  setTimeout(probeRoom, probeDelay * (0.8 + Math.random() * 0.4));
}

// showPushed shows pushed danmaku. A live room spreads each tick's batch
// over the tick; a video puts danmaku ahead of the playhead on the timeline
// and shows ones that just happened at once.
function showPushed(list) {
  if (replayId) return; // Pushed danmaku are not the replayed session's.
  const items = toItems(list).filter((it) => !it.mine);
  const now = clock.now();
  if (mode === 'live') {
    items.forEach((it, i) => renderer.showAt(it, now + (i * tickMs) / 1000 / items.length));
    danmakuList.add(items, now);
    return;
  }
  for (const it of items) {
    if (it.time >= now) renderer.add([it]);
    else if (now - it.time <= 3 && !clock.paused) renderer.showAt(it, now);
  }
  danmakuList.add(items);
}

// Media.

function showDemo() {
  video.pause();
  video.removeAttribute('src');
  video.load();
  video.hidden = true;
  demoLayer.hidden = false;
  lastDemo = -1;
  const started = liveSession ? Date.parse(liveSession.startedAt) : NaN;
  setClock(mode === 'live' ? new LiveClock(Number.isFinite(started) ? started : Date.now()) : new DemoClock(600));
}

function openVideo(src, label) {
  video.hidden = false;
  demoLayer.hidden = true;
  video.src = src;
  if (mode === 'vod') setClock(new VideoClock(video));
  video.play().catch(() => status('Press play to start the video.'));
  status(`Opened ${label}`);
}

video.addEventListener('error', () => {
  if (!video.getAttribute('src')) return;
  if (!video.hidden) status('The video could not be played; showing the demo instead.');
  showDemo();
});
video.addEventListener('durationchange', () => heatmap.refresh(clock.duration));

$('open-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const url = $('video-url').value.trim();
  if (url) openVideo(url, url);
});
$('video-file').addEventListener('change', () => {
  const f = $('video-file').files[0];
  if (f) openVideo(URL.createObjectURL(f), f.name);
});
$('demo-button').addEventListener('click', () => {
  showDemo();
  status('');
});

// Controls.

function updateControls() {
  if (!clock) return;
  const now = clock.now();
  const dur = clock.duration;
  shell.update(clock);
  $('time').textContent = mode === 'live' ? `live ${formatTime(now)}` : `${formatTime(now)} / ${formatTime(dur)}`;
  const seek = $('seek');
  seek.disabled = mode === 'live' || !(dur > 0);
  if (dur > 0) seek.max = String(dur);
  if (!dragging) seek.value = String(now);
  $('rate').value = String(clock.rate);
}

$('seek').addEventListener('input', () => {
  dragging = true;
  $('time').textContent = `${formatTime(Number($('seek').value))} / ${formatTime(clock.duration)}`;
});
$('seek').addEventListener('change', () => {
  dragging = false;
  clock.seek(Number($('seek').value));
});
$('rate').addEventListener('change', () => clock.setRate(Number($('rate').value)));
$('toggle').addEventListener('click', toggleDanmaku);
$('settings-button').addEventListener('click', () => showSettings($('settings').hidden));
$('settings-close').addEventListener('click', () => showSettings(false));
$('list-button').addEventListener('click', () => showList($('list-panel').hidden));
$('list-close').addEventListener('click', () => showList(false));
$('style-button').addEventListener('click', () => showStyle($('style-panel').hidden));

function toggleDanmaku() {
  applySettings({ ...settings, enabled: !settings.enabled }, true);
  status(settings.enabled ? 'Danmaku on' : 'Danmaku off');
}

// panels are the popovers inside the player, with the buttons that open
// them; one is open at a time.
const panels = [['settings', 'settings-button'], ['list-panel', 'list-button'], ['style-panel', 'style-button']];

// showPanel opens or closes a popover, closing the others.
function showPanel(id, open) {
  for (const [panel, button] of panels) {
    const on = panel === id ? open : panel !== id && open ? false : !$(panel).hidden;
    $(panel).hidden = !on;
    $(button).setAttribute('aria-expanded', String(on));
  }
  shell.showControls();
}

// closePanels closes every popover; it reports whether one was open.
function closePanels() {
  const was = panels.some(([panel]) => !$(panel).hidden);
  for (const [panel] of panels) showPanel(panel, false);
  return was;
}

// showSettings opens or closes the settings popover.
function showSettings(open) {
  showPanel('settings', open);
}

// showList opens or closes the danmaku list.
function showList(open) {
  showPanel('list-panel', open);
  danmakuList.invalidate();
  if (open) danmakuList.update(clock.now(), blockedBy);
}

// showStyle opens or closes the colour, mode and size picker.
function showStyle(open) {
  showPanel('style-panel', open);
}

const shell = new Shell({
  player: $('player'), stage: $('stage'), hit: $('hit'), chrome: $('chrome'), progress: $('progress'), seek: $('seek'),
  tip: $('seek-tip'), play: $('play'), mute: $('mute'), volume: $('volume'), webfull: $('webfull'),
  fullscreen: $('fullscreen'), video,
}, {
  clock: () => clock,
  toggleDanmaku,
  closePanels,
  panelOpen: () => panels.some(([panel]) => !$(panel).hidden),
  notify: status,
});

const danmakuList = new ListPanel($('list-panel'), $('list-items'), $('list-count'), {
  seek: (t) => clock.seek(t),
  block: (userId) => {
    if (!settings.blockUsers.includes(userId)) {
      applySettings({ ...settings, blockUsers: [...settings.blockUsers, userId] }, true);
      fillSettingsForm();
    }
    status(`Blocked ${userId}: their danmaku are hidden. Settings lists the users you block.`);
  },
  report: async (item, reason) => {
    try {
      await client.report(item.id, reason);
      status('Reported: thank you, the moderators will look at it.');
    } catch (err) {
      status(err.status === 429 ? 'Too many reports: try again in a minute.' : `Not reported: ${err.message}`);
      throw err;
    }
  },
});

// Sending.

// send draws the viewer's danmaku at once, marked as theirs, then stores
// it. The server takes the sender from the cookie or token; the stored
// danmaku's id replaces the local one, so the pushed copy is recognised.
async function send(text, color, position, size) {
  const now = clock.now();
  const localId = `local-${++localSeq}`;
  const item = { id: localId, text, color, size, mode: position, time: now, userId: identity.userId, count: 1, mine: true };
  // While paused, the danmaku shows inside the screen at once (enter).
  renderer.showAt({ ...item, enter: clock.paused }, now);
  const content = { text, color, size: `${size}px`, position, time: Math.round(now * 1000) / 1000 };
  const withToken = client.token !== '';
  try {
    const d = await client.send(content);
    const id = String(d.id);
    mineIds.add(id);
    if (mode === 'vod') heatmap.bump(Number(d.content?.time));
    renderer.rekey(localId, id);
    danmakuList.add([{ ...item, id }]);
    status('');
    return d;
  } catch (err) {
    renderer.remove([localId]);
    if (err.code === 'unauthorized') {
      status(unauthorizedMessage(err, withToken));
      showSettings(true);
    } else {
      status(`Not sent: ${err.message}`);
    }
    throw err;
  }
}

$('send-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = $('send-text').value.trim();
  if (!text) return;
  const style = sendStyle();
  send(text, style.color, style.mode, style.size)
    .then(() => { $('send-text').value = ''; })
    .catch(() => {});
  showStyle(false);
});

// The sending style: a colour from the palette or the custom picker, a
// mode and a size, remembered in localStorage.

const STYLE_KEY = 'danmakud.sendStyle.v1';

// PALETTE is the preset colours, as on Bilibili.
const PALETTE = [
  ['#ffffff', 'White'], ['#fe0302', 'Red'], ['#ff7204', 'Orange'], ['#ffaa02', 'Amber'], ['#ffd302', 'Gold'],
  ['#ffff00', 'Yellow'], ['#a0ee00', 'Lime'], ['#00cd00', 'Green'], ['#019899', 'Teal'], ['#4266be', 'Blue'],
  ['#89d5ff', 'Sky blue'], ['#cc0273', 'Magenta'], ['#222222', 'Black'], ['#9b9b9b', 'Grey'],
];

// sendStyle returns the chosen colour, mode and size.
function sendStyle() {
  const color = /^#[0-9a-f]{6}$/i.test($('send-color').value) ? $('send-color').value.toLowerCase() : '#ffffff';
  const mode = Number(document.querySelector('input[name=send-mode]:checked')?.value) || 1;
  const size = Number(document.querySelector('input[name=send-size]:checked')?.value) || 25;
  return { color, mode, size };
}

// setSendStyle shows a style in the picker and remembers it.
function setSendStyle(st, persist) {
  const color = /^#[0-9a-f]{6}$/i.test(st.color) ? st.color.toLowerCase() : '#ffffff';
  $('send-color').value = color;
  for (const b of $('palette').children) b.setAttribute('aria-pressed', String(b.dataset.color === color));
  $('style-swatch').style.background = color;
  for (const el of document.querySelectorAll('input[name=send-mode]')) el.checked = Number(el.value) === Number(st.mode);
  for (const el of document.querySelectorAll('input[name=send-size]')) el.checked = Number(el.value) === Number(st.size);
  if (!document.querySelector('input[name=send-mode]:checked')) document.querySelector('input[name=send-mode]').checked = true;
  if (!document.querySelector('input[name=send-size]:checked')) document.querySelector('input[name=send-size][value="25"]').checked = true;
  if (persist) {
    try {
      localStorage.setItem(STYLE_KEY, JSON.stringify(sendStyle()));
    } catch {
      // The style then lasts for the page.
    }
  }
}

function loadSendStyle() {
  try {
    return { color: '#ffffff', mode: 1, size: 25, ...JSON.parse(localStorage.getItem(STYLE_KEY) || '{}') };
  } catch {
    return { color: '#ffffff', mode: 1, size: 25 };
  }
}

for (const [color, name] of PALETTE) {
  const b = document.createElement('button');
  b.type = 'button';
  b.dataset.color = color;
  b.style.background = color;
  b.setAttribute('aria-label', name);
  b.title = name;
  b.addEventListener('click', () => setSendStyle({ ...sendStyle(), color }, true));
  $('palette').append(b);
}
$('send-color').addEventListener('input', () => setSendStyle(sendStyle(), true));
$('style-panel').addEventListener('change', () => setSendStyle(sendStyle(), true));
setSendStyle(loadSendStyle(), false);

// Settings.

function applySettings(s, persist) {
  settings = normalize(s);
  if (persist) saveSettings(settings);
  const { blocked, invalid } = compileFilter(settings);
  blockedBy = blocked;
  renderer.configure(settings, blocked);
  danmakuList.invalidate();
  $('settings-note').textContent = invalid.length ? `Ignored invalid expressions: ${invalid.join(', ')}` : '';
  $('toggle').setAttribute('aria-label', settings.enabled ? 'Danmaku on' : 'Danmaku off');
  $('toggle').setAttribute('aria-pressed', String(settings.enabled));
}

const lines = (id) => $(id).value.split('\n').map((s) => s.trim()).filter(Boolean);

function readSettingsForm() {
  return {
    ...settings,
    opacity: Number($('set-opacity').value),
    speed: Number($('set-speed').value),
    fontScale: Number($('set-font').value),
    area: Number($('set-area').value),
    density: Number($('set-density').value),
    overlap: $('set-overlap').checked,
    blockKeywords: lines('set-keywords'),
    blockRegex: lines('set-regex'),
    blockUsers: lines('set-users'),
    blockModes: [...document.querySelectorAll('input[name=block-mode]:checked')].map((el) => el.value),
  };
}

function fillSettingsForm() {
  $('set-opacity').value = String(settings.opacity);
  $('set-speed').value = String(settings.speed);
  $('set-font').value = String(settings.fontScale);
  $('set-area').value = String(settings.area);
  $('set-density').value = String(settings.density);
  $('set-overlap').checked = settings.overlap;
  $('set-keywords').value = settings.blockKeywords.join('\n');
  $('set-regex').value = settings.blockRegex.join('\n');
  $('set-users').value = settings.blockUsers.join('\n');
  for (const el of document.querySelectorAll('input[name=block-mode]')) el.checked = settings.blockModes.includes(el.value);
}

$('settings').addEventListener('change', (ev) => {
  if (!ev.target.closest('#signin-form')) applySettings(readSettingsForm(), true);
});
$('settings').addEventListener('input', (ev) => {
  if (ev.target.type === 'range') applySettings(readSettingsForm(), true);
});

// Sign-in. The viewer's token, once the server accepts it, is the
// credential of every request and of the live socket, and is remembered
// until the viewer signs out or the server refuses it.

// showIdentity shows who the viewer is, in the hint and the sign-in form.
function showIdentity() {
  $('user-id').textContent = identity.known ? identity.userId : 'unknown: sign in to send';
  let state;
  if (client.token) {
    const exp = tokenExpiry(client.token);
    state = `Signed in as ${identity.userId}${exp ? ` until ${exp.toLocaleString()}` : ''}.`;
  } else if (identity.known) {
    state = 'Not signed in: you send under an anonymous id. Paste a token from your site to send as yourself.';
  } else {
    state = 'Not signed in. This server only takes danmaku from signed-in viewers: paste a token from your site.';
  }
  $('signin-state').textContent = state;
  $('signout-button').hidden = !client.token;
}

// useToken makes token ('' for none) the viewer's credential, as who; the
// client reconnects its live socket with it.
function useToken(token, who) {
  client.setToken(token);
  if (token) saveToken(token);
  else forgetToken();
  identity = who;
  showIdentity();
}

// signIn checks raw with the server and, if it names a user, signs in as
// that user. It resolves with '' when the viewer is signed in, or with why
// not.
async function signIn(raw) {
  const token = normalizeToken(raw);
  if (!token) {
    return 'Sign-in failed: that is not a token (a token is three parts of letters, digits, "-" and "_" separated by dots).';
  }
  try {
    useToken(token, await checkToken(client, token));
  } catch (err) {
    return `Sign-in failed: ${err.message}.`;
  }
  return '';
}

// signOut forgets the token and goes back to the identity the server gives
// a viewer without one (an anonymous id, or none).
async function signOut(message) {
  useToken('', new Identity());
  status(message);
  const who = await loadIdentity(client);
  if (!client.token) {
    identity = who;
    showIdentity();
  }
}

// onTokenRefused handles a 401 answer to a request or a live connection
// that carried the viewer's token (the SDK tells): it has expired or was
// never valid here.
function onTokenRefused(err) {
  if (!client.token) return;
  signOut(`Your sign-in was refused (${err.message}), so you are signed out. To send, paste a new token under "Sign in" in the settings.`);
}

$('signin-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const button = $('signin-button');
  button.disabled = true;
  try {
    const failed = await signIn($('signin-token').value);
    if (!failed) $('signin-token').value = '';
    status(failed || `Signed in as ${identity.userId}.`);
  } finally {
    button.disabled = false;
  }
});
$('signout-button').addEventListener('click', () => signOut('Signed out: the token is forgotten.'));

// startIdentity learns who the viewer is: signed in with a token from the
// page address or the one remembered, or else what the server gives a
// viewer without one.
async function startIdentity() {
  const fromURL = takeTokenFromURL();
  if (fromURL.present) {
    const failed = await signIn(fromURL.token);
    if (!failed) {
      status(`Signed in as ${identity.userId}.`);
      return;
    }
    status(`The token in the page address was not used. ${failed}`);
  }
  const stored = loadToken();
  if (stored) {
    try {
      useToken(stored, await checkToken(client, stored));
      return;
    } catch (err) {
      if (err.status === 401) forgetToken();
      status(`Your remembered sign-in was not used (${err.message}). To send, paste a new token under "Sign in" in the settings.`);
    }
  }
  identity = await loadIdentity(client);
  showIdentity();
}

// Frames.

function resize() {
  renderer.resize();
  const r = demoLayer.getBoundingClientRect();
  const dpr = window.devicePixelRatio || 1;
  demoLayer.width = Math.max(1, Math.round(r.width * dpr));
  demoLayer.height = Math.max(1, Math.round(r.height * dpr));
  lastDemo = -1;
  heatmap.redraw();
}

let lastControls = 0;

function frame(ts) {
  const t0 = performance.now();
  const now = clock.now();
  if (mode === 'vod' && ready) {
    loader.tick(now);
    renderer.prune(now);
  } else if (mode === 'live') {
    renderer.trimKnown();
  }
  if (!demoLayer.hidden && now !== lastDemo) {
    const r = demoLayer.getBoundingClientRect();
    drawDemo(demoCtx, r.width, r.height, window.devicePixelRatio || 1, now, clock.duration);
    lastDemo = now;
  }
  renderer.frame(now);
  if (ts - lastControls > 250) {
    updateControls();
    danmakuList.update(now, blockedBy);
    lastControls = ts;
  }
  stats.record(ts, performance.now() - t0);
  requestAnimationFrame(frame);
}

// Test and diagnostic hooks.

window.__danmaku = {
  objectId,
  get userId() { return identity.userId; },
  signedIn: () => client.token !== '',
  identity: () => ({ ...identity }),
  live: () => (liveSession ? { ...liveSession } : null),
  replay: () => (replay ? { ...replay } : null),
  onScreen: () => renderer.onScreen(),
  pending: () => renderer.pendingCount(),
  counts: () => ({ ...renderer.counts }),
  // missed is the number of pushed batches the server reported dropped.
  missed: () => missed,
  mode: () => mode,
  socket: () => client.status,
  // client is the page's SDK Client, for tests that drop its socket.
  client: () => client,
  clock: () => ({ kind: clock.kind, now: clock.now(), paused: clock.paused, rate: clock.rate, duration: clock.duration }),
  loader: () => ({ from: loader.from, loadedUntil: loader.loadedUntil, done: loader.done, requests: loader.requests }),
  seek: (t) => clock.seek(t),
  play: () => clock.play(),
  pause: () => clock.pause(),
  send: (text, opts = {}) => send(text, opts.color || '#ffffff', opts.position || 1, opts.size || 25),
  heatmap: () => [...heatmap.counts],
  shell: () => shell.state(),
  list: () => [...document.querySelectorAll('#list-items li')].map((li) => ({ id: li.dataset.id, userId: li.dataset.user,
    text: li.querySelector('.x').textContent })),
  settings: () => ({ ...settings }),
  setSettings: (patch) => { applySettings({ ...settings, ...patch }, true); fillSettingsForm(); },
  // inject shows API-shaped danmaku spread over the next `over` seconds.
  inject: (list, over = 0) => {
    const items = toItems(list);
    const now = clock.now();
    items.forEach((it, i) => renderer.showAt(it, now + (over * i) / Math.max(1, items.length)));
    return items.length;
  },
};

window.__danmakuStats = (opts = {}) => {
  if (opts.reset) stats.reset();
  return { ...stats.report(), onScreen: renderer.active.length, viewport: { width: renderer.width, height: renderer.height, dpr: renderer.dpr } };
};

// loadSessions returns the video's live sessions, newest first, and offers
// them in the header's picker (hidden when there are none); choosing one
// reloads the page as its replay, "Whole video" as the video.
async function loadSessions() {
  const res = await client.sessions();
  const list = Array.isArray(res?.sessions) ? res.sessions : [];
  const pick = $('session-pick');
  if (list.length === 0) return list;
  pick.replaceChildren(new Option('Whole video', '', false, !replayId));
  for (const s of list) {
    const start = new Date(s.startedAt);
    const when = Number.isNaN(start.getTime()) ? s.id : start.toLocaleString();
    pick.add(new Option(`Live ${when}${s.endedAt ? '' : ' (running)'}`, s.id, false, s.id === replayId));
  }
  pick.hidden = false;
  return list;
}

$('session-pick').addEventListener('change', (ev) => {
  const u = new URL(location.href);
  if (ev.target.value) u.searchParams.set('session', ev.target.value);
  else u.searchParams.delete('session');
  location.assign(u.href);
});

// startReplay finds the replayed session and plays its recording, unless
// the page names another source (?src=); without either, the session's
// danmaku play over the demo timeline.
async function startReplay(src) {
  try {
    replay = (await loadSessions()).find((s) => s.id === replayId) || null;
  } catch (err) {
    status(`Loading the live sessions failed: ${err.message}`);
    return;
  }
  if (!replay) {
    status(`This video has no live session ${replayId}.`);
    return;
  }
  const url = src || replay.recordingUrl;
  if (url) openVideo(url, src || `the recording of live session ${replayId}`);
  else status(`Replaying live session ${replayId} (no recording yet).`);
}

// start learns who the viewer is before anything loads, so that the
// viewer's own danmaku are recognised from the first page and the
// WebSocket carries the token or the identity cookie; then it starts
// playing and connects.
async function start() {
  applySettings(settings, false);
  fillSettingsForm();
  showDemo();
  new ResizeObserver(resize).observe($('stage'));
  resize();
  requestAnimationFrame(frame);
  await startIdentity();
  ready = true;
  onSeek();
  client.start();
  const src = params.get('src');
  if (replayId) await startReplay(src);
  else {
    if (src) openVideo(src, src);
    loadSessions().catch(() => {}); // The picker is an extra: a failure hides it.
  }
  setInterval(() => heatmap.refresh(clock.duration), 30000);
  setTimeout(probeRoom, probeDelay);
  window.addEventListener('pagehide', () => client.close());
}

start();
