// signin.js keeps the viewer's sign-in token: a JSON Web Token that the
// host site issued (HS256, signed with the secret it shares with
// danmakud). The player takes it from its own address (#token=… or
// ?token=…) or from the sign-in field of the settings panel, checks it
// with the server, and remembers it in localStorage until the viewer signs
// out. The token is only ever handled as a string: it is sent as
// "Authorization: Bearer …" and, on the live WebSocket, which cannot carry
// headers, as the "token" query parameter the server reads there.

import { Identity } from './identity.js';

const KEY = 'danmakud.token.v1';

// MAX_TOKEN_LEN is the longest token the server accepts, in bytes.
export const MAX_TOKEN_LEN = 4096;

// JWT_RE matches the compact form of a signed JSON Web Token: three
// base64url parts separated by dots.
const JWT_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

// normalizeToken returns the token in s, trimmed and without a "Bearer "
// prefix that a viewer may have copied with it, or '' when s does not look
// like a signed token.
export function normalizeToken(s) {
  if (typeof s !== 'string') return '';
  const t = s.trim().replace(/^bearer\s+/i, '');
  if (t.length > MAX_TOKEN_LEN || !JWT_RE.test(t)) return '';
  return t;
}

// loadToken returns the remembered token, or ''.
export function loadToken(storage = window.localStorage) {
  try {
    return normalizeToken(storage.getItem(KEY) || '');
  } catch {
    return ''; // Storage may be disabled; the viewer then signs in per page.
  }
}

// saveToken remembers token.
export function saveToken(token, storage = window.localStorage) {
  try {
    storage.setItem(KEY, token);
  } catch {
    // Storage may be full or disabled; the sign-in then lasts for the page.
  }
}

// forgetToken removes the remembered token.
export function forgetToken(storage = window.localStorage) {
  try {
    storage.removeItem(KEY);
  } catch {
    // Nothing was remembered.
  }
}

// takeTokenFromURL reads a token from the page address, from its fragment
// (#token=…, which browsers never send to a server) or else its query
// (?token=…), and removes it from the address and the history entry, so
// that it is not bookmarked, shared or shown. It returns {present, token}:
// present tells whether the address named a token at all, and token is ''
// when what it named is not a token.
export function takeTokenFromURL(loc = window.location, history = window.history) {
  const hash = new URLSearchParams(loc.hash.replace(/^#/, ''));
  const query = new URLSearchParams(loc.search);
  const raw = hash.get('token') ?? query.get('token');
  if (raw === null) return { present: false, token: '' };
  hash.delete('token');
  query.delete('token');
  const search = query.toString();
  const frag = hash.toString();
  try {
    history.replaceState(history.state, '', loc.pathname + (search ? `?${search}` : '') + (frag ? `#${frag}` : ''));
  } catch {
    // The address keeps the token; the sign-in still works.
  }
  return { present: true, token: normalizeToken(raw) };
}

// tokenExpiry returns when token expires (its "exp" claim) as a Date, or
// null if it cannot tell. The server checks the token; this is only for
// showing the viewer how long the sign-in lasts.
export function tokenExpiry(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(atob(part + '='.repeat((4 - (part.length % 4)) % 4)));
    const exp = Number(claims && claims.exp);
    return Number.isFinite(exp) && exp > 0 ? new Date(exp * 1000) : null;
  } catch {
    return null;
  }
}

// checkToken asks the server, through client (an SDK Client), who token
// names. It resolves with the signed-in Identity, or rejects with the
// server's DanmakuError (status 401 for a token it refuses). Network
// failures are retried a few times.
export async function checkToken(client, token, { tries = 4, delayMs = 500 } = {}) {
  for (let i = 0; ; i++) {
    try {
      const who = new Identity(await client.me(token));
      if (!who.known || who.anonymous) throw new Error('the server did not take the token as a user');
      return who;
    } catch (err) {
      if (!(err && err.status === 0 && i + 1 < tries)) throw err;
      await new Promise((r) => setTimeout(r, delayMs * (i + 1)));
    }
  }
}

// SIGN_IN_HINT tells the viewer where to sign in.
const SIGN_IN_HINT = 'paste your token under "Sign in" in the settings';

// unauthorizedMessage explains a send that the server refused as
// unauthorized (err): without a token (withToken false), sign-in is
// required; with one, the token was refused (expired, or not signed by the
// host site) and the viewer is signed out.
export function unauthorizedMessage(err, withToken) {
  if (withToken) {
    return `Not sent: your sign-in was refused (${err.message}), so you are signed out. To send, ${SIGN_IN_HINT} again.`;
  }
  return `Not sent: sign-in required. This server only takes danmaku from signed-in viewers: ${SIGN_IN_HINT}.`;
}
