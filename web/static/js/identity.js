// identity.js decides who the viewer is. For now that is a random id made
// once and kept in localStorage, sent as userId with every danmaku; when
// the server authenticates viewers with a cookie, only this module changes.

const KEY = 'danmakud.userId';

function randomId() {
  const b = new Uint8Array(9);
  crypto.getRandomValues(b);
  return 'u-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

// userId returns the viewer's id, making and remembering one on first use.
export function userId(storage = window.localStorage) {
  try {
    let id = storage.getItem(KEY);
    if (!id || !/^u-[0-9a-f]{18}$/.test(id)) {
      id = randomId();
      storage.setItem(KEY, id);
    }
    return id;
  } catch {
    return randomId(); // Storage is disabled: a new id per page.
  }
}

// sendIdentity returns the fields that identify the sender in a send body.
export function sendIdentity() {
  return { userId: userId() };
}
