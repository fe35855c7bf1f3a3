'use strict';
/*
 * A stand-in for Max around loopwatch.js, for tests under Node (no Max, no Live).
 *
 * - Loads loopwatch.js into a fresh vm context with Max's globals stubbed:
 *   outlet, post, messagename, arrayfromargs, inlets/outlets, jsarguments,
 *   setinletassist/setoutletassist, Task (on a virtual clock), LiveAPI
 *   (over a fake Live Set that records every call), Date.now (virtual clock).
 * - Dispatches messages the way [js]/[v8] do: a message calls the global
 *   function of that name unless it is marked `.local = 1`; otherwise
 *   anything() runs with `messagename` set.
 * - Delivers daemon messages the way the patch does: [udpreceive] makes the
 *   OSC address the selector, [route] strips it, [prepend <handler>] names the
 *   handler. The address -> handler map is read from LoopWatch.maxpat by
 *   following the patch cords, so the tests exercise the committed patch.
 * - Keeps a model of what the UI shows: the jit.cellblock table (clear all,
 *   rows, set, cell ... brgb, col ... width) and the live.comment texts.
 *
 * CLI (used by tests/test_max_device.py):
 *   node harness.js replay FIXTURE.json   replay a recorded/generated session
 *   node harness.js requests              print the OSC requests of a scripted session
 */

const fs = require('fs');
const path = require('path');
const vm = require('vm');

const M4L_DIR = path.resolve(__dirname, '..');
const SCRIPT_PATH = path.join(M4L_DIR, 'loopwatch.js');
const MAXPAT_PATH = path.join(M4L_DIR, 'LoopWatch.maxpat');
const FIXTURE_DIR = path.join(__dirname, 'fixtures');

function loadPatcher(file) {
  return JSON.parse(fs.readFileSync(file || MAXPAT_PATH, 'utf8')).patcher;
}

function boxesById(patcher) {
  const out = {};
  for (const b of patcher.boxes) out[b.box.id] = b.box;
  return out;
}

function cordsFrom(patcher, id, outlet) {
  return patcher.lines
    .map((l) => l.patchline)
    .filter((l) => l.source[0] === id && l.source[1] === outlet)
    .map((l) => l.destination);
}

/**
 * Follow udpreceive -> route -> prepend -> [v8] in the patch and return
 * {address: handler}. Throws when the chain is not wired as expected.
 */
function routeMap(patcher) {
  patcher = patcher || loadPatcher();
  const boxes = boxesById(patcher);
  const v8 = Object.values(boxes).find((b) => b.varname === 'engine_v8');
  const udp = Object.values(boxes).find((b) => (b.text || '').startsWith('udpreceive '));
  if (!v8 || !udp) throw new Error('patch has no engine_v8 or udpreceive');
  const routes = cordsFrom(patcher, udp.id, 0).map(([id]) => boxes[id]).filter((b) => (b.text || '').startsWith('route '));
  if (routes.length !== 1) throw new Error('udpreceive must feed exactly one route');
  const route = routes[0];
  const addresses = route.text.split(/\s+/).slice(1);
  const map = {};
  addresses.forEach((address, i) => {
    const preps = cordsFrom(patcher, route.id, i).map(([id]) => boxes[id]);
    if (preps.length !== 1 || !/^prepend \S+$/.test(preps[0].text)) {
      throw new Error(`route outlet ${i} (${address}) must feed one [prepend handler]`);
    }
    const toV8 = cordsFrom(patcher, preps[0].id, 0).some(([id, inlet]) => id === v8.id && inlet === 0);
    if (!toV8) throw new Error(`[${preps[0].text}] does not reach the v8 engine`);
    map[address] = preps[0].text.split(' ')[1];
  });
  return map;
}

// ------------------------------------------------------------------ fake Live

/**
 * A fake Live Set for LiveAPI. spec = {
 *   major: 12, deviceId: 7, splitStrings: false,
 *   tracks: [{ clip_slots: [clip | null], arrangement_clips: [clip] }]
 * } with clip = { audio: true, file_path: '...', color: 0x123456 }.
 */
class FakeLive {
  constructor(spec) {
    spec = spec || {};
    this.major = spec.major === undefined ? 12 : spec.major;
    this.splitStrings = !!spec.splitStrings;
    this.calls = [];
    this.constructed = [];
    this.byId = {};
    this.nextId = 100;
    this.root = this._node('live_set', { tracks: [] });
    this.device = this._node('this_device', {});
    this.device.id = spec.deviceId === undefined ? 7 : spec.deviceId;
    this.byId[this.device.id] = this.device;
    this.app = this._node('live_app', {});
    (spec.tracks || []).forEach((t, ti) => {
      const track = this._node(`live_set tracks ${ti}`, { clip_slots: [], arrangement_clips: [] });
      (t.clip_slots || []).forEach((c, si) => {
        const slot = this._node(`live_set tracks ${ti} clip_slots ${si}`, {});
        slot.clip = c ? this._clip(`live_set tracks ${ti} clip_slots ${si} clip`, c) : null;
        track.clip_slots.push(slot);
      });
      (t.arrangement_clips || []).forEach((c, ai) => {
        track.arrangement_clips.push(this._clip(`live_set tracks ${ti} arrangement_clips ${ai}`, c));
      });
      this.root.tracks.push(track);
    });
  }

  _node(p, props) {
    const n = Object.assign({ id: this.nextId++, path: p }, props);
    this.byId[n.id] = n;
    return n;
  }

  _clip(p, c) {
    return this._node(p, {
      is_audio_clip: c.audio === false ? 0 : 1,
      file_path: c.file_path || '',
      color: c.color === undefined ? 0x999999 : c.color,
      isClip: true,
    });
  }

  clipAt(p) {
    const n = this.resolve(p);
    if (!n || !n.isClip) throw new Error(`no clip at ${p}`);
    return n;
  }

  resolve(p) {
    const w = String(p).trim().split(/\s+/);
    if (w[0] === 'id') return this.byId[Number(w[1])] || null;
    if (w[0] === 'this_device' && w.length === 1) return this.device;
    if (w[0] === 'live_app' && w.length === 1) return this.app;
    if (w[0] !== 'live_set') return null;
    let node = this.root;
    for (let i = 1; i < w.length; i++) {
      if (!node) return null;
      const key = w[i];
      if (key === 'clip') { node = node.clip || null; continue; }
      const list = node[key];
      if (!Array.isArray(list)) return null;
      node = list[Number(w[++i])] || null;
    }
    return node;
  }
}

function makeLiveAPI(h) {
  function LiveAPI(a, b) {
    if (!h.liveReady) {
      throw new Error('LiveAPI used before live.thisdevice (global code or before init)');
    }
    const p = typeof a === 'string' ? a : b;
    h.live.constructed.push(p);
    this._node = null;
    this._path = '';
    if (p !== undefined) this.path = p;
  }
  Object.defineProperty(LiveAPI.prototype, 'path', {
    get() { return `"${this._path}"`; },
    set(p) { this._path = String(p); this._node = h.live.resolve(this._path); },
  });
  Object.defineProperty(LiveAPI.prototype, 'id', {
    get() { return this._node ? String(this._node.id) : '0'; },
  });
  LiveAPI.prototype.get = function get(prop) {
    const n = this._node;
    h.live.calls.push({ op: 'get', path: n ? n.path : this._path, prop });
    if (!n) return [];
    if (prop === 'has_clip') return [n.clip ? 1 : 0];
    if (!(prop in n)) return [];
    const v = n[prop];
    if (typeof v === 'string' && h.live.splitStrings) return v.split(' ');
    return [v];
  };
  LiveAPI.prototype.set = function set(prop, value) {
    const n = this._node;
    h.live.calls.push({ op: 'set', path: n ? n.path : this._path, id: n ? n.id : 0, prop, value });
    if (n) n[prop] = value;
  };
  LiveAPI.prototype.getcount = function getcount(child) {
    const n = this._node;
    h.live.calls.push({ op: 'getcount', path: n ? n.path : this._path, prop: child });
    if (!n) return 0;
    if (child === 'arrangement_clips' && h.live.major < 11) throw new Error('no arrangement_clips');
    return Array.isArray(n[child]) ? n[child].length : 0;
  };
  LiveAPI.prototype.call = function call(fn) {
    h.live.calls.push({ op: 'call', path: this._node ? this._node.path : this._path, prop: fn });
    if (fn === 'get_major_version') return h.live.major;
    return 0;
  };
  return LiveAPI;
}

// ------------------------------------------------------------------ Task on a virtual clock

function makeTask(h) {
  function Task(fn, obj, args) {
    this.fn = fn;
    this.obj = obj;
    this.args = args;
    this.due = null;
  }
  Task.prototype.schedule = function schedule(ms) {
    this.due = h.now + (ms || 0);
    h.tasks.add(this);
  };
  Task.prototype.cancel = function cancel() {
    this.due = null;
    h.tasks.delete(this);
  };
  return Task;
}

// ------------------------------------------------------------------ UI models

class CellBlock {
  constructor() { this.rows = 1; this.cells = {}; this.colours = {}; this.widths = {}; this.selected = null; }
  apply(msg) {
    const [sel, ...a] = msg;
    if (sel === 'clear' && a[0] === 'all') { this.cells = {}; return; }
    if (sel === 'rows') { this.rows = a[0]; return; }
    if (sel === 'set') { this.cells[`${a[0]},${a[1]}`] = String(a[2]); return; }
    if (sel === 'col' && a[1] === 'width') { this.widths[a[0]] = a[2]; return; }
    if (sel === 'select') { this.selected = [a[0], a[1]]; return; }
    if (sel === 'cell' && a[2] === 'brgb') {
      const key = `${a[0]},${a[1]}`;
      if (a.length === 3) delete this.colours[key];
      else this.colours[key] = a.slice(3, 6);
      return;
    }
    throw new Error(`jit.cellblock model: unexpected message ${JSON.stringify(msg)}`);
  }
  rowValues(r) { return [0, 1, 2, 3].map((c) => this.cells[`${c},${r}`] || ''); }
  table() {
    const out = [];
    for (let r = 0; r < this.rows; r++) out.push(this.rowValues(r));
    return out;
  }
}

// ------------------------------------------------------------------ the device

/**
 * Create one device instance. options: { fallback: bool (the [js] copy),
 * live: FakeLive spec, now: ms, patcher: parsed patcher }.
 */
function createDevice(options) {
  options = options || {};
  const h = {
    now: options.now === undefined ? 1000000 : options.now,
    tasks: new Set(),
    liveReady: false,
    live: new FakeLive(options.live),
    out: [[], [], [], [], [], [], []],
    osc: [],
    posts: [],
    table: new CellBlock(),
    text: { status: '', count: '', info: '', selection: '' },
    routes: routeMap(options.patcher),
  };
  const sandbox = {
    jsarguments: options.fallback ? ['loopwatch.js', 'fallback'] : [],
    messagename: '',
    Date: { now: () => h.now },
    post: (...a) => { h.posts.push(a.join(' ')); },
    setinletassist: () => {},
    setoutletassist: () => {},
    arrayfromargs: (a, b) => (b === undefined ? Array.prototype.slice.call(a) : [a].concat(Array.prototype.slice.call(b))),
    outlet: (n, ...args) => {
      const msg = args.length === 1 && Array.isArray(args[0]) ? Array.from(args[0]) : args;
      h.out[n].push(msg);
      if (n === 0) h.osc.push(msg);
      else if (n === 1) h.table.apply(msg);
      else if ((n >= 2 && n <= 4) || n === 6) {
        if (msg[0] !== 'set') throw new Error(`live.comment expects set, got ${JSON.stringify(msg)}`);
        h.text[{ 2: 'status', 3: 'count', 4: 'info', 6: 'selection' }[n]] = msg.slice(1).join(' ');
      }
    },
  };
  sandbox.LiveAPI = makeLiveAPI(h);
  sandbox.Task = makeTask(h);
  vm.createContext(sandbox);
  vm.runInContext(fs.readFileSync(SCRIPT_PATH, 'utf8'), sandbox, { filename: 'loopwatch.js' });
  h.ctx = sandbox;

  /** Send a Max message to the script's inlet. */
  h.send = (selector, ...args) => {
    const fn = sandbox[selector];
    if (typeof fn === 'function' && !fn.local) {
      fn.apply(sandbox, args);
    } else {
      sandbox.messagename = selector;
      sandbox.anything.apply(sandbox, args);
    }
  };
  /** Deliver one daemon message as udpreceive -> route -> prepend would. */
  h.osc_in = (address, ...args) => {
    const handler = h.routes[address];
    if (!handler) return false;  // [route]'s reject outlet is not connected
    h.send(handler, ...args);
    return true;
  };
  /** live.thisdevice fired: probe [v8], init, start the metro (first tick now). */
  h.thisdevice = () => {
    h.liveReady = true;
    if (!options.fallback) h.send('probe');
    h.send('init');
    h.send('tick');
  };
  /** Move the virtual clock, running due Tasks in order. */
  h.advance = (ms) => {
    const target = h.now + ms;
    for (;;) {
      let next = null;
      for (const t of h.tasks) if (t.due <= target && (!next || t.due < next.due)) next = t;
      if (!next) break;
      h.tasks.delete(next);
      h.now = Math.max(h.now, next.due);
      next.due = null;
      next.fn.apply(next.obj, next.args || []);
    }
    h.now = target;
  };
  /** Run every pending Task. */
  h.flush = () => h.advance(1000);
  h.state = () => sandbox.S;
  h.alertIds = () => Array.from(sandbox.S.alerts, (a) => a.id);
  h.sets = () => h.live.calls.filter((c) => c.op === 'set');
  return h;
}

function loadFixture(file) {
  const data = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!Array.isArray(data) || !data.every((m) => Array.isArray(m) && typeof m[0] === 'string')) {
    throw new Error(`${file}: a fixture is a JSON list of [address, arg, ...]`);
  }
  return data;
}

/** Committed fixtures plus any listed in $LOOPWATCH_M4L_REPLAY (path-delimiter separated). */
function fixtureFiles() {
  const files = fs.readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.json')).sort().map((f) => path.join(FIXTURE_DIR, f));
  const extra = process.env.LOOPWATCH_M4L_REPLAY;
  if (extra) for (const f of extra.split(path.delimiter)) if (f) files.push(path.resolve(f));
  return files;
}

function replay(messages, options) {
  const h = createDevice(options);
  h.thisdevice();
  for (const [address, ...args] of messages) h.osc_in(address, ...args);
  h.flush();
  return h;
}

function summary(h) {
  return {
    alerts: h.state().alerts,
    table: h.table.table(),
    colours: h.table.colours,
    text: h.text,
    osc: h.osc,
    posts: h.posts,
    live_sets: h.sets(),
  };
}

function scriptedRequests() {
  const live = { tracks: [] };
  const h = createDevice({ live });
  h.thisdevice();
  h.osc_in('/loopwatch/status', 'idle', 0, 'bass', 'cpu');
  h.osc_in('/loopwatch/alert', 41, '/Music/a.wav', 'warn', 'click', 1.5, 1.5005, 12.0, 'click');
  h.osc_in('/loopwatch/alert', 42, '/Music/b.wav', 'error', 'clipping', 2.0, 2.5, 30.0, 'clip');
  h.flush();
  h.advance(5000);
  h.send('tick');
  h.send('select_row', 0, 1, 'WARN');
  h.send('ack_button');
  h.send('ack_button');
  h.send('setport', 9712);
  h.send('setdaemonport', 9711);
  h.send('shutdown');
  return h.osc;
}

if (require.main === module) {
  const [cmd, arg] = process.argv.slice(2);
  if (cmd === 'replay' && arg) {
    process.stdout.write(JSON.stringify(summary(replay(loadFixture(arg)))) + '\n');
  } else if (cmd === 'requests') {
    process.stdout.write(JSON.stringify(scriptedRequests()) + '\n');
  } else {
    process.stderr.write('usage: node harness.js replay FIXTURE.json | requests\n');
    process.exit(2);
  }
}

module.exports = {
  createDevice, replay, routeMap, loadPatcher, loadFixture, fixtureFiles, FakeLive, CellBlock,
  SCRIPT_PATH, MAXPAT_PATH, FIXTURE_DIR, summary,
};
