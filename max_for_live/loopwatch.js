/*
 * loopwatch.js - the logic of the LoopWatch Max for Live device.
 *
 * ES5 only: the same file runs in Max's [js] (SpiderMonkey 1.8.5, Live 11 /
 * Max 8) and in Max 9's [v8] (Live 12.2+), where build_amxd.py embeds it.
 * No let/const, arrow functions, template strings, classes, spread, or ES6
 * library calls (startsWith, endsWith, includes, Map, Set, Object.assign).
 *
 * Protocol: loopwatch OSC protocol v1 (docs/osc.md, loopwatch/protocol.py).
 *
 * Inlet 0 receives Max messages, one handler per message name:
 *   from [route] + [prepend]   osc_alert, osc_file, osc_status, osc_clear,
 *                              osc_done, osc_error (the daemon's pushes)
 *   from the patch             probe, init, tick, shutdown, setport,
 *                              setdaemonport, colour_clips, ack_button,
 *                              clear_button, select_row
 * Outlets:
 *   0  OSC requests for [udpsend 127.0.0.1 <daemon port>]
 *   1  commands for the alert table ([jit.cellblock])
 *   2  status line ([live.comment], "set ...")
 *   3  alert count ([live.comment], "set ...")
 *   4  info line ([live.comment], "set ...")
 *   5  "engine <name>" when this copy is the running engine (closes the
 *      [gate] in front of the [js] fallback when the embedded [v8] runs)
 *   6  selection line ([live.comment], "set ..."): what Ack will acknowledge
 *
 * Nothing is sent, drawn or asked of Live before "init" (live.thisdevice):
 * LiveAPI is only ever created after it, never in global code.
 *
 * The device holds two copies of this code: embedded in [v8 @embed 1]
 * (Live 12.2+ / Max 9) and [js loopwatch.js fallback] (older Max, reading
 * this file from beside the device or from a frozen device). The [js] copy
 * gets the argument "fallback"; it never announces itself, so when the [v8]
 * copy exists it closes the gate in front of the [js] copy and only one runs.
 */

autowatch = 0;
inlets = 1;
outlets = 7;

var OUT_OSC = 0;
var OUT_TABLE = 1;
var OUT_STATUS = 2;
var OUT_COUNT = 3;
var OUT_INFO = 4;
var OUT_ENGINE = 5;
var OUT_SELECTION = 6;

var PROTOCOL_VERSION = 1;
var DEFAULT_REPLY_PORT = 9702;   // loopwatch.config.DEFAULT_M4L_PORT
var DEFAULT_DAEMON_PORT = 9701;  // loopwatch.config.DEFAULT_OSC_PORT
var CONNECTED_WINDOW_MS = 12000; // a /loopwatch/status within this = connected
var SUBSCRIBE_MIN_INTERVAL_MS = 4000;
var MAX_ALERTS = 500;            // oldest alerts beyond this are dropped
var RENDER_DELAY_MS = 40;        // bursts (sync replays) are drawn once
var COLOUR_DELAY_MS = 300;       // bursts of verdicts cause one scan of the Set
var ELLIPSIS = "\u2026";         // a path starting with it was shortened: match by suffix

// Clip colours by file verdict, 0x00RRGGBB. Live snaps them to the nearest
// colour of its clip palette.
var VERDICT_COLOURS = {
    ok: 0x3DC300,      // green
    warn: 0xFFA600,    // orange
    error: 0xFF3636,   // red
    failed: 0xB677FF   // violet: the file could not be read
};

// Severity markers and cell colours (0-255) for the table.
var SEVERITY_STYLE = {
    error: { label: "ERR", rgb: [200, 55, 55] },
    warn: { label: "WARN", rgb: [215, 140, 30] },
    info: { label: "INFO", rgb: [70, 120, 190] }
};

// Table column widths in pixels: severity, file, check, time in file.
var COLUMN_WIDTHS = [40, 150, 80, 62];

setinletassist(0, "loopwatch OSC pushes (via route/prepend) and device messages");
setoutletassist(OUT_OSC, "OSC requests to udpsend");
setoutletassist(OUT_TABLE, "alert table commands (jit.cellblock)");
setoutletassist(OUT_STATUS, "status line (set ...)");
setoutletassist(OUT_COUNT, "alert count (set ...)");
setoutletassist(OUT_INFO, "info line (set ...)");
setoutletassist(OUT_ENGINE, "engine announcement (closes the js fallback gate)");
setoutletassist(OUT_SELECTION, "selection line (set ...)");

// True in the [js loopwatch.js fallback] copy.
var IS_FALLBACK = (typeof jsarguments !== "undefined") && jsarguments.length > 1 &&
    String(jsarguments[1]) === "fallback";

// All mutable state lives here, so a test can read it.
var S = {
    engine: IS_FALLBACK ? "js" : "v8",
    ready: false,              // true between init and shutdown
    initMs: -1,
    clientId: "",
    replyPort: DEFAULT_REPLY_PORT,
    daemonPort: DEFAULT_DAEMON_PORT,
    lastSeenId: 0,             // highest alert id ever received (for sync)
    alerts: [],                // newest first: {id, path, severity, check, t0, t1, value, message}
    selectedId: -1,            // alert id selected in the table, -1 = none
    lastStatusMs: -1,          // time of the last /loopwatch/status, -1 = never
    daemon: { state: "", queueLen: 0, model: "", device: "" },
    lastSubscribeMs: -1,
    info: "",
    colourEnabled: true,
    liveMajor: 0,              // Live's major version, asked at init
    verdicts: {},              // normalised path -> {path, verdict}
    originalColours: {},       // clip id -> colour before we changed it
    appliedColours: {},        // clip id -> colour we set
    renderPending: false,
    colourPending: false
};

var renderTask = null;
var colourTask = null;

// ---------------------------------------------------------------- helpers

function nowMs() {
    return Date.now();
}
nowMs.local = 1;

function toStr(x) {
    return (x === undefined || x === null) ? "" : String(x);
}
toStr.local = 1;

function toNum(x, fallback) {
    var n = (typeof x === "number") ? x : parseFloat(x);
    return isNaN(n) ? fallback : n;
}
toNum.local = 1;

function toInt(x, fallback) {
    var n = toNum(x, NaN);
    return isNaN(n) ? fallback : Math.round(n);
}
toInt.local = 1;

function endsWith(s, suffix) {
    return s.length >= suffix.length && s.substr(s.length - suffix.length) === suffix;
}
endsWith.local = 1;

function isTruncated(path) {
    return path.charAt(0) === ELLIPSIS;
}
isTruncated.local = 1;

// Case-folded, forward-slash, NFC form of a path, for comparisons only.
function normPath(path) {
    var s = toStr(path);
    if (typeof s.normalize === "function") {
        try {
            s = s.normalize("NFC");
        } catch (e) {
            // keep s
        }
    }
    return s.split("\\").join("/").toLowerCase();
}
normPath.local = 1;

// Does a path from the daemon (possibly "<ellipsis>tail") name the same file
// as another path (possibly shortened too)?
function samePath(a, b) {
    var ta = isTruncated(a);
    var tb = isTruncated(b);
    var na = normPath(ta ? a.substr(1) : a);
    var nb = normPath(tb ? b.substr(1) : b);
    if (!ta && !tb) {
        return na === nb;
    }
    if (ta && tb) {
        return na.length >= nb.length ? endsWith(na, nb) : endsWith(nb, na);
    }
    return ta ? endsWith(nb, na) : endsWith(na, nb);
}
samePath.local = 1;

function basename(path) {
    var s = toStr(path).split("\\").join("/");
    var parts = s.split("/");
    for (var i = parts.length - 1; i >= 0; i--) {
        if (parts[i] !== "" && parts[i] !== ELLIPSIS) {
            return parts[i];
        }
    }
    return s;
}
basename.local = 1;

function formatTime(t) {
    return toNum(t, 0).toFixed(3) + " s";
}
formatTime.local = 1;

function isArray(value) {
    return Object.prototype.toString.call(value) === "[object Array]";
}
isArray.local = 1;

function firstAtom(value) {
    if (isArray(value)) {
        return value.length ? value[0] : undefined;
    }
    return value;
}
firstAtom.local = 1;

// LiveAPI.get() returns an array of atoms; a string property may come back
// split at spaces, so join it back.
function joinAtoms(value) {
    if (isArray(value)) {
        return value.join(" ");
    }
    return toStr(value);
}
joinAtoms.local = 1;

function isPress(value) {
    return value === undefined || value === "bang" || toNum(value, 1) !== 0;
}
isPress.local = 1;

function isConnected() {
    return S.lastStatusMs >= 0 && (nowMs() - S.lastStatusMs) <= CONNECTED_WINDOW_MS;
}
isConnected.local = 1;

function randomToken() {
    var s = "";
    while (s.length < 8) {
        s += Math.floor(Math.random() * 36).toString(36);
    }
    return s;
}
randomToken.local = 1;

// A client id unique per device instance: the Live device id (when the Live
// API answers) plus a random token.
function ensureClientId() {
    if (S.clientId) {
        return;
    }
    var deviceId = "";
    try {
        var dev = new LiveAPI("this_device");
        deviceId = toStr(dev.id);
        if (deviceId === "0") {
            deviceId = "";
        }
    } catch (e) {
        deviceId = "";
    }
    S.clientId = "m4l-" + (deviceId ? deviceId + "-" : "") + randomToken();
}
ensureClientId.local = 1;

// Track.arrangement_clips exists from Live 11 on (0 = unknown: try anyway).
function askLiveVersion() {
    try {
        var app = new LiveAPI("live_app");
        S.liveMajor = toInt(firstAtom(app.call("get_major_version")), 0);
    } catch (e) {
        S.liveMajor = 0;
    }
}
askLiveVersion.local = 1;

// ---------------------------------------------------------------- sending

function sendOsc(address, args) {
    outlet(OUT_OSC, [address].concat(args || []));
}
sendOsc.local = 1;

function subscribe() {
    S.lastSubscribeMs = nowMs();
    sendOsc("/loopwatch/subscribe", [S.clientId, "m4l", S.replyPort]);
}
subscribe.local = 1;

function requestSync() {
    sendOsc("/loopwatch/sync", [S.clientId, S.lastSeenId]);
}
requestSync.local = 1;

// ---------------------------------------------------------------- drawing

function scheduleTask(which, delayMs) {
    if (which === "render") {
        if (S.renderPending) {
            return;
        }
        S.renderPending = true;
        if (!renderTask) {
            renderTask = new Task(renderNow, this);
        }
        renderTask.schedule(delayMs);
    } else {
        if (S.colourPending) {
            return;
        }
        S.colourPending = true;
        if (!colourTask) {
            colourTask = new Task(colourNow, this);
        }
        colourTask.schedule(delayMs);
    }
}
scheduleTask.local = 1;

function scheduleRender() {
    if (S.ready) {
        scheduleTask("render", RENDER_DELAY_MS);
    }
}
scheduleRender.local = 1;

function statusText() {
    if (!S.ready) {
        return "starting\u2026";
    }
    if (S.lastStatusMs < 0 && S.initMs >= 0 && nowMs() - S.initMs < CONNECTED_WINDOW_MS) {
        return "\u25CB connecting to 127.0.0.1:" + S.daemonPort + "\u2026";
    }
    if (!isConnected()) {
        return "\u25CB no daemon on 127.0.0.1:" + S.daemonPort + " \u2014 start it with: loopwatch watch";
    }
    var d = S.daemon;
    var text = "\u25CF connected \u00B7 " + (d.state || "?") + " \u00B7 queue " + d.queueLen;
    text += d.model ? " \u00B7 model " + d.model : " \u00B7 no model";
    if (d.device && d.device !== "none") {
        text += " (" + d.device + ")";
    }
    return text;
}
statusText.local = 1;

function countText() {
    var n = S.alerts.length;
    if (n === 0) {
        return "no alerts";
    }
    var counts = { error: 0, warn: 0, info: 0 };
    for (var i = 0; i < n; i++) {
        var sev = S.alerts[i].severity;
        if (counts.hasOwnProperty(sev)) {
            counts[sev] += 1;
        }
    }
    var parts = [];
    if (counts.error) {
        parts.push(counts.error + " error");
    }
    if (counts.warn) {
        parts.push(counts.warn + " warn");
    }
    if (counts.info) {
        parts.push(counts.info + " info");
    }
    return n + (n === 1 ? " alert" : " alerts") + (parts.length ? " (" + parts.join(", ") + ")" : "");
}
countText.local = 1;

function renderStatus() {
    if (S.ready) {
        outlet(OUT_STATUS, "set", statusText());
    }
}
renderStatus.local = 1;

function renderInfo() {
    if (S.ready) {
        outlet(OUT_INFO, "set", S.info);
    }
}
renderInfo.local = 1;

function selectionText() {
    var i = indexOfAlert(S.selectedId);
    if (i < 0) {
        var n = S.alerts.length;
        return n ? "Ack: all " + n + " (no row selected)" : "click a row to select it";
    }
    var a = S.alerts[i];
    return "Ack: " + a.check + " at " + formatTime(a.t0) + " in " + basename(a.path);
}
selectionText.local = 1;

function renderSelection() {
    if (S.ready) {
        outlet(OUT_SELECTION, "set", selectionText());
    }
}
renderSelection.local = 1;

function renderNow() {
    S.renderPending = false;
    if (!S.ready) {
        return;
    }
    var n = S.alerts.length;
    outlet(OUT_TABLE, "clear", "all");
    outlet(OUT_TABLE, "rows", n > 0 ? n : 1);
    if (n === 0) {
        outlet(OUT_TABLE, "cell", 0, 0, "brgb");
        outlet(OUT_TABLE, "set", 1, 0, "no alerts");
    }
    for (var i = 0; i < n; i++) {
        var a = S.alerts[i];
        var style = SEVERITY_STYLE[a.severity] || { label: a.severity.toUpperCase(), rgb: [110, 110, 110] };
        outlet(OUT_TABLE, "set", 0, i, style.label);
        outlet(OUT_TABLE, "set", 1, i, basename(a.path));
        outlet(OUT_TABLE, "set", 2, i, a.check);
        outlet(OUT_TABLE, "set", 3, i, formatTime(a.t0));
        outlet(OUT_TABLE, "cell", 0, i, "brgb", style.rgb[0], style.rgb[1], style.rgb[2]);
    }
    var selected = indexOfAlert(S.selectedId);
    if (selected >= 0) {
        // keep the table's highlight on the selected alert as rows move
        outlet(OUT_TABLE, "select", 0, selected);
    }
    renderSelection();
    outlet(OUT_COUNT, "set", countText());
    renderStatus();
}
renderNow.local = 1;

// ---------------------------------------------------------------- alert list

function indexOfAlert(id) {
    for (var i = 0; i < S.alerts.length; i++) {
        if (S.alerts[i].id === id) {
            return i;
        }
    }
    return -1;
}
indexOfAlert.local = 1;

function insertAlert(alert) {
    var existing = indexOfAlert(alert.id);
    if (existing >= 0) {
        S.alerts[existing] = alert;
        return;
    }
    var i = 0;
    while (i < S.alerts.length && S.alerts[i].id > alert.id) {
        i++;
    }
    S.alerts.splice(i, 0, alert);
    if (S.alerts.length > MAX_ALERTS) {
        S.alerts.length = MAX_ALERTS;
    }
}
insertAlert.local = 1;

function removeAlerts(predicate) {
    var kept = [];
    var removed = [];
    for (var i = 0; i < S.alerts.length; i++) {
        if (predicate(S.alerts[i])) {
            removed.push(S.alerts[i]);
        } else {
            kept.push(S.alerts[i]);
        }
    }
    S.alerts = kept;
    if (S.selectedId >= 0 && indexOfAlert(S.selectedId) < 0) {
        S.selectedId = -1;
    }
    return removed;
}
removeAlerts.local = 1;

// ---------------------------------------------------------------- clip colours

function scheduleColour() {
    if (S.ready && S.colourEnabled) {
        scheduleTask("colour", COLOUR_DELAY_MS);
    }
}
scheduleColour.local = 1;

function buildVerdictIndex() {
    var exact = {};
    var suffixes = [];
    var any = false;
    for (var key in S.verdicts) {
        if (!S.verdicts.hasOwnProperty(key)) {
            continue;
        }
        var entry = S.verdicts[key];
        if (!VERDICT_COLOURS.hasOwnProperty(entry.verdict)) {
            continue;
        }
        any = true;
        if (isTruncated(entry.path)) {
            suffixes.push([normPath(entry.path.substr(1)), entry.verdict]);
        } else {
            exact[normPath(entry.path)] = entry.verdict;
        }
    }
    return any ? { exact: exact, suffixes: suffixes } : null;
}
buildVerdictIndex.local = 1;

function lookupVerdict(index, filePath) {
    var n = normPath(filePath);
    if (index.exact.hasOwnProperty(n)) {
        return index.exact[n];
    }
    for (var i = 0; i < index.suffixes.length; i++) {
        if (endsWith(n, index.suffixes[i][0])) {
            return index.suffixes[i][1];
        }
    }
    return null;
}
lookupVerdict.local = 1;

function safeCount(api, child) {
    try {
        return toInt(api.getcount(child), 0);
    } catch (e) {
        return 0;
    }
}
safeCount.local = 1;

function colourClip(api, path, index) {
    api.path = path;
    if (toInt(firstAtom(api.get("is_audio_clip")), 0) !== 1) {
        return 0;
    }
    var verdict = lookupVerdict(index, joinAtoms(api.get("file_path")));
    if (!verdict) {
        return 0;
    }
    var target = VERDICT_COLOURS[verdict];
    var id = toStr(api.id);
    if (S.appliedColours[id] === target) {
        return 0;
    }
    if (!S.originalColours.hasOwnProperty(id)) {
        S.originalColours[id] = toInt(firstAtom(api.get("color")), 0);
    }
    api.set("color", target);
    S.appliedColours[id] = target;
    return 1;
}
colourClip.local = 1;

// One pass over every audio clip of the Set: session slots and arrangement
// clips (Live 11+).
function colourNow() {
    S.colourPending = false;
    if (!S.ready || !S.colourEnabled) {
        return;
    }
    var index = buildVerdictIndex();
    if (!index) {
        return;
    }
    var api = new LiveAPI("live_set");
    var nTracks = safeCount(api, "tracks");
    for (var t = 0; t < nTracks; t++) {
        var track = "live_set tracks " + t;
        api.path = track;
        var nSlots = safeCount(api, "clip_slots");
        var nArrangement = (S.liveMajor === 0 || S.liveMajor >= 11) ? safeCount(api, "arrangement_clips") : 0;
        for (var s = 0; s < nSlots; s++) {
            api.path = track + " clip_slots " + s;
            if (toInt(firstAtom(api.get("has_clip")), 0) === 1) {
                colourClip(api, track + " clip_slots " + s + " clip", index);
            }
        }
        for (var c = 0; c < nArrangement; c++) {
            colourClip(api, track + " arrangement_clips " + c, index);
        }
    }
}
colourNow.local = 1;

function restoreColours() {
    var ids = [];
    for (var id in S.originalColours) {
        if (S.originalColours.hasOwnProperty(id)) {
            ids.push(id);
        }
    }
    if (ids.length && S.ready) {
        for (var i = 0; i < ids.length; i++) {
            var api = new LiveAPI("id " + ids[i]);
            if (toStr(api.id) === ids[i]) {  // "0" when the clip is gone
                api.set("color", S.originalColours[ids[i]]);
            }
        }
    }
    S.originalColours = {};
    S.appliedColours = {};
}
restoreColours.local = 1;

// ---------------------------------------------------------------- engine

function announceEngine() {
    if (!IS_FALLBACK) {
        outlet(OUT_ENGINE, "engine", S.engine);
    }
}
announceEngine.local = 1;

// Max calls loadbang() when the device is loaded; the patch also sends
// "probe" from live.thisdevice before "init". The embedded [v8] copy answers
// on outlet 5, which closes the gate in front of the [js] fallback.
function loadbang() {
    announceEngine();
}

function probe() {
    announceEngine();
}

// ---------------------------------------------------------------- device messages

function init() {
    S.ready = true;
    S.initMs = nowMs();
    ensureClientId();
    askLiveVersion();
    subscribe();
    requestSync();
    S.info = "listening on port " + S.replyPort + " \u00B7 engine " + S.engine + " \u00B7 " + S.clientId;
    for (var c = 0; c < COLUMN_WIDTHS.length; c++) {
        outlet(OUT_TABLE, "col", c, "width", COLUMN_WIDTHS[c]);
    }
    renderNow();
    renderInfo();
    scheduleColour();
}

function tick() {
    if (!S.ready) {
        return;
    }
    if (S.lastSubscribeMs < 0 || nowMs() - S.lastSubscribeMs >= SUBSCRIBE_MIN_INTERVAL_MS) {
        subscribe();
    }
    renderStatus();
}

function shutdown() {
    if (S.ready && S.clientId) {
        sendOsc("/loopwatch/unsubscribe", [S.clientId]);
    }
    S.ready = false;
}

function setport(port) {
    var p = toInt(port, -1);
    if (p < 1 || p > 65535 || p === S.replyPort) {
        return;
    }
    S.replyPort = p;
    if (S.ready) {
        subscribe();
        requestSync();
        S.info = "listening on port " + p;
        renderInfo();
    }
}

function setdaemonport(port) {
    var p = toInt(port, -1);
    if (p < 1 || p > 65535 || p === S.daemonPort) {
        return;
    }
    S.daemonPort = p;
    S.lastStatusMs = -1;
    if (S.ready) {
        subscribe();
        requestSync();
        renderStatus();
    }
}

function colour_clips(on) {
    S.colourEnabled = toInt(on, 0) !== 0;
    if (!S.colourEnabled) {
        restoreColours();
    } else {
        scheduleColour();
    }
}

function clear_button(value) {
    if (!isPress(value)) {
        return;
    }
    S.alerts = [];
    S.selectedId = -1;
    scheduleRender();
}

// live.text in button mode: a bang (or 1) on click; a 0 is ignored.
function ack_button(value) {
    if (!isPress(value)) {
        return;
    }
    var acked;
    if (S.selectedId >= 0) {
        var sel = S.selectedId;
        acked = removeAlerts(function (a) { return a.id === sel; });
    } else {
        acked = removeAlerts(function (a) { return true; });
    }
    S.selectedId = -1;
    if (S.ready) {
        for (var i = 0; i < acked.length; i++) {
            sendOsc("/loopwatch/ack", [acked[i].id]);
        }
    }
    scheduleRender();
}

function select_row(col, row) {
    var r = toInt(row, -1);
    S.selectedId = (r >= 0 && r < S.alerts.length) ? S.alerts[r].id : -1;
    renderSelection();
}

// ---------------------------------------------------------------- daemon pushes

// /loopwatch/alert isssfffs: alert_id path severity check t0 t1 value message
function osc_alert() {
    var a = arrayfromargs(arguments);
    if (a.length < 8) {
        post("loopwatch: /loopwatch/alert with " + a.length + " arguments ignored\n");
        return;
    }
    var id = toInt(a[0], -1);
    if (id < 0) {
        return;
    }
    insertAlert({
        id: id,
        path: toStr(a[1]),
        severity: toStr(a[2]),
        check: toStr(a[3]),
        t0: toNum(a[4], 0),
        t1: toNum(a[5], 0),
        value: toNum(a[6], 0),
        message: toStr(a[7])
    });
    if (id > S.lastSeenId) {
        S.lastSeenId = id;
    }
    scheduleRender();
}

// /loopwatch/file ssfis: path verdict outlier_ratio n_alerts model
function osc_file() {
    var a = arrayfromargs(arguments);
    if (a.length < 2) {
        return;
    }
    var path = toStr(a[0]);
    S.verdicts[normPath(path)] = { path: path, verdict: toStr(a[1]) };
    scheduleColour();
}

// /loopwatch/status siss: state queue_len model device
function osc_status() {
    var a = arrayfromargs(arguments);
    S.lastStatusMs = nowMs();
    S.daemon = {
        state: toStr(a[0]),
        queueLen: toInt(a[1], 0),
        model: toStr(a[2]),
        device: toStr(a[3])
    };
    renderStatus();
}

// /loopwatch/clear s: path ("" = every alert)
function osc_clear() {
    var a = arrayfromargs(arguments);
    var path = a.length ? toStr(a[0]) : "";
    if (path === "") {
        removeAlerts(function (x) { return true; });
        S.info = "the daemon cleared every alert";
        renderInfo();
    } else {
        removeAlerts(function (x) { return samePath(x.path, path); });
    }
    scheduleRender();
}

// /loopwatch/done s: request_id. The device sends no score requests, so a
// done is only another client's answer reaching every subscriber.
function osc_done() {
}

// /loopwatch/error ss: context message
function osc_error() {
    var a = arrayfromargs(arguments);
    S.info = "daemon error (" + toStr(a[0]) + "): " + toStr(a[1]);
    renderInfo();
}

function anything() {
    post("loopwatch: unknown message " + messagename + "\n");
}
