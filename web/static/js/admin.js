// admin.js runs the admin page: sign-in, the live feed with delete and
// ban, the viewers' reports, the browser of a room's stored danmaku, room
// controls, the word list editor, bans and the live figures. Every delete
// is confirmed first.
// Without a token only the sign-in form shows; every call is checked by
// the server anyway. Data is put into the page with textContent only.

import { AdminApi, TokenStore, rates } from './admin-api.js';
import { Browser, Reports, parsePlay } from './admin-browse.js';
import { Feed } from './admin-feed.js';

const $ = (id) => document.getElementById(id);

const tokens = new TokenStore();
const api = new AdminApi(tokens, { onUnauthorized: () => signOut('Your session has ended: sign in again.') });
const feed = new Feed($('feed-rows'), {
  onDelete: deleteDanmaku,
  onBan: prepareBan,
  onCount: (n) => { $('feed-count').textContent = `${n} events`; },
  onState: (s) => { $('feed-state').textContent = s; },
  onEvent: (ev) => {
    if (ev.outcome === 'report') loadReports();
  },
});
const browser = new Browser($('browse-rows'), $('browse-more'), {
  remove: (objectId, d) => deleteDanmaku({ objectId, id: String(d.id), text: d.content && d.content.text }),
  ban: prepareBan,
  state: (s) => { $('browse-state').textContent = s; },
});
const reports = new Reports($('reports-list'), {
  remove: (objectId, d) => deleteDanmaku({ objectId, id: String(d.id), text: d.content && d.content.text }),
  ban: prepareBan,
  state: (s) => { $('reports-state').textContent = s; },
});

let statsTimer = 0;
let lastStats = null;
let currentRoom = ''; // The room shown in the room panel.
let wordsRoom = ''; // The word list being edited; '' is the global list.

function status(msg) {
  $('admin-status').textContent = msg;
}

// el makes an element with text; children are nodes.
function el(tag, text = '', attrs = {}) {
  const e = document.createElement(tag);
  if (text !== '') e.textContent = text;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

// act runs an admin action, reporting its failure in the status line.
async function act(what, fn) {
  try {
    const r = await fn();
    status('');
    return r;
  } catch (err) {
    status(`${what} failed: ${err.message}`);
    return undefined;
  }
}

// Signing in and out.

function showConsole(on) {
  $('signin').hidden = on;
  $('console').hidden = !on;
  $('signed-in').hidden = !on;
}

async function enter() {
  // A stored token may have expired: check it before showing anything.
  let first;
  try {
    first = await api.stats();
  } catch (err) {
    if (err.status === 401 || err.status === 403) signOut(err.status === 403 ? 'This token is not an admin\'s.' : '');
    else $('signin-error').textContent = `The server cannot be reached: ${err.message}`;
    return;
  }
  showConsole(true);
  showStats(first);
  statsTimer = setInterval(pollStats, 2000);
  feed.start(api, $('feed-room').value.trim());
  loadWords();
  loadBans();
  loadReports();
}

function signOut(msg = '') {
  clearInterval(statsTimer);
  statsTimer = 0;
  lastStats = null;
  feed.stop();
  api.logout();
  showConsole(false);
  $('signin-error').textContent = msg;
  $('signin-password').value = '';
  $('signin-password').focus();
}

$('signin-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const button = ev.submitter || $('signin-form').querySelector('button');
  button.disabled = true;
  $('signin-error').textContent = '';
  try {
    await api.login($('signin-password').value);
    $('signin-password').value = '';
    await enter();
  } catch (err) {
    $('signin-error').textContent = err.status === 401 ? 'Wrong password.' : `Sign-in failed: ${err.message}`;
    $('signin-password').select();
  } finally {
    button.disabled = false;
  }
});

$('sign-out').addEventListener('click', () => signOut());

// Live figures.

const fmt = (v) => (v === null || v === undefined ? '–' : v < 10 ? v.toFixed(1) : String(Math.round(v)));

function showStats(s) {
  $('fig-viewers').textContent = String(s.viewers ?? '–');
  $('fig-rooms').textContent = String(s.rooms ?? '–');
  const r = rates(lastStats, s);
  if (r) {
    $('fig-accepted').textContent = fmt(r.accepted);
    $('fig-filtered').textContent = fmt(r.filtered);
    $('fig-dropped').textContent = fmt(r.dropped);
  }
  lastStats = s;
}

async function pollStats() {
  try {
    showStats(await api.stats());
  } catch (err) {
    if (err.status !== 401) status(`Figures: ${err.message}`);
  }
}

// Feed actions.

// confirmDelete asks before a danmaku is deleted; it resolves true if the
// moderator confirms.
function confirmDelete(d) {
  const dialog = $('confirm');
  $('confirm-text').textContent = `Delete "${d.text ?? d.id}" from ${d.objectId}? Every viewer loses it at once.`;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.returnValue = '';
    dialog.showModal();
    $('confirm-cancel').focus();
  });
}

// deleteDanmaku deletes d ({objectId, id, text}) once confirmed; it
// resolves true when deleted.
async function deleteDanmaku(d) {
  if (!(await confirmDelete(d))) return false;
  const ok = await act('Delete', () => api.deleteDanmaku(d.objectId, d.id));
  if (ok === undefined) return false;
  feed.markDeleted(d.id);
  browser.markDeleted(d.id);
  reports.markDeleted(d.id);
  status(`Deleted ${d.id} from ${d.objectId}.`);
  return true;
}

function loadReports() {
  reports.load(api);
}

$('reports-load').addEventListener('click', loadReports);

$('browse-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const from = parsePlay($('browse-from').value);
  if (Number.isNaN(from)) {
    $('browse-state').textContent = 'From is a playback time such as 90 or 1:30.';
    return;
  }
  browser.search(api, { room: $('browse-room').value.trim(), from, user: $('browse-user').value.trim(), q: $('browse-q').value.trim() });
});

function prepareBan(userId, roomId) {
  $('ban-user').value = userId;
  $('ban-room').value = roomId;
  $('ban-reason').focus();
  status(`Banning ${userId}: choose a duration and a reason, then Ban.`);
}

$('feed-filter').addEventListener('submit', (ev) => {
  ev.preventDefault();
  feed.start(api, $('feed-room').value.trim());
});

// Room controls.

function showRoom(st) {
  currentRoom = st.objectId;
  $('room-settings').hidden = false;
  $('room-paused').checked = !!st.paused;
  $('room-slow').value = String(st.slowModeSeconds ?? 0);
  $('room-cap').value = String(st.maxPerTick ?? '');
  $('room-tick').value = String(st.tickMs ?? '');
  const live = st.live && !st.live.endedAt ? st.live : null;
  $('room-live').textContent = live ? `running since ${new Date(live.startedAt).toLocaleTimeString()}` : 'no session';
  $('live-start').disabled = !!live;
  $('live-end').disabled = !live;
}

$('room-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const id = $('room-id').value.trim();
  const st = await act('Loading the room', () => api.room(id));
  if (st) showRoom(st);
});

$('room-settings').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const patch = {
    paused: $('room-paused').checked,
    slowModeSeconds: Number($('room-slow').value) || 0,
  };
  if ($('room-cap').value !== '') patch.maxPerTick = Math.round(Number($('room-cap').value));
  if ($('room-tick').value !== '') patch.tickMs = Math.round(Number($('room-tick').value));
  const st = await act('Saving the room', () => api.setRoom(currentRoom, patch));
  if (st) {
    showRoom(st);
    status(`Saved ${st.objectId}.`);
  }
});

async function live(start) {
  if (!currentRoom) {
    status('Load a room first.');
    return;
  }
  const what = start ? 'Starting the live session' : 'Ending the live session';
  const res = await act(what, () => (start ? api.startLive(currentRoom) : api.endLive(currentRoom)));
  if (!res) return;
  const st = await act('Loading the room', () => api.room(currentRoom));
  if (st) showRoom(st);
  status(start ? `Live session started in ${currentRoom}.` : `Live session ended in ${currentRoom}.`);
}

$('live-start').addEventListener('click', () => live(true));
$('live-end').addEventListener('click', () => live(false));

// Words.

async function loadWords() {
  const res = await act('Loading words', () => api.words(wordsRoom));
  if (!res) return;
  $('words-title').textContent = wordsRoom ? `room ${wordsRoom}` : 'global';
  const list = $('words-list');
  list.replaceChildren();
  const rules = Array.isArray(res.rules) ? res.rules : [];
  if (rules.length === 0) list.append(el('li', 'No words.', { class: 'muted' }));
  for (const r of rules) {
    const li = el('li');
    li.dataset.word = r.word;
    const remove = el('button', 'Remove', { type: 'button' });
    remove.addEventListener('click', async () => {
      if (await act('Removing a word', () => api.removeWord(wordsRoom, r.word)) !== undefined) loadWords();
    });
    li.append(el('span', r.word), el('span', r.action, { class: 'muted' }), remove);
    list.append(li);
  }
}

$('words-scope').addEventListener('submit', (ev) => {
  ev.preventDefault();
  wordsRoom = $('words-room').value.trim();
  loadWords();
});

$('word-add').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const word = $('word-text').value.trim();
  if (!word) return;
  const done = await act('Adding a word', () => api.addWord(wordsRoom, word, $('word-action').value));
  if (done !== undefined) {
    $('word-text').value = '';
    status(`Added "${word}" to the ${wordsRoom ? `list of ${wordsRoom}` : 'global list'}.`);
    loadWords();
  }
});

// Bans.

async function loadBans() {
  const res = await act('Loading bans', () => api.bans(''));
  if (!res) return;
  const list = $('bans-list');
  list.replaceChildren();
  const bans = Array.isArray(res.bans) ? res.bans : [];
  if (bans.length === 0) list.append(el('li', 'No bans.', { class: 'muted' }));
  for (const b of bans) {
    const where = b.room ? `in ${b.room}` : 'everywhere';
    const until = b.until && !String(b.until).startsWith('0001-') ? `until ${new Date(b.until).toLocaleString()}` : 'permanent';
    const li = el('li');
    // An address ban names its range (addr) instead of a user; one that
    // followed an anonymous id's ban says whose (for).
    const who = b.userId || `address ${b.addr}${b.for ? ` (of ${b.for})` : ''}`;
    li.dataset.user = b.userId || b.addr;
    const unban = el('button', 'Unban', { type: 'button' });
    unban.addEventListener('click', async () => {
      if (await act('Unbanning', () => api.unban(b.userId, b.room || '', b.addr)) !== undefined) loadBans();
    });
    li.append(el('span', `${who} ${where}, ${until}${b.reason ? `: ${b.reason}` : ''}`), unban);
    list.append(li);
  }
}

$('import-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const roomId = $('import-room').value.trim();
  const file = $('import-file').files[0];
  if (!roomId || !file) return;
  $('import-result').textContent = `Importing ${file.name}…`;
  try {
    const r = await api.importXML(roomId, file);
    $('import-result').textContent = `Imported ${r.imported}, already present ${r.present}, skipped ${r.skipped} into ${roomId}.`;
  } catch (err) {
    $('import-result').textContent = `Import failed: ${err.message}`;
  }
});

$('ban-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const user = $('ban-user').value.trim();
  const roomId = $('ban-room').value.trim();
  const seconds = Number($('ban-duration').value);
  const reason = $('ban-reason').value.trim();
  if (await act('Banning', () => api.ban(user, roomId, reason, seconds)) !== undefined) {
    status(`Banned ${user} ${roomId ? `in ${roomId}` : 'everywhere'}.`);
    $('ban-reason').value = '';
    loadBans();
  }
});

// Test hook: what the page shows, for the browser tests.
window.__admin = {
  signedIn: () => !$('console').hidden,
  feed: () => feed.snapshot(),
  feedState: () => feed.state,
  browse: () => browser.snapshot(),
  reports: () => reports.snapshot(),
  stats: () => lastStats,
};

if (api.signedIn) enter(); else showConsole(false);
