{
    "patcher": {
        "fileversion": 1,
        "appversion": {
            "major": 9,
            "minor": 0,
            "revision": 7,
            "architecture": "x64",
            "modernui": 1
        },
        "classnamespace": "box",
        "rect": [ 100.0, 100.0, 1080.0, 920.0 ],
        "openrect": [ 0.0, 0.0, 520.0, 169.0 ],
        "bglocked": 0,
        "openinpresentation": 1,
        "default_fontsize": 10.0,
        "default_fontface": 0,
        "default_fontname": "Arial Bold",
        "gridonopen": 1,
        "gridsize": [ 8.0, 8.0 ],
        "gridsnaponopen": 1,
        "objectsnaponopen": 1,
        "statusbarvisible": 2,
        "toolbarvisible": 1,
        "lefttoolbarpinned": 0,
        "toptoolbarpinned": 0,
        "righttoolbarpinned": 0,
        "bottomtoolbarpinned": 0,
        "toolbars_unpinned_last_save": 0,
        "tallnewobj": 0,
        "boxanimatetime": 500,
        "enablehscroll": 1,
        "enablevscroll": 1,
        "devicewidth": 520.0,
        "description": "LoopWatch: loopwatch alerts (clicks, clipping, seams, outliers) for the files in this Set, newest first, and clip colours by verdict. Needs the loopwatch daemon: loopwatch watch.",
        "digest": "loopwatch alerts inside Live",
        "tags": "loopwatch",
        "style": "",
        "subpatcher_template": "",
        "assistshowspatchername": 0,
        "boxes": [
            {
                "box": {
                    "id": "obj-1",
                    "linecount": 2,
                    "maxclass": "comment",
                    "numinlets": 1,
                    "numoutlets": 0,
                    "patching_rect": [ 20.0, 10.0, 620.0, 33.0 ],
                    "text": "LoopWatch: shows loopwatch alerts (docs/osc.md, protocol v1) and colours clips by verdict. Sources: max_for_live/build_amxd.py + loopwatch.js (see README.md)."
                }
            },
            {
                "box": {
                    "id": "obj-2",
                    "maxclass": "newobj",
                    "numinlets": 2,
                    "numoutlets": 2,
                    "outlettype": [ "signal", "signal" ],
                    "patching_rect": [ 20.0, 60.0, 55.0, 22.0 ],
                    "text": "plugin~"
                }
            },
            {
                "box": {
                    "id": "obj-3",
                    "maxclass": "newobj",
                    "numinlets": 2,
                    "numoutlets": 2,
                    "outlettype": [ "signal", "signal" ],
                    "patching_rect": [ 20.0, 110.0, 55.0, 22.0 ],
                    "text": "plugout~"
                }
            },
            {
                "box": {
                    "id": "obj-4",
                    "maxclass": "comment",
                    "numinlets": 1,
                    "numoutlets": 0,
                    "patching_rect": [ 80.0, 85.0, 180.0, 20.0 ],
                    "text": "audio passes through untouched"
                }
            },
            {
                "box": {
                    "filename": "none",
                    "id": "obj-5",
                    "maxclass": "newobj",
                    "numinlets": 1,
                    "numoutlets": 7,
                    "outlettype": [ "", "", "", "", "", "", "" ],
                    "patching_rect": [ 360.0, 430.0, 160.0, 22.0 ],
                    "saved_object_attributes": {
                        "embed": 1,
                        "parameter_enable": 0
                    },
                    "text": "v8 @embed 1",
                    "textfile": {
                        "text": "/*\n * loopwatch.js - the logic of the LoopWatch Max for Live device.\n *\n * ES5 only: the same file runs in Max's [js] (SpiderMonkey 1.8.5, Live 11 /\n * Max 8) and in Max 9's [v8] (Live 12.2+), where build_amxd.py embeds it.\n * No let/const, arrow functions, template strings, classes, spread, or ES6\n * library calls (startsWith, endsWith, includes, Map, Set, Object.assign).\n *\n * Protocol: loopwatch OSC protocol v1 (docs/osc.md, loopwatch/protocol.py).\n *\n * Inlet 0 receives Max messages, one handler per message name:\n *   from [route] + [prepend]   osc_alert, osc_file, osc_status, osc_clear,\n *                              osc_done, osc_error (the daemon's pushes)\n *   from the patch             probe, init, tick, shutdown, setport,\n *                              setdaemonport, colour_clips, ack_button,\n *                              clear_button, select_row\n * Outlets:\n *   0  OSC requests for [udpsend 127.0.0.1 <daemon port>]\n *   1  commands for the alert table ([jit.cellblock])\n *   2  status line ([live.comment], \"set ...\")\n *   3  alert count ([live.comment], \"set ...\")\n *   4  info line ([live.comment], \"set ...\")\n *   5  \"engine <name>\" when this copy is the running engine (closes the\n *      [gate] in front of the [js] fallback when the embedded [v8] runs)\n *   6  selection line ([live.comment], \"set ...\"): what Ack will acknowledge\n *\n * Nothing is sent, drawn or asked of Live before \"init\" (live.thisdevice):\n * LiveAPI is only ever created after it, never in global code.\n *\n * The device holds two copies of this code: embedded in [v8 @embed 1]\n * (Live 12.2+ / Max 9) and [js loopwatch.js fallback] (older Max, reading\n * this file from beside the device or from a frozen device). The [js] copy\n * gets the argument \"fallback\"; it never announces itself, so when the [v8]\n * copy exists it closes the gate in front of the [js] copy and only one runs.\n */\n\nautowatch = 0;\ninlets = 1;\noutlets = 7;\n\nvar OUT_OSC = 0;\nvar OUT_TABLE = 1;\nvar OUT_STATUS = 2;\nvar OUT_COUNT = 3;\nvar OUT_INFO = 4;\nvar OUT_ENGINE = 5;\nvar OUT_SELECTION = 6;\n\nvar PROTOCOL_VERSION = 1;\nvar DEFAULT_REPLY_PORT = 9702;   // loopwatch.config.DEFAULT_M4L_PORT\nvar DEFAULT_DAEMON_PORT = 9701;  // loopwatch.config.DEFAULT_OSC_PORT\nvar CONNECTED_WINDOW_MS = 12000; // a /loopwatch/status within this = connected\nvar SUBSCRIBE_MIN_INTERVAL_MS = 4000;\nvar MAX_ALERTS = 500;            // oldest alerts beyond this are dropped\nvar RENDER_DELAY_MS = 40;        // bursts (sync replays) are drawn once\nvar COLOUR_DELAY_MS = 300;       // bursts of verdicts cause one scan of the Set\nvar ELLIPSIS = \"\\u2026\";         // a path starting with it was shortened: match by suffix\n\n// Clip colours by file verdict, 0x00RRGGBB. Live snaps them to the nearest\n// colour of its clip palette.\nvar VERDICT_COLOURS = {\n    ok: 0x3DC300,      // green\n    warn: 0xFFA600,    // orange\n    error: 0xFF3636,   // red\n    failed: 0xB677FF   // violet: the file could not be read\n};\n\n// Severity markers and cell colours (0-255) for the table.\nvar SEVERITY_STYLE = {\n    error: { label: \"ERR\", rgb: [200, 55, 55] },\n    warn: { label: \"WARN\", rgb: [215, 140, 30] },\n    info: { label: \"INFO\", rgb: [70, 120, 190] }\n};\n\n// Table column widths in pixels: severity, file, check, time in file.\nvar COLUMN_WIDTHS = [40, 150, 80, 62];\n\nsetinletassist(0, \"loopwatch OSC pushes (via route/prepend) and device messages\");\nsetoutletassist(OUT_OSC, \"OSC requests to udpsend\");\nsetoutletassist(OUT_TABLE, \"alert table commands (jit.cellblock)\");\nsetoutletassist(OUT_STATUS, \"status line (set ...)\");\nsetoutletassist(OUT_COUNT, \"alert count (set ...)\");\nsetoutletassist(OUT_INFO, \"info line (set ...)\");\nsetoutletassist(OUT_ENGINE, \"engine announcement (closes the js fallback gate)\");\nsetoutletassist(OUT_SELECTION, \"selection line (set ...)\");\n\n// True in the [js loopwatch.js fallback] copy.\nvar IS_FALLBACK = (typeof jsarguments !== \"undefined\") && jsarguments.length > 1 &&\n    String(jsarguments[1]) === \"fallback\";\n\n// All mutable state lives here, so a test can read it.\nvar S = {\n    engine: IS_FALLBACK ? \"js\" : \"v8\",\n    ready: false,              // true between init and shutdown\n    initMs: -1,\n    clientId: \"\",\n    replyPort: DEFAULT_REPLY_PORT,\n    daemonPort: DEFAULT_DAEMON_PORT,\n    lastSeenId: 0,             // highest alert id ever received (for sync)\n    alerts: [],                // newest first: {id, path, severity, check, t0, t1, value, message}\n    selectedId: -1,            // alert id selected in the table, -1 = none\n    lastStatusMs: -1,          // time of the last /loopwatch/status, -1 = never\n    daemon: { state: \"\", queueLen: 0, model: \"\", device: \"\" },\n    lastSubscribeMs: -1,\n    info: \"\",\n    colourEnabled: true,\n    liveMajor: 0,              // Live's major version, asked at init\n    verdicts: {},              // normalised path -> {path, verdict}\n    originalColours: {},       // clip id -> colour before we changed it\n    appliedColours: {},        // clip id -> colour we set\n    renderPending: false,\n    colourPending: false\n};\n\nvar renderTask = null;\nvar colourTask = null;\n\n// ---------------------------------------------------------------- helpers\n\nfunction nowMs() {\n    return Date.now();\n}\nnowMs.local = 1;\n\nfunction toStr(x) {\n    return (x === undefined || x === null) ? \"\" : String(x);\n}\ntoStr.local = 1;\n\nfunction toNum(x, fallback) {\n    var n = (typeof x === \"number\") ? x : parseFloat(x);\n    return isNaN(n) ? fallback : n;\n}\ntoNum.local = 1;\n\nfunction toInt(x, fallback) {\n    var n = toNum(x, NaN);\n    return isNaN(n) ? fallback : Math.round(n);\n}\ntoInt.local = 1;\n\nfunction endsWith(s, suffix) {\n    return s.length >= suffix.length && s.substr(s.length - suffix.length) === suffix;\n}\nendsWith.local = 1;\n\nfunction isTruncated(path) {\n    return path.charAt(0) === ELLIPSIS;\n}\nisTruncated.local = 1;\n\n// Case-folded, forward-slash, NFC form of a path, for comparisons only.\nfunction normPath(path) {\n    var s = toStr(path);\n    if (typeof s.normalize === \"function\") {\n        try {\n            s = s.normalize(\"NFC\");\n        } catch (e) {\n            // keep s\n        }\n    }\n    return s.split(\"\\\\\").join(\"/\").toLowerCase();\n}\nnormPath.local = 1;\n\n// Does a path from the daemon (possibly \"<ellipsis>tail\") name the same file\n// as another path (possibly shortened too)?\nfunction samePath(a, b) {\n    var ta = isTruncated(a);\n    var tb = isTruncated(b);\n    var na = normPath(ta ? a.substr(1) : a);\n    var nb = normPath(tb ? b.substr(1) : b);\n    if (!ta && !tb) {\n        return na === nb;\n    }\n    if (ta && tb) {\n        return na.length >= nb.length ? endsWith(na, nb) : endsWith(nb, na);\n    }\n    return ta ? endsWith(nb, na) : endsWith(na, nb);\n}\nsamePath.local = 1;\n\nfunction basename(path) {\n    var s = toStr(path).split(\"\\\\\").join(\"/\");\n    var parts = s.split(\"/\");\n    for (var i = parts.length - 1; i >= 0; i--) {\n        if (parts[i] !== \"\" && parts[i] !== ELLIPSIS) {\n            return parts[i];\n        }\n    }\n    return s;\n}\nbasename.local = 1;\n\nfunction formatTime(t) {\n    return toNum(t, 0).toFixed(3) + \" s\";\n}\nformatTime.local = 1;\n\nfunction isArray(value) {\n    return Object.prototype.toString.call(value) === \"[object Array]\";\n}\nisArray.local = 1;\n\nfunction firstAtom(value) {\n    if (isArray(value)) {\n        return value.length ? value[0] : undefined;\n    }\n    return value;\n}\nfirstAtom.local = 1;\n\n// LiveAPI.get() returns an array of atoms; a string property may come back\n// split at spaces, so join it back.\nfunction joinAtoms(value) {\n    if (isArray(value)) {\n        return value.join(\" \");\n    }\n    return toStr(value);\n}\njoinAtoms.local = 1;\n\nfunction isPress(value) {\n    return value === undefined || value === \"bang\" || toNum(value, 1) !== 0;\n}\nisPress.local = 1;\n\nfunction isConnected() {\n    return S.lastStatusMs >= 0 && (nowMs() - S.lastStatusMs) <= CONNECTED_WINDOW_MS;\n}\nisConnected.local = 1;\n\nfunction randomToken() {\n    var s = \"\";\n    while (s.length < 8) {\n        s += Math.floor(Math.random() * 36).toString(36);\n    }\n    return s;\n}\nrandomToken.local = 1;\n\n// A client id unique per device instance: the Live device id (when the Live\n// API answers) plus a random token.\nfunction ensureClientId() {\n    if (S.clientId) {\n        return;\n    }\n    var deviceId = \"\";\n    try {\n        var dev = new LiveAPI(\"this_device\");\n        deviceId = toStr(dev.id);\n        if (deviceId === \"0\") {\n            deviceId = \"\";\n        }\n    } catch (e) {\n        deviceId = \"\";\n    }\n    S.clientId = \"m4l-\" + (deviceId ? deviceId + \"-\" : \"\") + randomToken();\n}\nensureClientId.local = 1;\n\n// Track.arrangement_clips exists from Live 11 on (0 = unknown: try anyway).\nfunction askLiveVersion() {\n    try {\n        var app = new LiveAPI(\"live_app\");\n        S.liveMajor = toInt(firstAtom(app.call(\"get_major_version\")), 0);\n    } catch (e) {\n        S.liveMajor = 0;\n    }\n}\naskLiveVersion.local = 1;\n\n// ---------------------------------------------------------------- sending\n\nfunction sendOsc(address, args) {\n    outlet(OUT_OSC, [address].concat(args || []));\n}\nsendOsc.local = 1;\n\nfunction subscribe() {\n    S.lastSubscribeMs = nowMs();\n    sendOsc(\"/loopwatch/subscribe\", [S.clientId, \"m4l\", S.replyPort]);\n}\nsubscribe.local = 1;\n\nfunction requestSync() {\n    sendOsc(\"/loopwatch/sync\", [S.clientId, S.lastSeenId]);\n}\nrequestSync.local = 1;\n\n// ---------------------------------------------------------------- drawing\n\nfunction scheduleTask(which, delayMs) {\n    if (which === \"render\") {\n        if (S.renderPending) {\n            return;\n        }\n        S.renderPending = true;\n        if (!renderTask) {\n            renderTask = new Task(renderNow, this);\n        }\n        renderTask.schedule(delayMs);\n    } else {\n        if (S.colourPending) {\n            return;\n        }\n        S.colourPending = true;\n        if (!colourTask) {\n            colourTask = new Task(colourNow, this);\n        }\n        colourTask.schedule(delayMs);\n    }\n}\nscheduleTask.local = 1;\n\nfunction scheduleRender() {\n    if (S.ready) {\n        scheduleTask(\"render\", RENDER_DELAY_MS);\n    }\n}\nscheduleRender.local = 1;\n\nfunction statusText() {\n    if (!S.ready) {\n        return \"starting\\u2026\";\n    }\n    if (S.lastStatusMs < 0 && S.initMs >= 0 && nowMs() - S.initMs < CONNECTED_WINDOW_MS) {\n        return \"\\u25CB connecting to 127.0.0.1:\" + S.daemonPort + \"\\u2026\";\n    }\n    if (!isConnected()) {\n        return \"\\u25CB no daemon on 127.0.0.1:\" + S.daemonPort + \" \\u2014 start it with: loopwatch watch\";\n    }\n    var d = S.daemon;\n    var text = \"\\u25CF connected \\u00B7 \" + (d.state || \"?\") + \" \\u00B7 queue \" + d.queueLen;\n    text += d.model ? \" \\u00B7 model \" + d.model : \" \\u00B7 no model\";\n    if (d.device && d.device !== \"none\") {\n        text += \" (\" + d.device + \")\";\n    }\n    return text;\n}\nstatusText.local = 1;\n\nfunction countText() {\n    var n = S.alerts.length;\n    if (n === 0) {\n        return \"no alerts\";\n    }\n    var counts = { error: 0, warn: 0, info: 0 };\n    for (var i = 0; i < n; i++) {\n        var sev = S.alerts[i].severity;\n        if (counts.hasOwnProperty(sev)) {\n            counts[sev] += 1;\n        }\n    }\n    var parts = [];\n    if (counts.error) {\n        parts.push(counts.error + \" error\");\n    }\n    if (counts.warn) {\n        parts.push(counts.warn + \" warn\");\n    }\n    if (counts.info) {\n        parts.push(counts.info + \" info\");\n    }\n    return n + (n === 1 ? \" alert\" : \" alerts\") + (parts.length ? \" (\" + parts.join(\", \") + \")\" : \"\");\n}\ncountText.local = 1;\n\nfunction renderStatus() {\n    if (S.ready) {\n        outlet(OUT_STATUS, \"set\", statusText());\n    }\n}\nrenderStatus.local = 1;\n\nfunction renderInfo() {\n    if (S.ready) {\n        outlet(OUT_INFO, \"set\", S.info);\n    }\n}\nrenderInfo.local = 1;\n\nfunction selectionText() {\n    var i = indexOfAlert(S.selectedId);\n    if (i < 0) {\n        var n = S.alerts.length;\n        return n ? \"Ack: all \" + n + \" (no row selected)\" : \"click a row to select it\";\n    }\n    var a = S.alerts[i];\n    return \"Ack: \" + a.check + \" at \" + formatTime(a.t0) + \" in \" + basename(a.path);\n}\nselectionText.local = 1;\n\nfunction renderSelection() {\n    if (S.ready) {\n        outlet(OUT_SELECTION, \"set\", selectionText());\n    }\n}\nrenderSelection.local = 1;\n\nfunction renderNow() {\n    S.renderPending = false;\n    if (!S.ready) {\n        return;\n    }\n    var n = S.alerts.length;\n    outlet(OUT_TABLE, \"clear\", \"all\");\n    outlet(OUT_TABLE, \"rows\", n > 0 ? n : 1);\n    if (n === 0) {\n        outlet(OUT_TABLE, \"cell\", 0, 0, \"brgb\");\n        outlet(OUT_TABLE, \"set\", 1, 0, \"no alerts\");\n    }\n    for (var i = 0; i < n; i++) {\n        var a = S.alerts[i];\n        var style = SEVERITY_STYLE[a.severity] || { label: a.severity.toUpperCase(), rgb: [110, 110, 110] };\n        outlet(OUT_TABLE, \"set\", 0, i, style.label);\n        outlet(OUT_TABLE, \"set\", 1, i, basename(a.path));\n        outlet(OUT_TABLE, \"set\", 2, i, a.check);\n        outlet(OUT_TABLE, \"set\", 3, i, formatTime(a.t0));\n        outlet(OUT_TABLE, \"cell\", 0, i, \"brgb\", style.rgb[0], style.rgb[1], style.rgb[2]);\n    }\n    var selected = indexOfAlert(S.selectedId);\n    if (selected >= 0) {\n        // keep the table's highlight on the selected alert as rows move\n        outlet(OUT_TABLE, \"select\", 0, selected);\n    }\n    renderSelection();\n    outlet(OUT_COUNT, \"set\", countText());\n    renderStatus();\n}\nrenderNow.local = 1;\n\n// ---------------------------------------------------------------- alert list\n\nfunction indexOfAlert(id) {\n    for (var i = 0; i < S.alerts.length; i++) {\n        if (S.alerts[i].id === id) {\n            return i;\n        }\n    }\n    return -1;\n}\nindexOfAlert.local = 1;\n\nfunction insertAlert(alert) {\n    var existing = indexOfAlert(alert.id);\n    if (existing >= 0) {\n        S.alerts[existing] = alert;\n        return;\n    }\n    var i = 0;\n    while (i < S.alerts.length && S.alerts[i].id > alert.id) {\n        i++;\n    }\n    S.alerts.splice(i, 0, alert);\n    if (S.alerts.length > MAX_ALERTS) {\n        S.alerts.length = MAX_ALERTS;\n    }\n}\ninsertAlert.local = 1;\n\nfunction removeAlerts(predicate) {\n    var kept = [];\n    var removed = [];\n    for (var i = 0; i < S.alerts.length; i++) {\n        if (predicate(S.alerts[i])) {\n            removed.push(S.alerts[i]);\n        } else {\n            kept.push(S.alerts[i]);\n        }\n    }\n    S.alerts = kept;\n    if (S.selectedId >= 0 && indexOfAlert(S.selectedId) < 0) {\n        S.selectedId = -1;\n    }\n    return removed;\n}\nremoveAlerts.local = 1;\n\n// ---------------------------------------------------------------- clip colours\n\nfunction scheduleColour() {\n    if (S.ready && S.colourEnabled) {\n        scheduleTask(\"colour\", COLOUR_DELAY_MS);\n    }\n}\nscheduleColour.local = 1;\n\nfunction buildVerdictIndex() {\n    var exact = {};\n    var suffixes = [];\n    var any = false;\n    for (var key in S.verdicts) {\n        if (!S.verdicts.hasOwnProperty(key)) {\n            continue;\n        }\n        var entry = S.verdicts[key];\n        if (!VERDICT_COLOURS.hasOwnProperty(entry.verdict)) {\n            continue;\n        }\n        any = true;\n        if (isTruncated(entry.path)) {\n            suffixes.push([normPath(entry.path.substr(1)), entry.verdict]);\n        } else {\n            exact[normPath(entry.path)] = entry.verdict;\n        }\n    }\n    return any ? { exact: exact, suffixes: suffixes } : null;\n}\nbuildVerdictIndex.local = 1;\n\nfunction lookupVerdict(index, filePath) {\n    var n = normPath(filePath);\n    if (index.exact.hasOwnProperty(n)) {\n        return index.exact[n];\n    }\n    for (var i = 0; i < index.suffixes.length; i++) {\n        if (endsWith(n, index.suffixes[i][0])) {\n            return index.suffixes[i][1];\n        }\n    }\n    return null;\n}\nlookupVerdict.local = 1;\n\nfunction safeCount(api, child) {\n    try {\n        return toInt(api.getcount(child), 0);\n    } catch (e) {\n        return 0;\n    }\n}\nsafeCount.local = 1;\n\nfunction colourClip(api, path, index) {\n    api.path = path;\n    if (toInt(firstAtom(api.get(\"is_audio_clip\")), 0) !== 1) {\n        return 0;\n    }\n    var verdict = lookupVerdict(index, joinAtoms(api.get(\"file_path\")));\n    if (!verdict) {\n        return 0;\n    }\n    var target = VERDICT_COLOURS[verdict];\n    var id = toStr(api.id);\n    if (S.appliedColours[id] === target) {\n        return 0;\n    }\n    if (!S.originalColours.hasOwnProperty(id)) {\n        S.originalColours[id] = toInt(firstAtom(api.get(\"color\")), 0);\n    }\n    api.set(\"color\", target);\n    S.appliedColours[id] = target;\n    return 1;\n}\ncolourClip.local = 1;\n\n// One pass over every audio clip of the Set: session slots and arrangement\n// clips (Live 11+).\nfunction colourNow() {\n    S.colourPending = false;\n    if (!S.ready || !S.colourEnabled) {\n        return;\n    }\n    var index = buildVerdictIndex();\n    if (!index) {\n        return;\n    }\n    var api = new LiveAPI(\"live_set\");\n    var nTracks = safeCount(api, \"tracks\");\n    for (var t = 0; t < nTracks; t++) {\n        var track = \"live_set tracks \" + t;\n        api.path = track;\n        var nSlots = safeCount(api, \"clip_slots\");\n        var nArrangement = (S.liveMajor === 0 || S.liveMajor >= 11) ? safeCount(api, \"arrangement_clips\") : 0;\n        for (var s = 0; s < nSlots; s++) {\n            api.path = track + \" clip_slots \" + s;\n            if (toInt(firstAtom(api.get(\"has_clip\")), 0) === 1) {\n                colourClip(api, track + \" clip_slots \" + s + \" clip\", index);\n            }\n        }\n        for (var c = 0; c < nArrangement; c++) {\n            colourClip(api, track + \" arrangement_clips \" + c, index);\n        }\n    }\n}\ncolourNow.local = 1;\n\nfunction restoreColours() {\n    var ids = [];\n    for (var id in S.originalColours) {\n        if (S.originalColours.hasOwnProperty(id)) {\n            ids.push(id);\n        }\n    }\n    if (ids.length && S.ready) {\n        for (var i = 0; i < ids.length; i++) {\n            var api = new LiveAPI(\"id \" + ids[i]);\n            if (toStr(api.id) === ids[i]) {  // \"0\" when the clip is gone\n                api.set(\"color\", S.originalColours[ids[i]]);\n            }\n        }\n    }\n    S.originalColours = {};\n    S.appliedColours = {};\n}\nrestoreColours.local = 1;\n\n// ---------------------------------------------------------------- engine\n\nfunction announceEngine() {\n    if (!IS_FALLBACK) {\n        outlet(OUT_ENGINE, \"engine\", S.engine);\n    }\n}\nannounceEngine.local = 1;\n\n// Max calls loadbang() when the device is loaded; the patch also sends\n// \"probe\" from live.thisdevice before \"init\". The embedded [v8] copy answers\n// on outlet 5, which closes the gate in front of the [js] fallback.\nfunction loadbang() {\n    announceEngine();\n}\n\nfunction probe() {\n    announceEngine();\n}\n\n// ---------------------------------------------------------------- device messages\n\nfunction init() {\n    S.ready = true;\n    S.initMs = nowMs();\n    ensureClientId();\n    askLiveVersion();\n    subscribe();\n    requestSync();\n    S.info = \"listening on port \" + S.replyPort + \" \\u00B7 engine \" + S.engine + \" \\u00B7 \" + S.clientId;\n    for (var c = 0; c < COLUMN_WIDTHS.length; c++) {\n        outlet(OUT_TABLE, \"col\", c, \"width\", COLUMN_WIDTHS[c]);\n    }\n    renderNow();\n    renderInfo();\n    scheduleColour();\n}\n\nfunction tick() {\n    if (!S.ready) {\n        return;\n    }\n    if (S.lastSubscribeMs < 0 || nowMs() - S.lastSubscribeMs >= SUBSCRIBE_MIN_INTERVAL_MS) {\n        subscribe();\n    }\n    renderStatus();\n}\n\nfunction shutdown() {\n    if (S.ready && S.clientId) {\n        sendOsc(\"/loopwatch/unsubscribe\", [S.clientId]);\n    }\n    S.ready = false;\n}\n\nfunction setport(port) {\n    var p = toInt(port, -1);\n    if (p < 1 || p > 65535 || p === S.replyPort) {\n        return;\n    }\n    S.replyPort = p;\n    if (S.ready) {\n        subscribe();\n        requestSync();\n        S.info = \"listening on port \" + p;\n        renderInfo();\n    }\n}\n\nfunction setdaemonport(port) {\n    var p = toInt(port, -1);\n    if (p < 1 || p > 65535 || p === S.daemonPort) {\n        return;\n    }\n    S.daemonPort = p;\n    S.lastStatusMs = -1;\n    if (S.ready) {\n        subscribe();\n        requestSync();\n        renderStatus();\n    }\n}\n\nfunction colour_clips(on) {\n    S.colourEnabled = toInt(on, 0) !== 0;\n    if (!S.colourEnabled) {\n        restoreColours();\n    } else {\n        scheduleColour();\n    }\n}\n\nfunction clear_button(value) {\n    if (!isPress(value)) {\n        return;\n    }\n    S.alerts = [];\n    S.selectedId = -1;\n    scheduleRender();\n}\n\n// live.text in button mode: a bang (or 1) on click; a 0 is ignored.\nfunction ack_button(value) {\n    if (!isPress(value)) {\n        return;\n    }\n    var acked;\n    if (S.selectedId >= 0) {\n        var sel = S.selectedId;\n        acked = removeAlerts(function (a) { return a.id === sel; });\n    } else {\n        acked = removeAlerts(function (a) { return true; });\n    }\n    S.selectedId = -1;\n    if (S.ready) {\n        for (var i = 0; i < acked.length; i++) {\n            sendOsc(\"/loopwatch/ack\", [acked[i].id]);\n        }\n    }\n    scheduleRender();\n}\n\nfunction select_row(col, row) {\n    var r = toInt(row, -1);\n    S.selectedId = (r >= 0 && r < S.alerts.length) ? S.alerts[r].id : -1;\n    renderSelection();\n}\n\n// ---------------------------------------------------------------- daemon pushes\n\n// /loopwatch/alert isssfffs: alert_id path severity check t0 t1 value message\nfunction osc_alert() {\n    var a = arrayfromargs(arguments);\n    if (a.length < 8) {\n        post(\"loopwatch: /loopwatch/alert with \" + a.length + \" arguments ignored\\n\");\n        return;\n    }\n    var id = toInt(a[0], -1);\n    if (id < 0) {\n        return;\n    }\n    insertAlert({\n        id: id,\n        path: toStr(a[1]),\n        severity: toStr(a[2]),\n        check: toStr(a[3]),\n        t0: toNum(a[4], 0),\n        t1: toNum(a[5], 0),\n        value: toNum(a[6], 0),\n        message: toStr(a[7])\n    });\n    if (id > S.lastSeenId) {\n        S.lastSeenId = id;\n    }\n    scheduleRender();\n}\n\n// /loopwatch/file ssfis: path verdict outlier_ratio n_alerts model\nfunction osc_file() {\n    var a = arrayfromargs(arguments);\n    if (a.length < 2) {\n        return;\n    }\n    var path = toStr(a[0]);\n    S.verdicts[normPath(path)] = { path: path, verdict: toStr(a[1]) };\n    scheduleColour();\n}\n\n// /loopwatch/status siss: state queue_len model device\nfunction osc_status() {\n    var a = arrayfromargs(arguments);\n    S.lastStatusMs = nowMs();\n    S.daemon = {\n        state: toStr(a[0]),\n        queueLen: toInt(a[1], 0),\n        model: toStr(a[2]),\n        device: toStr(a[3])\n    };\n    renderStatus();\n}\n\n// /loopwatch/clear s: path (\"\" = every alert)\nfunction osc_clear() {\n    var a = arrayfromargs(arguments);\n    var path = a.length ? toStr(a[0]) : \"\";\n    if (path === \"\") {\n        removeAlerts(function (x) { return true; });\n        S.info = \"the daemon cleared every alert\";\n        renderInfo();\n    } else {\n        removeAlerts(function (x) { return samePath(x.path, path); });\n    }\n    scheduleRender();\n}\n\n// /loopwatch/done s: request_id. The device sends no score requests, so a\n// done is only another client's answer reaching every subscriber.\nfunction osc_done() {\n}\n\n// /loopwatch/error ss: context message\nfunction osc_error() {\n    var a = arrayfromargs(arguments);\n    S.info = \"daemon error (\" + toStr(a[0]) + \"): \" + toStr(a[1]);\n    renderInfo();\n}\n\nfunction anything() {\n    post(\"loopwatch: unknown message \" + messagename + \"\\n\");\n}\n",
                        "filename": "none",
                        "flags": 0,
                        "embed": 1,
                        "autowatch": 1
                    },
                    "varname": "engine_v8"
                }
            },
            {
                "box": {
                    "id": "obj-6",
                    "maxclass": "newobj",
                    "numinlets": 2,
                    "numoutlets": 1,
                    "outlettype": [ "" ],
                    "patching_rect": [ 560.0, 400.0, 55.0, 22.0 ],
                    "text": "gate 1 1"
                }
            },
            {
                "box": {
                    "id": "obj-7",
                    "maxclass": "newobj",
                    "numinlets": 1,
                    "numoutlets": 7,
                    "outlettype": [ "", "", "", "", "", "", "" ],
                    "patching_rect": [ 560.0, 430.0, 160.0, 22.0 ],
                    "saved_object_attributes": {
                        "filename": "loopwatch.js",
                        "parameter_enable": 0
                    },
                    "text": "js loopwatch.js fallback",
                    "varname": "engine_js"
                }
            },
            {
                "box": {
                    "id": "obj-8",
                    "maxclass": "newobj",
                    "numinlets": 1,
                    "numoutlets": 1,
                    "outlettype": [ "bang" ],
                    "patching_rect": [ 360.0, 470.0, 30.0, 22.0 ],
                    "text": "t b"
                }
            },
            {
                "box": {
                    "id": "obj-9",
                    "maxclass": "message",
                    "numinlets": 2,
                    "numoutlets": 1,
                    "outlettype": [ "" ],
                    "patching_rect": [ 360.0, 500.0, 30.0, 22.0 ],
                    "text": "0"
                }
            },
            {
                "box": {
                    "id": "obj-10",
                    "linecount": 3,
                    "maxclass": "comment",
                    "numinlets": 1,
                    "numoutlets": 0,
                    "patching_rect": [ 740.0, 400.0, 300.0, 47.0 ],
                    "text": "[v8] runs the embedded code (Max 9 / Live 12.2+) and closes the gate; without [v8] (older Max) the gate stays open and [js loopwatch.js fallback] runs"
                }
            },
            {
                "box": {
                    "id": "obj-11",
                    "maxclass": "newobj",
                    "numinlets": 1,
                    "numoutlets": 3,
                    "outlettype": [ "bang", "int", "int" ],
                    "patching_rect": [ 360.0, 60.0, 90.0, 22.0 ],
                    "text": "live.thisdevice"
                }
            },
            {
                "box": {
                    "id": "obj-12",
                    "maxclass": "newobj",
                    "numinlets": 1,
                    "numoutlets": 3,
                    "outlettype": [ "bang", "bang", "bang" ],
                    "patching_rect": [ 360.0, 90.0, 60.0, 22.0 ],
                    "text": "t b b b"
                }
            },
            {
                "box": {
                    "id": "obj-13",
                    "maxclass": "message",
                    "numinlets": 2,
                    "numoutlets": 1,
                    "outlettype": [ "" ],
                    "patching_rect": [ 470.0, 120.0, 45.0, 22.0 ],
                    "text": "probe"
                }
            },
            {
                "box": {
                    "id": "obj-14",
                    "maxclass": "message",
                    "numinlets": 2,
                    "numoutlets": 1,
                    "outlettype": [ "" ],
                    "patching_rect": [ 415.0, 120.0, 35.0, 22.0 ],
                    "text": "init"
                }
            },
            {
                "box": {
                    "id": "obj-15",
                    "maxclass": "newobj",
                    "numinlets": 2,
                    "numoutlets": 1,
                    "outlettype": [ "bang" ],
                    "patching_rect": [ 360.0, 150.0, 70.0, 22.0 ],
                    "text": "metro 5000"
                }
            },
            {
                "box": {
                    "id": "obj-16",
                    "maxclass": "message",
                    "numinlets": 2,
                    "numoutlets": 1,
                    "outlettype": [ "" ],
                    "patching_rect": [ 360.0, 180.0, 35.0, 22.0 ],
                    "text": "tick"
                }
            },
            {
                "box": {
                    "id": "obj-17",
                    "linecount": 2,
                    "maxclass": "comment",
                    "numinlets": 1,
                    "numoutlets": 0,
                    "patching_rect": [ 470.0, 60.0, 260.0, 33.0 ],
                    "text": "after load: probe [v8], init (subscribe + sync), then renew the subscription every 5 s"
                }
            },
            {
                "box": {
                    "id": "obj-18",
                    "maxclass": "newobj",
                    "numinlets": 0,
                    "numoutlets": 1,
                    "outlettype": [ "bang" ],
                    "patching_rect": [ 560.0, 180.0, 60.0, 22.0 ],
                    "text": "freebang"
                }
            },
            {
                "box": {
                    "id": "obj-19",
                    "maxclass": "message",
                    "numinlets": 2,
                    "numoutlets": 1,
                    "outlettype": [ "" ],
                    "patching_rect": [ 560.0, 210.0, 60.0, 22.0 ],
                    "text": "shutdown"
                }
            },
            {
                "box": {
                    "id": "obj-20",
                    "maxclass": "comment",
                    "numinlets": 1,
                    "numoutlets": 0,
                    "patching_rect": [ 625.0, 210.0, 170.0, 20.0 ],
                    "text": "device removed: unsubscribe"
                }
            },
            {
                "box": {
                    "id": "obj-21",
                    "maxclass": "newobj",
                    "numinlets": 1,
                    "numoutlets": 1,
                    "outlettype": [ "" ],
                    "patching_rect": [ 20.0, 250.0, 160.0, 22.0 ],
                    "text": "udpreceive 9702 @defer 1"
                }
            },
            {
                "box": {
                    "id": "obj-22",
                    "maxclass": "newobj",
                    "numinlets": 7,
                    "numoutlets": 7,
                    "outlettype": [ "", "", "", "", "", "", "" ],
                    "patching_rect": [ 20.0, 290.0, 620.0, 22.0 ],
                    "text": "route /loopwatch/alert /loopwatch/file /loopwatch/status /loopwatch/clear /loopwatch/done /loopwatch/error"
                }
            },
            {
                "box": {
                    "id": "obj-23",
                    "maxclass": "newobj",
                    "numinlets": 1,
                    "numoutlets": 1,
                    "outlettype": [ "" ],
                    "patching_rect": [ 20.0, 330.0, 100.0, 22.0 ],
                    "text": "prepend osc_alert"
                }
            },
            {
                "box": {
                    "id": "obj-24",
                    "maxclass": "newobj",
                    "numinlets": 1,
                    "numoutlets": 1,
                    "outlettype": [ "" ],
                    "patching_rect": [ 125.0, 330.0, 100.0, 22.0 ],
                    "text": "prepend osc_file"
                }
            },
            {
                "box": {
                    "id": "obj-25",
                    "maxclass": "newobj",
                    "numinlets": 1,
                    "numoutlets": 1,
                    "outlettype": [ "" ],
                    "patching_rect": [ 230.0, 330.0, 100.0, 22.0 ],
                    "text": "prepend osc_status"
                }
            },
            {
                "box": {
                    "id": "obj-26",
                    "maxclass": "newobj",
                    "numinlets": 1,
                    "numoutlets": 1,
                    "outlettype": [ "" ],
                    "patching_rect": [ 335.0, 330.0, 100.0, 22.0 ],
                    "text": "prepend osc_clear"
                }
            },
            {
                "box": {
                    "id": "obj-27",
                    "maxclass": "newobj",
                    "numinlets": 1,
                    "numoutlets": 1,
                    "outlettype": [ "" ],
                    "patching_rect": [ 440.0, 330.0, 100.0, 22.0 ],
                    "text": "prepend osc_done"
                }
            },
            {
                "box": {
                    "id": "obj-28",
                    "maxclass": "newobj",
                    "numinlets": 1,
                    "numoutlets": 1,
                    "outlettype": [ "" ],
                    "patching_rect": [ 545.0, 330.0, 100.0, 22.0 ],
                    "text": "prepend osc_error"
                }
            },
            {
                "box": {
                    "id": "obj-29",
                    "maxclass": "comment",
                    "numinlets": 1,
                    "numoutlets": 0,
                    "patching_rect": [ 185.0, 250.0, 360.0, 20.0 ],
                    "text": "daemon pushes arrive here (OSC; the address becomes the selector)"
                }
            },
            {
                "box": {
                    "id": "obj-30",
                    "maxclass": "newobj",
                    "numinlets": 1,
                    "numoutlets": 0,
                    "patching_rect": [ 360.0, 560.0, 150.0, 22.0 ],
                    "text": "udpsend 127.0.0.1 9701"
                }
            },
            {
                "box": {
                    "id": "obj-31",
                    "maxclass": "comment",
                    "numinlets": 1,
                    "numoutlets": 0,
                    "patching_rect": [ 515.0, 560.0, 320.0, 20.0 ],
                    "text": "requests to the daemon: subscribe, sync, ack, unsubscribe"
                }
            },
            {
                "box": {
                    "fontsize": 9.5,
                    "id": "obj-32",
                    "maxclass": "live.comment",
                    "numinlets": 1,
                    "numoutlets": 0,
                    "patching_rect": [ 20.0, 620.0, 330.0, 18.0 ],
                    "presentation": 1,
                    "presentation_rect": [ 4.0, 2.0, 346.0, 16.0 ],
                    "text": "starting…",
                    "textcolor": [ 0.85, 0.85, 0.85, 1.0 ],
                    "textjustification": 0,
                    "varname": "status_line"
                }
            },
            {
                "box": {
                    "fontsize": 9.5,
                    "id": "obj-33",
                    "maxclass": "live.comment",
                    "numinlets": 1,
                    "numoutlets": 0,
                    "patching_rect": [ 360.0, 620.0, 160.0, 18.0 ],
                    "presentation": 1,
                    "presentation_rect": [ 356.0, 2.0, 162.0, 16.0 ],
                    "text": "no alerts",
                    "textcolor": [ 0.6, 0.6, 0.6, 1.0 ],
                    "textjustification": 0,
                    "varname": "alert_count"
                }
            },
            {
                "box": {
                    "fontsize": 9.0,
                    "id": "obj-34",
                    "maxclass": "live.comment",
                    "numinlets": 1,
                    "numoutlets": 0,
                    "patching_rect": [ 20.0, 860.0, 330.0, 18.0 ],
                    "presentation": 1,
                    "presentation_rect": [ 4.0, 151.0, 514.0, 16.0 ],
                    "text": "",
                    "textcolor": [ 0.6, 0.6, 0.6, 1.0 ],
                    "textjustification": 0,
                    "varname": "info_line"
                }
            },
            {
                "box": {
                    "fontsize": 9.0,
                    "id": "obj-35",
                    "maxclass": "live.comment",
                    "numinlets": 1,
                    "numoutlets": 0,
                    "patching_rect": [ 700.0, 620.0, 160.0, 30.0 ],
                    "presentation": 1,
                    "presentation_rect": [ 356.0, 114.0, 162.0, 34.0 ],
                    "text": "click a row to select it",
                    "textcolor": [ 0.6, 0.6, 0.6, 1.0 ],
                    "textjustification": 0,
                    "varname": "selection_line"
                }
            },
            {
                "box": {
                    "fontsize": 9.0,
                    "id": "obj-36",
                    "maxclass": "live.comment",
                    "numinlets": 1,
                    "numoutlets": 0,
                    "patching_rect": [ 20.0, 650.0, 50.0, 18.0 ],
                    "presentation": 1,
                    "presentation_rect": [ 4.0, 18.0, 40.0, 14.0 ],
                    "text": "sev",
                    "textcolor": [ 0.6, 0.6, 0.6, 1.0 ],
                    "textjustification": 0,
                    "varname": "header_sev"
                }
            },
            {
                "box": {
                    "fontsize": 9.0,
                    "id": "obj-37",
                    "maxclass": "live.comment",
                    "numinlets": 1,
                    "numoutlets": 0,
                    "patching_rect": [ 80.0, 650.0, 50.0, 18.0 ],
                    "presentation": 1,
                    "presentation_rect": [ 44.0, 18.0, 150.0, 14.0 ],
                    "text": "file",
                    "textcolor": [ 0.6, 0.6, 0.6, 1.0 ],
                    "textjustification": 0,
                    "varname": "header_file"
                }
            },
            {
                "box": {
                    "fontsize": 9.0,
                    "id": "obj-38",
                    "maxclass": "live.comment",
                    "numinlets": 1,
                    "numoutlets": 0,
                    "patching_rect": [ 140.0, 650.0, 50.0, 18.0 ],
                    "presentation": 1,
                    "presentation_rect": [ 194.0, 18.0, 80.0, 14.0 ],
                    "text": "check",
                    "textcolor": [ 0.6, 0.6, 0.6, 1.0 ],
                    "textjustification": 0,
                    "varname": "header_check"
                }
            },
            {
                "box": {
                    "fontsize": 9.0,
                    "id": "obj-39",
                    "maxclass": "live.comment",
                    "numinlets": 1,
                    "numoutlets": 0,
                    "patching_rect": [ 200.0, 650.0, 50.0, 18.0 ],
                    "presentation": 1,
                    "presentation_rect": [ 274.0, 18.0, 62.0, 14.0 ],
                    "text": "time",
                    "textcolor": [ 0.6, 0.6, 0.6, 1.0 ],
                    "textjustification": 0,
                    "varname": "header_time"
                }
            },
            {
                "box": {
                    "bgcolor": [ 0.129, 0.129, 0.129, 1.0 ],
                    "border": 1,
                    "bordercolor": [ 0.3, 0.3, 0.3, 1.0 ],
                    "colhead": 0,
                    "cols": 4,
                    "colwidth": 80,
                    "fgcolor": [ 0.85, 0.85, 0.85, 1.0 ],
                    "fontname": "Arial",
                    "fontsize": 10.0,
                    "gridlinecolor": [ 0.25, 0.25, 0.25, 1.0 ],
                    "hcellcolor": [ 0.35, 0.35, 0.35, 1.0 ],
                    "hscroll": 0,
                    "id": "obj-40",
                    "maxclass": "jit.cellblock",
                    "numinlets": 2,
                    "numoutlets": 4,
                    "outlettype": [ "list", "", "", "" ],
                    "patching_rect": [ 20.0, 680.0, 346.0, 116.0 ],
                    "presentation": 1,
                    "presentation_rect": [ 4.0, 32.0, 346.0, 116.0 ],
                    "readonly": 1,
                    "rowhead": 0,
                    "rowheight": 16,
                    "rows": 1,
                    "selmode": 3,
                    "varname": "alert_table",
                    "vscroll": 1
                }
            },
            {
                "box": {
                    "id": "obj-41",
                    "maxclass": "newobj",
                    "numinlets": 1,
                    "numoutlets": 1,
                    "outlettype": [ "" ],
                    "patching_rect": [ 20.0, 810.0, 110.0, 22.0 ],
                    "text": "prepend select_row"
                }
            },
            {
                "box": {
                    "annotation": "Acknowledge the selected alert, or every alert in the list when none is selected: the daemon stops replaying it.",
                    "annotation_name": "Ack",
                    "id": "obj-42",
                    "maxclass": "live.text",
                    "mode": 0,
                    "numinlets": 1,
                    "numoutlets": 2,
                    "outlettype": [ "", "" ],
                    "parameter_enable": 1,
                    "patching_rect": [ 400.0, 680.0, 60.0, 18.0 ],
                    "presentation": 1,
                    "presentation_rect": [ 356.0, 22.0, 78.0, 18.0 ],
                    "saved_attribute_attributes": {
                        "valueof": {
                            "parameter_enum": [ "val1", "val2" ],
                            "parameter_info": "Acknowledge the selected alert, or every alert in the list when none is selected: the daemon stops replaying it.",
                            "parameter_invisible": 2,
                            "parameter_longname": "Ack",
                            "parameter_mmax": 1,
                            "parameter_modmode": 0,
                            "parameter_shortname": "Ack",
                            "parameter_type": 2
                        }
                    },
                    "text": "Ack",
                    "varname": "ack_button"
                }
            },
            {
                "box": {
                    "id": "obj-43",
                    "maxclass": "newobj",
                    "numinlets": 1,
                    "numoutlets": 1,
                    "outlettype": [ "" ],
                    "patching_rect": [ 400.0, 710.0, 110.0, 22.0 ],
                    "text": "prepend ack_button"
                }
            },
            {
                "box": {
                    "annotation": "Empty the list in this device only (nothing is acknowledged).",
                    "annotation_name": "Clear",
                    "id": "obj-44",
                    "maxclass": "live.text",
                    "mode": 0,
                    "numinlets": 1,
                    "numoutlets": 2,
                    "outlettype": [ "", "" ],
                    "parameter_enable": 1,
                    "patching_rect": [ 480.0, 680.0, 60.0, 18.0 ],
                    "presentation": 1,
                    "presentation_rect": [ 440.0, 22.0, 78.0, 18.0 ],
                    "saved_attribute_attributes": {
                        "valueof": {
                            "parameter_enum": [ "val1", "val2" ],
                            "parameter_info": "Empty the list in this device only (nothing is acknowledged).",
                            "parameter_invisible": 2,
                            "parameter_longname": "Clear",
                            "parameter_mmax": 1,
                            "parameter_modmode": 0,
                            "parameter_shortname": "Clear",
                            "parameter_type": 2
                        }
                    },
                    "text": "Clear",
                    "varname": "clear_button"
                }
            },
            {
                "box": {
                    "id": "obj-45",
                    "maxclass": "newobj",
                    "numinlets": 1,
                    "numoutlets": 1,
                    "outlettype": [ "" ],
                    "patching_rect": [ 520.0, 740.0, 115.0, 22.0 ],
                    "text": "prepend clear_button"
                }
            },
            {
                "box": {
                    "annotation": "Colour audio clips by the daemon's verdict for their file (ok green, warn orange, error red, failed violet). Off restores the colours this device changed.",
                    "annotation_name": "Colour Clips",
                    "id": "obj-46",
                    "maxclass": "live.toggle",
                    "numinlets": 1,
                    "numoutlets": 1,
                    "outlettype": [ "" ],
                    "parameter_enable": 1,
                    "patching_rect": [ 560.0, 680.0, 16.0, 16.0 ],
                    "presentation": 1,
                    "presentation_rect": [ 356.0, 47.0, 16.0, 16.0 ],
                    "saved_attribute_attributes": {
                        "valueof": {
                            "parameter_enum": [ "off", "on" ],
                            "parameter_initial": [ 1 ],
                            "parameter_initial_enable": 1,
                            "parameter_invisible": 1,
                            "parameter_longname": "Colour Clips",
                            "parameter_mmax": 1,
                            "parameter_modmode": 0,
                            "parameter_shortname": "Colour",
                            "parameter_type": 2
                        }
                    },
                    "varname": "colour_clips"
                }
            },
            {
                "box": {
                    "fontsize": 9.5,
                    "id": "obj-47",
                    "maxclass": "live.comment",
                    "numinlets": 1,
                    "numoutlets": 0,
                    "patching_rect": [ 580.0, 680.0, 80.0, 18.0 ],
                    "presentation": 1,
                    "presentation_rect": [ 376.0, 46.0, 140.0, 18.0 ],
                    "text": "colour clips",
                    "textcolor": [ 0.85, 0.85, 0.85, 1.0 ],
                    "textjustification": 0,
                    "varname": "colour_label"
                }
            },
            {
                "box": {
                    "id": "obj-48",
                    "maxclass": "newobj",
                    "numinlets": 1,
                    "numoutlets": 1,
                    "outlettype": [ "" ],
                    "patching_rect": [ 560.0, 710.0, 120.0, 22.0 ],
                    "text": "prepend colour_clips"
                }
            },
            {
                "box": {
                    "fontsize": 9.5,
                    "id": "obj-49",
                    "maxclass": "live.comment",
                    "numinlets": 1,
                    "numoutlets": 0,
                    "patching_rect": [ 400.0, 750.0, 70.0, 18.0 ],
                    "presentation": 1,
                    "presentation_rect": [ 356.0, 70.0, 80.0, 18.0 ],
                    "text": "listen port",
                    "textcolor": [ 0.85, 0.85, 0.85, 1.0 ],
                    "textjustification": 0,
                    "varname": "listen_port_label"
                }
            },
            {
                "box": {
                    "annotation": "UDP port this device listens on. Give each LoopWatch instance its own port.",
                    "annotation_name": "Listen Port",
                    "id": "obj-50",
                    "maxclass": "live.numbox",
                    "numinlets": 1,
                    "numoutlets": 2,
                    "outlettype": [ "", "float" ],
                    "parameter_enable": 1,
                    "patching_rect": [ 400.0, 775.0, 60.0, 15.0 ],
                    "presentation": 1,
                    "presentation_rect": [ 440.0, 71.0, 76.0, 16.0 ],
                    "saved_attribute_attributes": {
                        "valueof": {
                            "parameter_annotation_name": "Listen Port",
                            "parameter_info": "UDP port this device listens on. Give each LoopWatch instance its own port.",
                            "parameter_initial": [ 9702 ],
                            "parameter_initial_enable": 1,
                            "parameter_invisible": 1,
                            "parameter_longname": "Listen Port",
                            "parameter_mmax": 65535.0,
                            "parameter_mmin": 1024.0,
                            "parameter_modmode": 0,
                            "parameter_shortname": "Port",
                            "parameter_type": 1,
                            "parameter_unitstyle": 0
                        }
                    },
                    "varname": "listen_port"
                }
            },
            {
                "box": {
                    "id": "obj-51",
                    "maxclass": "newobj",
                    "numinlets": 1,
                    "numoutlets": 2,
                    "outlettype": [ "int", "int" ],
                    "patching_rect": [ 400.0, 800.0, 40.0, 22.0 ],
                    "text": "t i i"
                }
            },
            {
                "box": {
                    "id": "obj-52",
                    "maxclass": "newobj",
                    "numinlets": 1,
                    "numoutlets": 1,
                    "outlettype": [ "" ],
                    "patching_rect": [ 440.0, 830.0, 80.0, 22.0 ],
                    "text": "prepend port"
                }
            },
            {
                "box": {
                    "id": "obj-53",
                    "maxclass": "newobj",
                    "numinlets": 1,
                    "numoutlets": 1,
                    "outlettype": [ "" ],
                    "patching_rect": [ 400.0, 860.0, 90.0, 22.0 ],
                    "text": "prepend setport"
                }
            },
            {
                "box": {
                    "fontsize": 9.5,
                    "id": "obj-54",
                    "maxclass": "live.comment",
                    "numinlets": 1,
                    "numoutlets": 0,
                    "patching_rect": [ 560.0, 750.0, 70.0, 18.0 ],
                    "presentation": 1,
                    "presentation_rect": [ 356.0, 92.0, 80.0, 18.0 ],
                    "text": "daemon port",
                    "textcolor": [ 0.85, 0.85, 0.85, 1.0 ],
                    "textjustification": 0,
                    "varname": "daemon_port_label"
                }
            },
            {
                "box": {
                    "annotation": "UDP port of the loopwatch daemon on 127.0.0.1 ([osc] port, --osc-port).",
                    "annotation_name": "Daemon Port",
                    "id": "obj-55",
                    "maxclass": "live.numbox",
                    "numinlets": 1,
                    "numoutlets": 2,
                    "outlettype": [ "", "float" ],
                    "parameter_enable": 1,
                    "patching_rect": [ 560.0, 775.0, 60.0, 15.0 ],
                    "presentation": 1,
                    "presentation_rect": [ 440.0, 93.0, 76.0, 16.0 ],
                    "saved_attribute_attributes": {
                        "valueof": {
                            "parameter_annotation_name": "Daemon Port",
                            "parameter_info": "UDP port of the loopwatch daemon on 127.0.0.1 ([osc] port, --osc-port).",
                            "parameter_initial": [ 9701 ],
                            "parameter_initial_enable": 1,
                            "parameter_invisible": 1,
                            "parameter_longname": "Daemon Port",
                            "parameter_mmax": 65535.0,
                            "parameter_mmin": 1024.0,
                            "parameter_modmode": 0,
                            "parameter_shortname": "Daemon",
                            "parameter_type": 1,
                            "parameter_unitstyle": 0
                        }
                    },
                    "varname": "daemon_port"
                }
            },
            {
                "box": {
                    "id": "obj-56",
                    "maxclass": "newobj",
                    "numinlets": 1,
                    "numoutlets": 2,
                    "outlettype": [ "int", "int" ],
                    "patching_rect": [ 560.0, 800.0, 40.0, 22.0 ],
                    "text": "t i i"
                }
            },
            {
                "box": {
                    "id": "obj-57",
                    "maxclass": "newobj",
                    "numinlets": 1,
                    "numoutlets": 1,
                    "outlettype": [ "" ],
                    "patching_rect": [ 600.0, 830.0, 80.0, 22.0 ],
                    "text": "prepend port"
                }
            },
            {
                "box": {
                    "id": "obj-58",
                    "maxclass": "newobj",
                    "numinlets": 1,
                    "numoutlets": 1,
                    "outlettype": [ "" ],
                    "patching_rect": [ 560.0, 860.0, 130.0, 22.0 ],
                    "text": "prepend setdaemonport"
                }
            }
        ],
        "lines": [
            {
                "patchline": {
                    "destination": [ "obj-3", 0 ],
                    "source": [ "obj-2", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-3", 1 ],
                    "source": [ "obj-2", 1 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-7", 0 ],
                    "source": [ "obj-6", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-8", 0 ],
                    "source": [ "obj-5", 5 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-9", 0 ],
                    "source": [ "obj-8", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-6", 0 ],
                    "source": [ "obj-9", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-12", 0 ],
                    "source": [ "obj-11", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-13", 0 ],
                    "source": [ "obj-12", 2 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-5", 0 ],
                    "source": [ "obj-13", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-14", 0 ],
                    "source": [ "obj-12", 1 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-5", 0 ],
                    "source": [ "obj-14", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-6", 1 ],
                    "source": [ "obj-14", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-15", 0 ],
                    "source": [ "obj-12", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-16", 0 ],
                    "source": [ "obj-15", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-5", 0 ],
                    "source": [ "obj-16", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-6", 1 ],
                    "source": [ "obj-16", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-19", 0 ],
                    "source": [ "obj-18", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-5", 0 ],
                    "source": [ "obj-19", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-6", 1 ],
                    "source": [ "obj-19", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-22", 0 ],
                    "source": [ "obj-21", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-23", 0 ],
                    "source": [ "obj-22", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-5", 0 ],
                    "source": [ "obj-23", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-6", 1 ],
                    "source": [ "obj-23", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-24", 0 ],
                    "source": [ "obj-22", 1 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-5", 0 ],
                    "source": [ "obj-24", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-6", 1 ],
                    "source": [ "obj-24", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-25", 0 ],
                    "source": [ "obj-22", 2 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-5", 0 ],
                    "source": [ "obj-25", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-6", 1 ],
                    "source": [ "obj-25", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-26", 0 ],
                    "source": [ "obj-22", 3 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-5", 0 ],
                    "source": [ "obj-26", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-6", 1 ],
                    "source": [ "obj-26", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-27", 0 ],
                    "source": [ "obj-22", 4 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-5", 0 ],
                    "source": [ "obj-27", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-6", 1 ],
                    "source": [ "obj-27", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-28", 0 ],
                    "source": [ "obj-22", 5 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-5", 0 ],
                    "source": [ "obj-28", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-6", 1 ],
                    "source": [ "obj-28", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-41", 0 ],
                    "source": [ "obj-40", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-5", 0 ],
                    "source": [ "obj-41", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-6", 1 ],
                    "source": [ "obj-41", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-30", 0 ],
                    "source": [ "obj-5", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-40", 0 ],
                    "source": [ "obj-5", 1 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-32", 0 ],
                    "source": [ "obj-5", 2 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-33", 0 ],
                    "source": [ "obj-5", 3 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-34", 0 ],
                    "source": [ "obj-5", 4 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-35", 0 ],
                    "source": [ "obj-5", 6 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-30", 0 ],
                    "source": [ "obj-7", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-40", 0 ],
                    "source": [ "obj-7", 1 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-32", 0 ],
                    "source": [ "obj-7", 2 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-33", 0 ],
                    "source": [ "obj-7", 3 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-34", 0 ],
                    "source": [ "obj-7", 4 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-35", 0 ],
                    "source": [ "obj-7", 6 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-43", 0 ],
                    "source": [ "obj-42", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-5", 0 ],
                    "source": [ "obj-43", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-6", 1 ],
                    "source": [ "obj-43", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-45", 0 ],
                    "source": [ "obj-44", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-5", 0 ],
                    "source": [ "obj-45", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-6", 1 ],
                    "source": [ "obj-45", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-48", 0 ],
                    "source": [ "obj-46", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-5", 0 ],
                    "source": [ "obj-48", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-6", 1 ],
                    "source": [ "obj-48", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-51", 0 ],
                    "source": [ "obj-50", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-52", 0 ],
                    "source": [ "obj-51", 1 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-21", 0 ],
                    "source": [ "obj-52", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-53", 0 ],
                    "source": [ "obj-51", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-5", 0 ],
                    "source": [ "obj-53", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-6", 1 ],
                    "source": [ "obj-53", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-56", 0 ],
                    "source": [ "obj-55", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-57", 0 ],
                    "source": [ "obj-56", 1 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-30", 0 ],
                    "source": [ "obj-57", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-58", 0 ],
                    "source": [ "obj-56", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-5", 0 ],
                    "source": [ "obj-58", 0 ]
                }
            },
            {
                "patchline": {
                    "destination": [ "obj-6", 1 ],
                    "source": [ "obj-58", 0 ]
                }
            }
        ],
        "parameters": {
            "obj-42": [ "Ack", "Ack", 0 ],
            "obj-44": [ "Clear", "Clear", 0 ],
            "obj-46": [ "Colour Clips", "Colour", 0 ],
            "obj-50": [ "Listen Port", "Port", 0 ],
            "obj-55": [ "Daemon Port", "Daemon", 0 ],
            "inherited_shortname": 1
        },
        "dependency_cache": [
            {
                "name": "loopwatch.js",
                "bootpath": ".",
                "patcherrelativepath": ".",
                "type": "TEXT",
                "implicit": 1
            }
        ],
        "latency": 0,
        "is_mpe": 0,
        "minimum_live_version": "",
        "minimum_max_version": "",
        "platform_compatibility": 0,
        "project": {
            "version": 1,
            "creationdate": 3590052493,
            "modificationdate": 3590052493,
            "viewrect": [ 0.0, 0.0, 300.0, 500.0 ],
            "autoorganize": 1,
            "hideprojectwindow": 1,
            "showdependencies": 1,
            "autolocalize": 0,
            "contents": {
                "patchers": {}
            },
            "layout": {},
            "searchpath": {},
            "detailsvisible": 0,
            "amxdtype": 1633771873,
            "readonly": 0,
            "devpathtype": 0,
            "devpath": ".",
            "sortmode": 0,
            "viewmode": 0,
            "includepackages": 0
        },
        "autosave": 0
    }
}
