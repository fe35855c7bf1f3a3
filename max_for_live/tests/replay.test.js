'use strict';
// Replays every daemon session fixture (committed ones, plus any file listed in
// $LOOPWATCH_M4L_REPLAY, e.g. a session recorded from the real daemon) through
// the patch's route map into loopwatch.js, and checks the result against an
// independent model of the protocol's list semantics (docs/osc.md):
//   - an alert is listed once per alert_id, newest (highest id) first;
//   - /loopwatch/clear PATH forgets that path's alerts ("" = all), and a path
//     starting with U+2026 is matched by suffix;
//   - at most 500 alerts are kept.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const { replay, loadFixture, fixtureFiles, routeMap } = require('./harness.js');

const ELLIPSIS = '\u2026';
const MAX_ALERTS = 500;

function norm(p) {
  return p.normalize('NFC').replace(/\\/g, '/').toLowerCase();
}

function sameFile(a, b) {
  const ta = a.startsWith(ELLIPSIS);
  const tb = b.startsWith(ELLIPSIS);
  const na = norm(ta ? a.slice(1) : a);
  const nb = norm(tb ? b.slice(1) : b);
  if (!ta && !tb) return na === nb;
  if (ta && !tb) return nb.endsWith(na);
  if (!ta && tb) return na.endsWith(nb);
  return na.endsWith(nb) || nb.endsWith(na);
}

function model(messages) {
  let alerts = new Map();
  for (const [address, ...args] of messages) {
    if (address === '/loopwatch/alert') {
      alerts.set(args[0], { id: args[0], path: args[1], severity: args[2], check: args[3], t0: args[4] });
    } else if (address === '/loopwatch/clear') {
      const p = args.length ? String(args[0]) : '';
      alerts = new Map([...alerts].filter(([, a]) => p !== '' && !sameFile(a.path, p)));
    }
  }
  return [...alerts.values()].sort((x, y) => y.id - x.id).slice(0, MAX_ALERTS);
}

function basename(p) {
  const parts = p.replace(/\\/g, '/').split('/').filter((x) => x && x !== ELLIPSIS);
  return parts.length ? parts[parts.length - 1] : p;
}

const LABEL = { error: 'ERR', warn: 'WARN', info: 'INFO' };
const files = fixtureFiles();

test('there is at least one fixture to replay', () => {
  assert.ok(files.length >= 1);
});

for (const file of files) {
  test(`replay ${path.basename(file)}`, () => {
    const messages = loadFixture(file);
    const routes = routeMap();
    for (const [address] of messages) {
      assert.ok(address in routes, `${file}: ${address} is not routed by the patch`);
    }
    const h = replay(messages);
    const expected = model(messages);
    assert.deepEqual(h.alertIds(), expected.map((a) => a.id));
    const rows = expected.length ? expected.map((a) => [
      LABEL[a.severity] || a.severity.toUpperCase(), basename(a.path), a.check, `${a.t0.toFixed(3)} s`,
    ]) : [['', 'no alerts', '', '']];
    assert.deepEqual(h.table.table(), rows);
    assert.deepEqual(h.posts, [], 'every message was understood');
    const statuses = messages.filter((m) => m[0] === '/loopwatch/status');
    if (statuses.length) {
      const [, state, queue] = statuses[statuses.length - 1];
      assert.ok(h.text.status.includes(`connected \u00B7 ${state} \u00B7 queue ${queue}`), h.text.status);
    }
    const ids = messages.filter((m) => m[0] === '/loopwatch/alert').map((m) => m[1]);
    assert.equal(h.state().lastSeenId, ids.length ? Math.max(...ids) : 0);
  });
}
