// socketio-client.mjs connects the npm socket.io-client, with its default
// options (long-polling first, then the upgrade to WebSocket), to namespace
// /video/{objectId} of a danmakud and prints one JSON line per event:
// {"event":"ready","transport":"websocket"} once connected and upgraded,
// {"event":"ack",...} with the answer to an emit it tries, then
// {"event":"message","body":…} for each danmaku received, and
// {"event":"done"} after the wanted count.
//
// Usage: node socketio-client.mjs http://127.0.0.1:PORT objectId count
import { io } from 'socket.io-client';

const [base, objectId, count] = process.argv.slice(2);
const want = Number(count);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const socket = io(base + '/video/' + objectId);
let connected = false;
let upgraded = false;
let acked = false;
let readySent = false;
let received = 0;

function maybeReady() {
  if (connected && upgraded && acked && !readySent) {
    readySent = true;
    out({ event: 'ready', transport: socket.io.engine.transport.name });
  }
}

socket.io.on('open', () => {
  const engine = socket.io.engine;
  out({ event: 'open', transport: engine.transport.name });
  if (engine.transport.name === 'websocket') {
    upgraded = true;
  }
  engine.on('upgrade', (t) => {
    out({ event: 'upgrade', transport: t.name });
    upgraded = true;
    maybeReady();
  });
});

socket.on('connect', () => {
  connected = true;
  // Clients cannot emit into the room: an emit that asks for an ack is
  // answered with an error.
  socket.timeout(10000).emit('message', { text: 'from a client' }, (err, answer) => {
    out({ event: 'ack', err: err ? String(err) : null, answer });
    acked = true;
    maybeReady();
  });
  maybeReady();
});

socket.on('connect_error', (err) => out({ event: 'connect_error', message: err.message }));

socket.on('message', (body) => {
  received++;
  out({ event: 'message', body });
  if (received === want) {
    out({ event: 'done', transport: socket.io.engine.transport.name });
    socket.disconnect();
    process.exit(0);
  }
});

setTimeout(() => {
  out({ event: 'timeout', received, connected, upgraded });
  process.exit(1);
}, 60000);
