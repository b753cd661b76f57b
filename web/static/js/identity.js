// identity.js tells the player who the viewer is. The server decides: in
// anonymous mode GET /danmu/me gives the browser a signed, HttpOnly cookie
// on its first visit and answers the id it holds; with authentication the
// answer is the signed-in user. The player never makes up an id, and sends
// none: the server takes the sender from the cookie or token.

// Identity is who the server says the viewer is. userId is '' for a viewer
// the server does not know (anonymous mode off and no credential).
export class Identity {
  constructor({ userId = '', role = 'viewer', rooms = [], anonymous = false } = {}) {
    this.userId = typeof userId === 'string' ? userId : '';
    this.role = typeof role === 'string' ? role : 'viewer';
    this.rooms = Array.isArray(rooms) ? rooms.map(String) : [];
    this.anonymous = anonymous === true;
  }

  // known reports whether the server gave the viewer an id.
  get known() { return this.userId !== ''; }

  // owns reports whether a danmaku (API or renderer shape) is the viewer's.
  owns(d) {
    return this.known && d != null && String(d.userId ?? '') === this.userId;
  }
}

// loadIdentity asks the server, through client (an SDK Client), who the
// viewer is (and, in anonymous mode, obtains the viewer's cookie). It
// retries a network failure a few times and resolves with an unknown
// Identity if the server still cannot tell.
export async function loadIdentity(client, { tries = 4, delayMs = 500 } = {}) {
  for (let i = 0; ; i++) {
    try {
      return new Identity(await client.me());
    } catch (err) {
      const retry = err && err.status === 0 && i + 1 < tries;
      if (!retry) return new Identity();
      await new Promise((r) => setTimeout(r, delayMs * (i + 1)));
    }
  }
}
