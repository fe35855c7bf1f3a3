'use strict';
// Behaviour of loopwatch.js under the Max stand-in (tests/harness.js).
// Run: node --test max_for_live/tests/

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const { createDevice, loadFixture, routeMap, FIXTURE_DIR } = require('./harness.js');

const SESSION = loadFixture(path.join(FIXTURE_DIR, 'daemon_session.json'));
const BASS = '/Users/sam/Music/Night Drive Project/Samples/Recorded/Bass 1 [2026-11-21 174300].wav';
const DRUMS = '/Users/sam/Music/Night Drive Project/Samples/Processed/Consolidate/Drums 3 [2026-11-21 174512].wav';
const KEYS = '/Users/sam/Music/Night Drive Project/Samples/Recorded/Keys 2.aif';
const BROKEN_LIVE = 'C:\\Users\\Sam\\Music\\Night Drive Project\\Samples\\Imported\\Broken Take.wav';

// Colours documented in README.md.
const COLOURS = { ok: 0x3DC300, warn: 0xFFA600, error: 0xFF3636, failed: 0xB677FF };

function alert(id, p, severity, check, t0) {
  return ['/loopwatch/alert', id, p || `/Music/take ${id}.wav`, severity || 'warn', check || 'click', t0 === undefined ? 1.0 : t0, (t0 || 1.0) + 0.001, 10.0, 'msg'];
}

function feed(h, messages) {
  for (const [address, ...args] of messages) assert.ok(h.osc_in(address, ...args), `not routed: ${address}`);
}

function longFixturePath(messages) {
  return messages.find((m) => m[0] === '/loopwatch/alert' && String(m[2]).startsWith('\u2026'))[2];
}

test('the patch routes every daemon push address to a handler the script defines', () => {
  const routes = routeMap();
  assert.deepEqual(Object.keys(routes).sort(), [
    '/loopwatch/alert', '/loopwatch/clear', '/loopwatch/done', '/loopwatch/error', '/loopwatch/file', '/loopwatch/status',
  ]);
  const h = createDevice();
  for (const handler of Object.values(routes)) {
    assert.equal(typeof h.ctx[handler], 'function', handler);
    assert.ok(!h.ctx[handler].local, `${handler} must be callable as a message`);
  }
  for (const msg of ['probe', 'init', 'tick', 'shutdown', 'setport', 'setdaemonport', 'colour_clips', 'ack_button',
    'clear_button', 'select_row', 'loadbang']) {
    assert.equal(typeof h.ctx[msg], 'function', msg);
    assert.ok(!h.ctx[msg].local, msg);
  }
});

test('before live.thisdevice: no output, no LiveAPI, but state is kept', () => {
  const h = createDevice({ live: { tracks: [{ clip_slots: [{ file_path: BASS }] }] } });
  feed(h, SESSION);
  h.send('setport', 9710);
  h.send('colour_clips', 1);
  h.flush();
  assert.deepEqual(h.out.map((o) => o.length), [0, 0, 0, 0, 0, 0, 0]);
  assert.equal(h.live.constructed.length, 0);
  assert.equal(h.state().alerts.length, 7);
  assert.equal(h.state().replyPort, 9710);
});

test('init subscribes with a unique client id and the reply port, then syncs', () => {
  const a = createDevice({ live: { deviceId: 11 } });
  const b = createDevice({ live: { deviceId: 12 } });
  a.thisdevice();
  b.thisdevice();
  const [sub, sync] = a.osc;
  assert.equal(sub[0], '/loopwatch/subscribe');
  assert.match(sub[1], /^m4l-11-[0-9a-z]{8}$/);
  assert.deepEqual(sub.slice(2), ['m4l', 9702]);
  assert.deepEqual(sync, ['/loopwatch/sync', sub[1], 0]);
  assert.equal(a.osc.length, 2, 'the metro\'s first tick right after init does not subscribe twice');
  assert.notEqual(b.osc[0][1], sub[1]);
  assert.match(a.text.status, /connecting to 127\.0\.0\.1:9701/);
  assert.equal(a.text.count, 'no alerts');
  assert.deepEqual(a.table.table(), [['', 'no alerts', '', '']]);
  assert.deepEqual(a.table.widths, { 0: 40, 1: 150, 2: 80, 3: 62 });
  assert.match(a.text.info, /listening on port 9702 . engine v8/);
});

test('the daemon session is listed newest first with file, check, time and severity', () => {
  const h = createDevice();
  h.thisdevice();
  feed(h, SESSION);
  h.flush();
  assert.deepEqual(h.alertIds(), [9, 8, 7, 6, 5, 4, 3]);
  assert.deepEqual(h.table.table(), [
    ['WARN', 'Voix \u00e9t\u00e9 1.wav', 'click', '0.750 s'],
    ['WARN', 'input:Scarlett 2i2 USB', 'clipping', '125.300 s'],
    ['ERR', 'Pad 7.wav', 'clipping', '10.000 s'],
    ['WARN', 'Bass 1 [2026-11-21 174300].wav', 'click', '2.500 s'],
    ['ERR', 'broken take.wav', 'decode', '0.000 s'],
    ['WARN', 'Drums 3 [2026-11-21 174512].wav', 'outlier', '0.000 s'],
    ['WARN', 'Drums 3 [2026-11-21 174512].wav', 'seam', '7.990 s'],
  ]);
  assert.deepEqual(h.table.colours['0,2'], [200, 55, 55]);   // ERR
  assert.deepEqual(h.table.colours['0,0'], [215, 140, 30]);  // WARN
  assert.equal(h.text.count, '7 alerts (2 error, 5 warn)');
  assert.equal(h.text.status, '\u25CF connected \u00B7 idle \u00B7 queue 0 \u00B7 model bass (cpu)');
  assert.equal(h.text.info, 'daemon error (/loopwatch/score): path outside the allowed roots: /etc/passwd');
  assert.equal(h.state().lastSeenId, 9);
  assert.deepEqual(h.posts, []);
  const a1 = h.state().alerts.find((a) => a.id === 6);
  assert.equal(a1.message, 'click at 2.500 s (+13 dB above local residual)');
});

test('a burst is drawn once, after the burst', () => {
  const h = createDevice();
  h.thisdevice();
  const before = h.out[1].length;
  for (let i = 1; i <= 50; i++) h.osc_in(...alert(i));
  assert.equal(h.out[1].length, before, 'nothing drawn synchronously');
  h.flush();
  const clears = h.out[1].slice(before).filter((m) => m[0] === 'clear').length;
  assert.equal(clears, 1);
  assert.equal(h.table.rows, 50);
});

test('duplicates (a repeated sync) are shown once; more than 500 alerts keep the newest', () => {
  const h = createDevice();
  h.thisdevice();
  feed(h, SESSION);
  feed(h, SESSION.filter((m) => m[0] === '/loopwatch/alert' && m[1] >= 3));
  h.flush();
  assert.deepEqual(h.alertIds(), [9, 8, 7, 6, 5, 4, 3]);
  for (let i = 1000; i < 1600; i++) h.osc_in(...alert(i));
  h.flush();
  assert.equal(h.state().alerts.length, 500);
  assert.equal(h.alertIds()[0], 1599);
  assert.equal(h.alertIds()[499], 1100);
  // out-of-order arrival still sorts by id
  const g = createDevice();
  g.thisdevice();
  for (const id of [5, 2, 9, 7]) g.osc_in(...alert(id));
  g.flush();
  assert.deepEqual(g.alertIds(), [9, 7, 5, 2]);
});

test('/loopwatch/clear path removes only that file; a shortened path matches by suffix; "" clears all', () => {
  const h = createDevice();
  h.thisdevice();
  feed(h, SESSION);
  h.flush();
  h.osc_in('/loopwatch/clear', DRUMS);
  h.flush();
  assert.deepEqual(h.alertIds(), [9, 8, 7, 6, 5]);
  // the daemon shortens the same long path differently in another datagram
  const long = longFixturePath(SESSION);
  h.osc_in('/loopwatch/clear', '\u2026' + long.slice(40));
  h.flush();
  assert.deepEqual(h.alertIds(), [9, 8, 6, 5]);
  // a Windows path with other separators/case still names the same file
  h.osc_in('/loopwatch/clear', 'c:/users/sam/music/night drive project/samples/imported/BROKEN TAKE.wav');
  h.flush();
  assert.deepEqual(h.alertIds(), [9, 8, 6]);
  // a path that is only a suffix of a stored full path is not "shortened": no match
  h.osc_in('/loopwatch/clear', 'Recorded/Bass 1 [2026-11-21 174300].wav');
  h.flush();
  assert.deepEqual(h.alertIds(), [9, 8, 6]);
  h.osc_in('/loopwatch/clear', '');
  h.flush();
  assert.deepEqual(h.alertIds(), []);
  assert.equal(h.text.count, 'no alerts');
  assert.equal(h.text.info, 'the daemon cleared every alert');
  // one side shortened, the other full, either way round
  h.osc_in(...alert(60, '/Music/Set/Samples/Recorded/Vox 1.wav'));
  h.osc_in(...alert(61, '\u2026Samples/Recorded/Vox 2.wav'));
  h.osc_in(...alert(62, '/Music/Set/Samples/Recorded/Vox 3.wav'));
  h.osc_in('/loopwatch/clear', '\u2026/Recorded/Vox 1.wav');
  h.osc_in('/loopwatch/clear', '/Music/Set/Samples/Recorded/Vox 2.wav');
  h.osc_in('/loopwatch/clear', '\u2026Recorded/Vox 1.wav.asd');
  h.flush();
  assert.deepEqual(h.alertIds(), [62]);
  h.osc_in('/loopwatch/clear', '');
  // udpreceive may hand over an empty symbol or no atom at all
  h.osc_in(...alert(50));
  h.send('osc_clear');
  h.flush();
  assert.deepEqual(h.alertIds(), []);
});

test('Clear empties the list locally; the daemon is not told; a later sync starts after the last seen id', () => {
  const h = createDevice();
  h.thisdevice();
  feed(h, SESSION);
  h.flush();
  const sent = h.osc.length;
  h.send('clear_button', 0);
  assert.equal(h.state().alerts.length, 7, 'a button release does nothing');
  h.send('clear_button', 1);
  h.flush();
  assert.deepEqual(h.alertIds(), []);
  assert.equal(h.osc.length, sent);
  assert.deepEqual(h.table.table(), [['', 'no alerts', '', '']]);
  assert.equal(h.table.colours['0,0'], undefined);
  h.send('init');  // live.thisdevice fires again on preset load / save
  const sync = h.osc.filter((m) => m[0] === '/loopwatch/sync').pop();
  assert.equal(sync[2], 9);
});

test('Ack acknowledges the selected alert, or every alert when none is selected', () => {
  const h = createDevice();
  h.thisdevice();
  feed(h, SESSION);
  h.flush();
  assert.equal(h.text.selection, 'Ack: all 7 (no row selected)');
  // click the third row (the table outputs "col row value")
  h.send('select_row', 1, 2, 'Pad 7.wav');
  assert.equal(h.text.selection, 'Ack: clipping at 10.000 s in Pad 7.wav');
  const before = h.osc.length;
  h.send('ack_button', 0);  // a button release (0) does nothing
  assert.equal(h.osc.length, before);
  h.send('ack_button', 'bang');
  h.flush();
  assert.deepEqual(h.osc.slice(before), [['/loopwatch/ack', 7]]);
  assert.deepEqual(h.alertIds(), [9, 8, 6, 5, 4, 3]);
  assert.equal(h.state().selectedId, -1);
  // a click below the last row selects nothing
  h.send('select_row', 0, 40, '');
  assert.equal(h.state().selectedId, -1);
  const before2 = h.osc.length;
  h.send('ack_button');
  h.flush();
  assert.deepEqual(h.osc.slice(before2), [9, 8, 6, 5, 4, 3].map((id) => ['/loopwatch/ack', id]));
  assert.deepEqual(h.alertIds(), []);
  // the selection follows the alert, not the row, when new alerts arrive
  h.osc_in(...alert(20));
  h.osc_in(...alert(21));
  h.flush();
  h.send('select_row', 0, 1, '');  // id 20
  h.osc_in(...alert(22));
  h.flush();
  assert.deepEqual(h.table.selected, [0, 2], 'the highlight moves with the alert');
  assert.match(h.text.selection, /^Ack: click at 1\.000 s in take 20\.wav$/);
  const before3 = h.osc.length;
  h.send('ack_button');
  assert.deepEqual(h.osc.slice(before3), [['/loopwatch/ack', 20]]);
});

test('connected means a /loopwatch/status within the last 12 s; the subscription is renewed every tick', () => {
  const h = createDevice();
  h.thisdevice();
  h.advance(12500);
  h.send('tick');
  assert.match(h.text.status, /^\u25CB no daemon on 127\.0\.0\.1:9701/);
  h.osc_in('/loopwatch/status', 'busy', 3, 'drums', 'cuda');
  assert.equal(h.text.status, '\u25CF connected \u00B7 busy \u00B7 queue 3 \u00B7 model drums (cuda)');
  h.advance(11000);
  h.send('tick');
  assert.match(h.text.status, /connected/);
  h.advance(2000);
  h.send('tick');
  assert.match(h.text.status, /no daemon/);
  h.osc_in('/loopwatch/status', 'idle', 0, '', 'none');
  assert.equal(h.text.status, '\u25CF connected \u00B7 idle \u00B7 queue 0 \u00B7 no model');
  const subs = () => h.osc.filter((m) => m[0] === '/loopwatch/subscribe').length;
  const n = subs();
  h.advance(5000);
  h.send('tick');
  assert.equal(subs(), n + 1);
  h.advance(1000);
  h.send('tick');  // a stray early tick does not flood the daemon
  assert.equal(subs(), n + 1);
});

test('changing the listen port re-subscribes with the new reply port and re-syncs', () => {
  const h = createDevice();
  h.thisdevice();
  feed(h, SESSION);
  const before = h.osc.length;
  h.send('setport', 9712);
  const [sub, sync] = h.osc.slice(before);
  assert.deepEqual(sub.slice(2), ['m4l', 9712]);
  assert.deepEqual(sync.slice(2), [9]);
  assert.equal(sub[1], h.osc[0][1], 'same client id');
  h.send('setport', 9712.0);  // live.numbox may send a float: no repeat
  h.send('setport', 0);
  h.send('setport', 70000);
  h.send('setport', 'x');
  assert.equal(h.osc.length, before + 2);
  h.send('setdaemonport', 9801);
  assert.equal(h.osc.length, before + 4);
  assert.match(h.text.status, /127\.0\.0\.1:9801/);
});

test('shutdown unsubscribes once; nothing is sent after it', () => {
  const h = createDevice();
  h.thisdevice();
  h.send('shutdown');
  assert.deepEqual(h.osc.pop(), ['/loopwatch/unsubscribe', h.state().clientId]);
  const n = h.osc.length;
  h.send('shutdown');
  h.send('tick');
  h.send('ack_button');
  assert.equal(h.osc.length, n);
});

test('only the embedded [v8] copy announces itself; the [js] fallback never does', () => {
  const v8 = createDevice();
  v8.send('loadbang');
  v8.send('probe');
  assert.deepEqual(v8.out[5], [['engine', 'v8'], ['engine', 'v8']]);
  const js = createDevice({ fallback: true });
  js.send('loadbang');
  js.send('probe');
  assert.deepEqual(js.out[5], []);
  js.thisdevice();
  assert.match(js.text.info, /engine js/);
});

test('unknown messages are reported, not fatal', () => {
  const h = createDevice();
  h.send('frobnicate', 1, 2);
  h.send('nowMs');  // local helpers are not messages
  assert.deepEqual(h.posts, ['loopwatch: unknown message frobnicate\n', 'loopwatch: unknown message nowMs\n']);
  h.osc_in('/loopwatch/alert', 1, '/x.wav');  // short: ignored with a message
  assert.equal(h.state().alerts.length, 0);
  assert.equal(h.posts.length, 3);
});

// ------------------------------------------------------------------ clip colouring

function liveSet(extra) {
  return Object.assign({
    tracks: [
      {
        clip_slots: [
          { file_path: BASS, color: 0x111111 },
          null,
          { file_path: KEYS, color: 0x222222 },
          { audio: false, color: 0x333333 },                 // MIDI clip
          { file_path: '/elsewhere/unrelated.wav', color: 0x444444 },
        ],
        arrangement_clips: [{ file_path: DRUMS, color: 0x555555 }],
      },
      {
        clip_slots: [{ file_path: BROKEN_LIVE, color: 0x666666 }],
        arrangement_clips: [
          { file_path: '/Users/sam/Music/' + 'A Very Long Folder Name That Producers Use/'.repeat(30) + 'Pad 7.wav', color: 0x777777 },
          { file_path: '/Users/sam/Music/Caf\u00e9 Sessions/Samples/Recorded/Voix \u00e9t\u00e9 1.wav'.normalize('NFD'), color: 0x888888 },
        ],
      },
    ],
  }, extra || {});
}

function colourOf(h, p) {
  return h.live.clipAt(p).color;
}

test('file verdicts colour matching audio clips in session slots and the arrangement', () => {
  const h = createDevice({ live: liveSet() });
  h.thisdevice();
  feed(h, SESSION);
  h.flush();
  assert.equal(colourOf(h, 'live_set tracks 0 clip_slots 0 clip'), COLOURS.warn);    // Bass: error, then warn after re-score
  assert.equal(colourOf(h, 'live_set tracks 0 clip_slots 2 clip'), COLOURS.ok);      // Keys
  assert.equal(colourOf(h, 'live_set tracks 0 clip_slots 3 clip'), 0x333333);        // MIDI: untouched
  assert.equal(colourOf(h, 'live_set tracks 0 clip_slots 4 clip'), 0x444444);        // no verdict: untouched
  assert.equal(colourOf(h, 'live_set tracks 0 arrangement_clips 0'), COLOURS.warn);  // Drums
  assert.equal(colourOf(h, 'live_set tracks 1 clip_slots 0 clip'), COLOURS.failed);  // Windows path, other case
  assert.equal(colourOf(h, 'live_set tracks 1 arrangement_clips 0'), COLOURS.error); // shortened path: suffix
  assert.equal(colourOf(h, 'live_set tracks 1 arrangement_clips 1'), COLOURS.warn);  // NFD vs NFC
  // the whole burst caused one scan, and each clip was set once
  const sets = h.sets();
  assert.ok(sets.every((c) => c.prop === 'color'));
  assert.equal(sets.length, 6);
  assert.equal(h.live.calls.filter((c) => c.op === 'getcount' && c.prop === 'tracks').length, 1);
});

test('verdicts that arrive before live.thisdevice are applied after it; LiveAPI waits for it', () => {
  const h = createDevice({ live: liveSet() });
  feed(h, SESSION);
  h.flush();
  assert.equal(h.live.constructed.length, 0);
  h.thisdevice();
  h.flush();
  assert.equal(colourOf(h, 'live_set tracks 0 clip_slots 2 clip'), COLOURS.ok);
});

test('a new verdict recolours; the same verdict again sets nothing', () => {
  const h = createDevice({ live: liveSet() });
  h.thisdevice();
  h.osc_in('/loopwatch/file', KEYS, 'error', 2.5, 1, 'keys');
  h.flush();
  assert.equal(colourOf(h, 'live_set tracks 0 clip_slots 2 clip'), COLOURS.error);
  const n = h.sets().length;
  h.osc_in('/loopwatch/file', KEYS, 'error', 2.5, 1, 'keys');
  h.flush();
  assert.equal(h.sets().length, n);
  h.osc_in('/loopwatch/file', KEYS, 'ok', 0.2, 0, 'keys');
  h.flush();
  assert.equal(colourOf(h, 'live_set tracks 0 clip_slots 2 clip'), COLOURS.ok);
  assert.equal(h.sets().length, n + 1);
  // switching off restores the colour from before the first change
  h.send('colour_clips', 0);
  assert.equal(colourOf(h, 'live_set tracks 0 clip_slots 2 clip'), 0x222222);
});

test('the toggle: off restores the colours the device changed, on colours again', () => {
  const h = createDevice({ live: liveSet() });
  h.thisdevice();
  feed(h, SESSION);
  h.flush();
  h.send('colour_clips', 0);
  assert.equal(colourOf(h, 'live_set tracks 0 clip_slots 0 clip'), 0x111111);
  assert.equal(colourOf(h, 'live_set tracks 0 clip_slots 2 clip'), 0x222222);
  assert.equal(colourOf(h, 'live_set tracks 1 arrangement_clips 0'), 0x777777);
  h.osc_in('/loopwatch/file', KEYS, 'error', 2.5, 1, 'keys');
  h.flush();
  assert.equal(colourOf(h, 'live_set tracks 0 clip_slots 2 clip'), 0x222222, 'off: verdicts do not colour');
  h.send('colour_clips', 1);
  h.flush();
  assert.equal(colourOf(h, 'live_set tracks 0 clip_slots 2 clip'), COLOURS.error);
  assert.equal(colourOf(h, 'live_set tracks 0 clip_slots 0 clip'), COLOURS.warn);
});

test('string properties that LiveAPI splits at spaces are joined back', () => {
  const h = createDevice({ live: liveSet({ splitStrings: true }) });
  h.thisdevice();
  feed(h, SESSION);
  h.flush();
  assert.equal(colourOf(h, 'live_set tracks 0 clip_slots 0 clip'), COLOURS.warn);
});

test('Live 10 (no Track.arrangement_clips): session clips only, no arrangement queries', () => {
  const h = createDevice({ live: liveSet({ major: 10 }) });
  h.thisdevice();
  feed(h, SESSION);
  h.flush();
  assert.equal(colourOf(h, 'live_set tracks 0 clip_slots 2 clip'), COLOURS.ok);
  assert.equal(colourOf(h, 'live_set tracks 0 arrangement_clips 0'), 0x555555);
  assert.ok(!h.live.calls.some((c) => c.prop === 'arrangement_clips'));
});
