-- reaper_stub.lua: a stand-in for REAPER's `reaper` and `gfx` tables, so the
-- loopwatch scripts run under plain lua5.4 in tests.
--
-- It models what the scripts touch: items, takes, sources (file sources and
-- section/reverse wrappers with GetMediaSourceParent / PCM_Source_GetSectionInfo),
-- take markers (kept sorted by source position, as REAPER does), item colours,
-- the project's edit cursor and selection, ExtState, undo blocks, the console,
-- reaper.defer/atexit, ExecProcess (runs the command for real), GetOS and
-- GetResourcePath. Function names and argument types follow the ReaScript API;
-- a wrong argument type is an error for the functions that check them, and
-- every name read that the stub does not have is recorded (tests check that
-- only optional, feature-tested functions are among them).
--
-- The clock is real (LuaSocket's gettime/sleep), because the scripts talk to
-- real sockets, files and processes.

local json = require("loopwatch_json")

local S = {}

local real_socket = require("socket") -- for the clock and sleeping only

local function fail(fmt, ...)
  error(("reaper stub: " .. fmt):format(...), 3)
end

local function check(cond, fmt, ...)
  if not cond then
    fail(fmt, ...)
  end
end

local function is_int(v)
  return math.type(v) == "integer" or (type(v) == "number" and v == math.floor(v))
end

-- Objects ---------------------------------------------------------------------

local function new_obj(kind, fields)
  local o = fields or {}
  o.__kind = kind
  return setmetatable(o, { __name = kind, __tostring = function() return kind end })
end

local function make_source(spec)
  if spec.parent then
    return new_obj("PCM_source", {
      type = spec.type or "SECTION",
      offs = spec.offs or 0,
      len = spec.len or 0,
      rev = spec.rev or false,
      parent = make_source(spec.parent),
    })
  end
  return new_obj("PCM_source", {
    type = spec.type or "WAVE",
    file = spec.file or "",
    length = spec.length or 0,
  })
end

local function source_length(src)
  if src.parent then
    if src.len and src.len > 0 then
      return src.len
    end
    return source_length(src.parent) - src.offs
  end
  return src.length
end

-- State -------------------------------------------------------------------------

function S.install(sc)
  S.sc = sc
  S.t0 = real_socket.gettime()
  S.console = {}
  S.undo = {}
  S.undo_depth = 0
  S.changes_outside_undo = {}
  S.defer_queue = {}
  S.atexit = {}
  S.exec_calls = {}
  S.action_options = {}
  S.toggles = {}
  S.edit_cursor = 0
  S.cursor_moves = {}
  S.commands = {}
  S.refresh_depth = 0
  S.extstate = {}
  for section, kv in pairs(sc.extstate or {}) do
    S.extstate[section] = {}
    for k, v in pairs(kv) do
      S.extstate[section][k] = tostring(v)
    end
  end
  S.tracks = {}
  S.items = {}
  for i, tspec in ipairs(sc.tracks or { { name = "Track 1" } }) do
    S.tracks[i] = new_obj("MediaTrack", { name = tspec.name or ("Track " .. i), selected = false, index = i })
  end
  for i, ispec in ipairs(sc.items or {}) do
    local item = new_obj("MediaItem", {
      index = i,
      guid = ispec.guid or ("{00000000-0000-0000-0000-%012d}"):format(i),
      position = ispec.position or 0,
      length = ispec.length or 1,
      selected = ispec.selected or false,
      color = ispec.color or 0,
      track = S.tracks[ispec.track or 1],
      ext = {},
      takes = {},
      active = (ispec.active_take or 1),
      valid = true,
    })
    for j, tspec in ipairs(ispec.takes or {}) do
      local take = new_obj("MediaItem_Take", {
        item = item,
        name = tspec.name or ("take " .. j),
        startoffs = tspec.startoffs or 0,
        playrate = tspec.playrate or 1,
        midi = tspec.midi or false,
        source = tspec.source and make_source(tspec.source) or nil,
        markers = {},
        valid = true,
      })
      for _, m in ipairs(tspec.markers or {}) do
        take.markers[#take.markers + 1] = { pos = m.pos, name = m.name, color = m.color or 0 }
      end
      item.takes[j] = take
    end
    S.items[i] = item
  end

  local R = {}
  S.R = R
  -- Like REAPER, a function that is not there reads as nil (scripts test for
  -- optional ones such as set_action_options or ReaImGui); the names read are
  -- recorded, and tests check that only such feature tests hit nothing.
  S.missing = {}
  _G.reaper = setmetatable(R, {
    __index = function(_, k)
      S.missing[tostring(k)] = true
      return nil
    end,
  })
  S.define_api(R, sc)
  S.define_gfx(sc)
  if sc.no_socket then
    S.hide_socket()
  end
  if sc.imgui then
    S.define_imgui(R, sc)
  end
end

function S.hide_socket()
  for _, name in ipairs({ "socket", "socket.core" }) do
    package.loaded[name] = nil
    package.preload[name] = function()
      error("module '" .. name .. "' not found (hidden by the test)")
    end
  end
end

local function note_change(what)
  if S.undo_depth == 0 then
    S.changes_outside_undo[#S.changes_outside_undo + 1] = what
  end
end

local function color_to_native(r, g, b)
  if (S.sc.os or "Other"):find("^Win") then
    return r | (g << 8) | (b << 16)
  end
  return (r << 16) | (g << 8) | b
end

local function sort_markers(take)
  table.sort(take.markers, function(a, b)
    return a.pos < b.pos
  end)
end

function S.define_api(R, sc)
  function R.GetOS()
    return sc.os or "Other"
  end
  function R.GetResourcePath()
    return sc.resource_path or "/nonexistent/REAPER"
  end
  function R.get_action_context()
    return false, sc.script_path or "", 0, sc.command_id or 55555, -1, -1, -1, ""
  end
  function R.time_precise()
    return 1000.0 + (real_socket.gettime() - S.t0)
  end
  function R.defer(fn)
    check(type(fn) == "function", "defer expects a function")
    S.defer_queue[#S.defer_queue + 1] = fn
    return true
  end
  function R.atexit(fn)
    check(type(fn) == "function", "atexit expects a function")
    S.atexit[#S.atexit + 1] = fn
    return true
  end
  function R.ShowConsoleMsg(msg)
    check(type(msg) == "string", "ShowConsoleMsg expects a string")
    S.console[#S.console + 1] = msg
  end
  function R.ClearConsole()
    S.console = {}
  end
  -- ExtState
  function R.HasExtState(section, key)
    return S.extstate[section] ~= nil and S.extstate[section][key] ~= nil
  end
  function R.GetExtState(section, key)
    check(type(section) == "string" and type(key) == "string", "GetExtState(section, key)")
    return (S.extstate[section] or {})[key] or ""
  end
  function R.SetExtState(section, key, value, persist)
    check(type(section) == "string" and type(key) == "string" and type(value) == "string",
      "SetExtState(section, key, value: strings)")
    check(type(persist) == "boolean", "SetExtState: persist must be a boolean")
    S.extstate[section] = S.extstate[section] or {}
    S.extstate[section][key] = value
  end
  function R.DeleteExtState(section, key, persist)
    if S.extstate[section] then
      S.extstate[section][key] = nil
    end
  end
  function R.APIExists(name)
    return rawget(R, name) ~= nil
  end
  function R.RecursiveCreateDirectory(path, ignored)
    check(type(path) == "string", "RecursiveCreateDirectory(path)")
    os.execute("mkdir -p '" .. path:gsub("'", "'\\''") .. "'")
    return 1
  end
  function R.file_exists(path)
    local f = io.open(path, "rb")
    if f then
      f:close()
      return true
    end
    return false
  end
  function R.ExecProcess(cmd, timeout)
    check(type(cmd) == "string" and is_int(timeout), "ExecProcess(cmdline, timeoutmsec)")
    S.exec_calls[#S.exec_calls + 1] = { cmd = cmd, timeout = timeout }
    if timeout < 0 then
      os.execute(cmd .. " >/dev/null 2>&1 &")
      return ""
    end
    local p = io.popen(cmd .. " 2>&1")
    local out = p:read("a")
    local _, _, code = p:close()
    return tostring(code or 0) .. "\n" .. out
  end
  -- Items and takes
  function R.CountSelectedMediaItems(proj)
    local n = 0
    for _, it in ipairs(S.items) do
      if it.selected and it.valid then
        n = n + 1
      end
    end
    return n
  end
  function R.GetSelectedMediaItem(proj, idx)
    check(is_int(idx), "GetSelectedMediaItem(proj, idx)")
    local n = 0
    for _, it in ipairs(S.items) do
      if it.selected and it.valid then
        if n == idx then
          return it
        end
        n = n + 1
      end
    end
    return nil
  end
  function R.CountMediaItems(proj)
    local n = 0
    for _, it in ipairs(S.items) do
      if it.valid then
        n = n + 1
      end
    end
    return n
  end
  function R.GetMediaItem(proj, idx)
    local n = 0
    for _, it in ipairs(S.items) do
      if it.valid then
        if n == idx then
          return it
        end
        n = n + 1
      end
    end
    return nil
  end
  function R.IsMediaItemSelected(item)
    check(item and item.__kind == "MediaItem", "IsMediaItemSelected(item)")
    return item.selected
  end
  function R.SelectAllMediaItems(proj, selected)
    check(type(selected) == "boolean", "SelectAllMediaItems(proj, selected: boolean)")
    for _, it in ipairs(S.items) do
      it.selected = selected
    end
  end
  function R.SetMediaItemSelected(item, selected)
    check(item and item.__kind == "MediaItem" and type(selected) == "boolean",
      "SetMediaItemSelected(item, selected: boolean)")
    item.selected = selected
  end
  function R.GetActiveTake(item)
    check(item and item.__kind == "MediaItem", "GetActiveTake(item)")
    return item.takes[item.active]
  end
  function R.GetMediaItem_Track(item)
    return item.track
  end
  function R.SetOnlyTrackSelected(track)
    check(track and track.__kind == "MediaTrack", "SetOnlyTrackSelected(track)")
    for _, t in ipairs(S.tracks) do
      t.selected = (t == track)
    end
  end
  function R.TakeIsMIDI(take)
    check(take and take.__kind == "MediaItem_Take", "TakeIsMIDI(take)")
    return take.midi
  end
  function R.GetTakeName(take)
    return take.name
  end
  function R.GetMediaItemTake_Source(take)
    check(take and take.__kind == "MediaItem_Take", "GetMediaItemTake_Source(take)")
    return take.source
  end
  function R.GetMediaSourceParent(src)
    check(src and src.__kind == "PCM_source", "GetMediaSourceParent(src)")
    return src.parent
  end
  function R.PCM_Source_GetSectionInfo(src)
    check(src and src.__kind == "PCM_source", "PCM_Source_GetSectionInfo(src)")
    if src.parent then
      return true, src.offs, source_length(src), src.rev
    end
    return false, 0, 0, false
  end
  function R.GetMediaSourceFileName(src, buf)
    check(src and src.__kind == "PCM_source", "GetMediaSourceFileName(src, buf)")
    return src.file or ""
  end
  function R.GetMediaSourceType(src, buf)
    return src.type
  end
  function R.GetMediaSourceLength(src)
    return source_length(src), false
  end
  function R.EnumProjects(idx)
    check(is_int(idx), "EnumProjects(idx)")
    return new_obj("ReaProject", {}), sc.project_file or ""
  end
  local item_fields = { D_POSITION = "position", D_LENGTH = "length", I_CUSTOMCOLOR = "color" }
  function R.GetMediaItemInfo_Value(item, key)
    check(item and item.__kind == "MediaItem", "GetMediaItemInfo_Value(item, key)")
    if key == "B_UISEL" then
      return item.selected and 1 or 0
    end
    local f = item_fields[key]
    check(f ~= nil, "GetMediaItemInfo_Value: unmodelled key %s", tostring(key))
    return item[f] + 0.0
  end
  function R.SetMediaItemInfo_Value(item, key, value)
    check(item and item.__kind == "MediaItem", "SetMediaItemInfo_Value(item, key, value)")
    check(type(value) == "number", "SetMediaItemInfo_Value: value must be a number")
    local f = item_fields[key]
    check(f ~= nil, "SetMediaItemInfo_Value: unmodelled key %s", tostring(key))
    note_change("item " .. key)
    item[f] = value
    return true
  end
  function R.GetSetMediaItemInfo_String(item, key, value, set)
    check(item and item.__kind == "MediaItem", "GetSetMediaItemInfo_String(item, ...)")
    check(type(value) == "string" and type(set) == "boolean", "GetSetMediaItemInfo_String(item, key, value, set)")
    if key == "GUID" then
      return true, item.guid
    end
    local ext = key:match("^P_EXT:(.+)$")
    check(ext ~= nil, "GetSetMediaItemInfo_String: unmodelled key %s", key)
    if set then
      note_change("item " .. key)
      item.ext[ext] = value
      return true, value
    end
    return item.ext[ext] ~= nil, item.ext[ext] or ""
  end
  local take_fields = { D_STARTOFFS = "startoffs", D_PLAYRATE = "playrate" }
  function R.GetMediaItemTakeInfo_Value(take, key)
    check(take and take.__kind == "MediaItem_Take", "GetMediaItemTakeInfo_Value(take, key)")
    local f = take_fields[key]
    check(f ~= nil, "GetMediaItemTakeInfo_Value: unmodelled key %s", tostring(key))
    return take[f] + 0.0
  end
  -- Take markers
  function R.GetNumTakeMarkers(take)
    check(take and take.__kind == "MediaItem_Take", "GetNumTakeMarkers(take)")
    return #take.markers
  end
  function R.GetTakeMarker(take, idx)
    check(take and take.__kind == "MediaItem_Take" and is_int(idx), "GetTakeMarker(take, idx)")
    local m = take.markers[idx + 1]
    if not m then
      return -1.0, "", 0
    end
    return m.pos, m.name, m.color
  end
  function R.SetTakeMarker(take, idx, name, srcpos, color)
    check(take and take.__kind == "MediaItem_Take", "SetTakeMarker: take")
    check(is_int(idx), "SetTakeMarker: idx must be an integer")
    check(type(name) == "string", "SetTakeMarker: name must be a string")
    check(srcpos == nil or type(srcpos) == "number", "SetTakeMarker: srcpos must be a number")
    check(color == nil or is_int(color), "SetTakeMarker: color must be an integer")
    note_change("take marker")
    local m
    if idx < 0 then
      m = { pos = srcpos or 0, name = name, color = color or 0 }
      take.markers[#take.markers + 1] = m
    else
      m = take.markers[idx + 1]
      if not m then
        return -1
      end
      m.name = name
      if srcpos then
        m.pos = srcpos
      end
      if color then
        m.color = color
      end
    end
    sort_markers(take)
    for i, x in ipairs(take.markers) do
      if x == m then
        return i - 1
      end
    end
    return -1
  end
  function R.DeleteTakeMarker(take, idx)
    check(take and take.__kind == "MediaItem_Take" and is_int(idx), "DeleteTakeMarker(take, idx)")
    if not take.markers[idx + 1] then
      return false
    end
    note_change("take marker delete")
    table.remove(take.markers, idx + 1)
    return true
  end
  function R.ColorToNative(r, g, b)
    check(is_int(r) and is_int(g) and is_int(b), "ColorToNative(r, g, b: integers)")
    return color_to_native(math.tointeger(r), math.tointeger(g), math.tointeger(b))
  end
  function R.ValidatePtr2(proj, ptr, kind)
    return type(ptr) == "table" and ptr.__kind == kind:gsub("%*$", "") and ptr.valid == true
  end
  function R.ValidatePtr(ptr, kind)
    return R.ValidatePtr2(0, ptr, kind)
  end
  -- Undo and UI
  function R.Undo_BeginBlock()
    S.undo_depth = S.undo_depth + 1
  end
  function R.Undo_EndBlock(label, flags)
    check(type(label) == "string" and is_int(flags), "Undo_EndBlock(label, flags)")
    check(S.undo_depth > 0, "Undo_EndBlock without Undo_BeginBlock")
    S.undo_depth = S.undo_depth - 1
    S.undo[#S.undo + 1] = { label = label, flags = flags }
  end
  function R.PreventUIRefresh(n)
    check(is_int(n), "PreventUIRefresh(prevent_count)")
    S.refresh_depth = S.refresh_depth + n
  end
  function R.UpdateArrange() end
  function R.UpdateItemInProject(item)
    check(item and item.__kind == "MediaItem", "UpdateItemInProject(item)")
  end
  function R.Main_OnCommand(cmd, flag)
    check(is_int(cmd) and is_int(flag), "Main_OnCommand(command, flag)")
    S.commands[#S.commands + 1] = cmd
  end
  function R.SetEditCurPos(time, moveview, seekplay)
    check(type(time) == "number" and type(moveview) == "boolean" and type(seekplay) == "boolean",
      "SetEditCurPos(time, moveview, seekplay)")
    S.edit_cursor = time
    S.cursor_moves[#S.cursor_moves + 1] = { time = time, moveview = moveview }
  end
  function R.GetCursorPosition()
    return S.edit_cursor
  end
  if not sc.old_reaper then
    function R.set_action_options(flag)
      check(is_int(flag), "set_action_options(flag)")
      S.action_options[#S.action_options + 1] = flag
    end
  end
  function R.SetToggleCommandState(section, cmd, state)
    check(is_int(section) and is_int(cmd) and is_int(state), "SetToggleCommandState(section, cmd, state)")
    S.toggles[#S.toggles + 1] = state
    return true
  end
  function R.RefreshToolbar2(section, cmd) end
  function R.GetUserInputs(title, n, captions, values)
    return false, values
  end
end

-- gfx ----------------------------------------------------------------------------

function S.define_gfx(sc)
  local G = {
    w = 0, h = 0, x = 0, y = 0, texth = 14, mouse_x = 0, mouse_y = 0, mouse_cap = 0, mouse_wheel = 0,
  }
  S.gfx = { opened = false, dock = 0, frames = 0, drawn = {}, quit = false }
  function G.init(name, w, h, dock, x, y)
    S.gfx.opened, S.gfx.name = true, name
    G.w, G.h = w or 400, h or 300
    S.gfx.dock = dock or 0
    return 1
  end
  function G.getchar()
    if S.gfx.closed_by_user then
      return -1
    end
    return 0
  end
  function G.setfont() return 1 end
  function G.set(r, g, b, a) end
  function G.rect(x, y, w, h, filled) end
  function G.measurestr(s)
    return #tostring(s) * 7, G.texth
  end
  function G.drawstr(s)
    local frame = S.gfx.current
    frame[#frame + 1] = { x = G.x, y = G.y, text = tostring(s) }
  end
  function G.update()
    S.gfx.frames = S.gfx.frames + 1
    S.gfx.last = S.gfx.current
  end
  function G.dock(v)
    if v >= 0 then
      S.gfx.dock = v
    end
    return S.gfx.dock
  end
  function G.showmenu(menu)
    S.gfx.menu = menu
    return S.sc.gfx_menu_choice or 0
  end
  function G.quit()
    S.gfx.quit = true
  end
  S.gfx.current = {}
  _G.gfx = setmetatable(G, {
    __index = function(_, k)
      error("reaper stub: gfx." .. tostring(k) .. " is not modelled", 2)
    end,
  })
end

-- ReaImGui (optional) -------------------------------------------------------------

function S.define_imgui(R, sc)
  local here = debug.getinfo(1, "S").source:sub(2):match("^(.*[/\\])") or "./"
  function R.ImGui_GetBuiltinPath()
    return here .. "imgui_stub"
  end
  function R.ImGui_CreateContext(label)
    return { label = label }
  end
  S.imgui = { frames = 0, calls = {}, clicks = {}, labels = {} }
end

-- Running -------------------------------------------------------------------------------

--- Run a script file as REAPER would (its path is what get_action_context reports).
function S.run_script(path)
  local chunk, err = loadfile(path)
  if not chunk then
    error(err)
  end
  chunk()
end

--- Run deferred callbacks until none remain, `max_s` seconds have passed, or
--- `stop()` says so; then run the atexit handlers (like REAPER stopping the
--- script). `each_cycle(n)` runs before every cycle.
function S.run_defer(max_s, each_cycle, stop)
  local deadline = real_socket.gettime() + (max_s or 10)
  local n = 0
  while #S.defer_queue > 0 and real_socket.gettime() < deadline do
    n = n + 1
    if each_cycle then
      each_cycle(n)
    end
    local q = S.defer_queue
    S.defer_queue = {}
    S.gfx.current = {}
    for _, fn in ipairs(q) do
      fn()
    end
    if stop and stop(n) then
      break
    end
    real_socket.sleep(0.01)
  end
  S.timed_out = #S.defer_queue > 0 and real_socket.gettime() >= deadline
  S.cycles = n
  S.defer_queue = {}
  for _, fn in ipairs(S.atexit) do
    fn()
  end
  S.atexit = {}
end

local function project_time(item, take, srcpos)
  return item.position + (srcpos - take.startoffs) / take.playrate
end

--- Everything a test wants to check, as plain data.
function S.dump()
  local out = {
    console = table.concat(S.console),
    undo = json.array(S.undo),
    undo_depth = S.undo_depth,
    refresh_depth = S.refresh_depth,
    changes_outside_undo = json.array(S.changes_outside_undo),
    extstate = S.extstate,
    exec_calls = json.array(S.exec_calls),
    action_options = json.array(S.action_options),
    toggles = json.array(S.toggles),
    missing_api = (function()
      local names = {}
      for k in pairs(S.missing) do
        names[#names + 1] = k
      end
      table.sort(names)
      return json.array(names)
    end)(),
    edit_cursor = S.edit_cursor,
    cursor_moves = json.array(S.cursor_moves),
    commands = json.array(S.commands),
    timed_out = S.timed_out,
    cycles = S.cycles,
    gfx = { opened = S.gfx.opened, dock = S.gfx.dock, quit = S.gfx.quit, frames = S.gfx.frames,
      menu = S.gfx.menu },
    imgui = S.imgui and { frames = S.imgui.frames, clicks = S.imgui.clicks } or nil,
    items = {},
    tracks = json.array({}),
  }
  for i, t in ipairs(S.tracks) do
    out.tracks[i] = { name = t.name, selected = t.selected }
  end
  for i, it in ipairs(S.items) do
    local takes = {}
    for j, tk in ipairs(it.takes) do
      local markers = {}
      for k, m in ipairs(tk.markers) do
        markers[k] = { pos = m.pos, name = m.name, color = m.color, project_time = project_time(it, tk, m.pos) }
      end
      takes[j] = { name = tk.name, markers = json.array(markers) }
    end
    out.items[i] = { guid = it.guid, selected = it.selected, color = it.color, ext = it.ext,
      takes = json.array(takes) }
  end
  out.items = json.array(out.items)
  return out
end

return S
