-- @noindex
-- loopwatch_items.lua: items, takes and sources <-> files and file time
-- (library, [nomain]).
--
-- Time bases (all in seconds):
--   file time     position in the audio file on disk; what the daemon reports.
--   source time   position in the take's source. For a plain file source it is
--                 file time. A section source ("Section" in the take's source
--                 properties) wraps its parent: source time 0 is the section
--                 offset in the parent. A reversed section plays its parent
--                 backwards: source time s is parent time offset + length - s.
--                 Sections can nest; each level is one such affine step, so
--                 file time = a + b * source time with b = +1 or -1.
--                 D_STARTOFFS and take markers (SetTakeMarker's srcpos, which
--                 GetTakeMarker documents as "media item source time") are in
--                 this time base.
--   project time  position on the timeline:
--                 D_POSITION + (source time - D_STARTOFFS) / D_PLAYRATE
--                 (stretch markers are ignored).
-- For a plain (non-reversed) section this gives the familiar
--   project time = D_POSITION + (t_file - section_offset - D_STARTOFFS) / D_PLAYRATE
--   take marker srcpos = t_file - section_offset

local env = require("loopwatch_env")

local M = {}

M.MARKER_PREFIX = "loopwatch:"

--- RGB colours by verdict / severity.
M.COLORS = {
  ok = { 64, 170, 90 },
  info = { 70, 130, 200 },
  warn = { 230, 150, 30 },
  error = { 215, 50, 45 },
  failed = { 140, 140, 140 },
}

function M.native_color(name)
  local c = M.COLORS[name] or M.COLORS.failed
  return reaper.ColorToNative(c[1], c[2], c[3]) | 0x1000000
end

local function source_length(src)
  local len = reaper.GetMediaSourceLength(src)
  return tonumber(len) or 0
end

--- Follow section/reverse wrappers from a take's source up to the file.
-- @return root PCM_source, a, b, levels such that file time = a + b * source time;
--         levels is the number of wrappers crossed.
function M.source_mapping(src)
  local a, b = 0.0, 1.0
  local cur = src
  local levels = 0
  while true do
    local parent = reaper.GetMediaSourceParent(cur)
    if not parent then
      break
    end
    local ok, offs, len, rev = reaper.PCM_Source_GetSectionInfo(cur)
    if ok then
      offs = offs or 0
      if not len or len <= 0 then
        len = source_length(parent) - offs
      end
      if rev then
        a, b = offs + len - a, -b
      else
        a, b = offs + a, b
      end
    end
    cur = parent
    levels = levels + 1
    if levels > 32 then
      break
    end
  end
  return cur, a, b, levels
end

--- Full path of a source's file (relative paths are resolved against the
--- project's folder).
function M.source_file(root)
  local fn = reaper.GetMediaSourceFileName(root, "")
  if not fn or fn == "" then
    return nil
  end
  if not env.is_absolute(fn) then
    local _, projfn = reaper.EnumProjects(-1)
    if projfn and projfn ~= "" then
      fn = env.join(env.dirname(projfn), fn)
    end
  end
  return fn
end

--- Everything needed to score an item's visible audio and to place results.
-- @return info table or nil, reason
--   info = { item, take, guid, path, root, a, b, position, length, startoffs,
--            playrate, start_s, length_s (file time range to score),
--            reversed, file_length }
function M.item_info(item)
  local take = reaper.GetActiveTake(item)
  if not take then
    return nil, "empty item"
  end
  if reaper.TakeIsMIDI(take) then
    return nil, "MIDI take"
  end
  local src = reaper.GetMediaItemTake_Source(take)
  if not src then
    return nil, "take has no source"
  end
  local root, a, b = M.source_mapping(src)
  local path = M.source_file(root)
  if not path then
    return nil, "source has no file (" .. tostring(reaper.GetMediaSourceType(root, "")) .. ")"
  end
  local info = {
    item = item,
    take = take,
    path = path,
    root = root,
    a = a,
    b = b,
    reversed = b < 0,
    position = reaper.GetMediaItemInfo_Value(item, "D_POSITION"),
    length = reaper.GetMediaItemInfo_Value(item, "D_LENGTH"),
    startoffs = reaper.GetMediaItemTakeInfo_Value(take, "D_STARTOFFS"),
    playrate = reaper.GetMediaItemTakeInfo_Value(take, "D_PLAYRATE"),
    take_source_length = source_length(src),
    file_length = source_length(root),
  }
  if not info.playrate or info.playrate <= 0 then
    info.playrate = 1.0
  end
  local _, guid = reaper.GetSetMediaItemInfo_String(item, "GUID", "", false)
  info.guid = guid
  -- Visible part in source time, limited to the take's source (a looped item
  -- shows its source more than once: it is scored once).
  local s0 = info.startoffs
  local s1 = info.startoffs + info.length * info.playrate
  s0 = math.max(s0, 0)
  if info.take_source_length > 0 then
    s1 = math.min(s1, info.take_source_length)
  end
  local f0, f1 = M.source_to_file(info, s0), M.source_to_file(info, s1)
  if f0 > f1 then
    f0, f1 = f1, f0
  end
  f0 = math.max(f0, 0)
  if info.file_length > 0 then
    f1 = math.min(f1, info.file_length)
  end
  if f1 - f0 <= 1e-6 then
    return nil, "nothing of the source is visible"
  end
  info.start_s, info.length_s = f0, f1 - f0
  return info
end

function M.source_to_file(info, s)
  return info.a + info.b * s
end

function M.file_to_source(info, f)
  return (f - info.a) / info.b
end

function M.source_to_project(info, s)
  return info.position + (s - info.startoffs) / info.playrate
end

function M.file_to_project(info, f)
  return M.source_to_project(info, M.file_to_source(info, f))
end

--- Does the item's visible file range contain file time `t` (with a little
--- tolerance for rounding)?
function M.contains(info, t, tol)
  tol = tol or 1e-4
  return t >= info.start_s - tol and t <= info.start_s + info.length_s + tol
end

--- The source-time position where an alert [t0, t1] (file time) starts on
--- the take: t0 for normal sources, t1 for reversed ones (played backwards,
--- the problem begins at its end in file time); kept inside the visible part.
function M.alert_source_pos(info, t0, t1)
  t1 = t1 or t0
  local s0, s1 = M.file_to_source(info, t0), M.file_to_source(info, t1)
  local s = math.min(s0, s1)
  local vis0 = math.max(info.startoffs, 0)
  local vis1 = info.startoffs + info.length * info.playrate
  if info.take_source_length > 0 then
    vis1 = math.min(vis1, info.take_source_length)
  end
  if s < vis0 then
    s = vis0
  end
  if s > vis1 then
    s = vis1
  end
  return s
end

-- Take markers ------------------------------------------------------------------

--- Remove the take markers this script added before (name starts with the prefix).
function M.remove_markers(take)
  local removed = 0
  for i = reaper.GetNumTakeMarkers(take) - 1, 0, -1 do
    local _, name = reaper.GetTakeMarker(take, i)
    if name and name:sub(1, #M.MARKER_PREFIX) == M.MARKER_PREFIX then
      reaper.DeleteTakeMarker(take, i)
      removed = removed + 1
    end
  end
  return removed
end

local function fmt_value(v)
  v = tonumber(v)
  if not v then
    return ""
  end
  if math.abs(v) >= 100 then
    return ("%.0f"):format(v)
  end
  return ("%.3g"):format(v)
end

--- Marker label for an alert record.
function M.marker_name(alert)
  local parts = { M.MARKER_PREFIX, tostring(alert.check or "?"), "(" .. tostring(alert.severity or "?") .. ")" }
  local unit = alert.unit
  if alert.value ~= nil and tonumber(alert.value) then
    parts[#parts + 1] = fmt_value(alert.value) .. ((unit and unit ~= "") and (" " .. unit) or "")
  end
  local name = table.concat(parts, " ")
  return name
end

--- Add one take marker per alert; returns the list of { srcpos, project_time, name }.
function M.add_markers(info, alerts)
  local placed = {}
  for _, al in ipairs(alerts) do
    local t0 = tonumber(al.t0) or 0
    local t1 = tonumber(al.t1) or t0
    local srcpos = M.alert_source_pos(info, t0, t1)
    local name = M.marker_name(al)
    reaper.SetTakeMarker(info.take, -1, name, srcpos, M.native_color(al.severity))
    placed[#placed + 1] = { srcpos = srcpos, project_time = M.source_to_project(info, srcpos), name = name }
  end
  return placed
end

function M.color_item(item, verdict)
  reaper.SetMediaItemInfo_Value(item, "I_CUSTOMCOLOR", M.native_color(verdict))
  reaper.GetSetMediaItemInfo_String(item, "P_EXT:loopwatch_verdict", tostring(verdict), true)
end

-- Finding items -------------------------------------------------------------------

local function same_name(a, b)
  return env.norm_path(env.basename(a)) == env.norm_path(env.basename(b))
end

--- The item whose active take plays file `path` at file time `t` (visible).
-- Prefers selected items, then the earliest on the timeline. When no item
-- uses that exact path, an item playing a file of the same name is taken
-- (the daemon may see the folder through another path, e.g. a symlink or
-- another mount point).
-- @return info (see item_info) and the project time of t, or nil
function M.find_item(path, t)
  local infos = {}
  for i = 0, reaper.CountMediaItems(0) - 1 do
    local info = M.item_info(reaper.GetMediaItem(0, i))
    if info and (t == nil or M.contains(info, t)) then
      infos[#infos + 1] = info
    end
  end
  local best, best_key
  for _, match in ipairs({ env.same_path, same_name }) do
    for _, info in ipairs(infos) do
      if match(path, info.path) then
        local key = (reaper.IsMediaItemSelected(info.item) and 0 or 1e12) + info.position
        if best == nil or key < best_key then
          best, best_key = info, key
        end
      end
    end
    if best then
      break
    end
  end
  if not best then
    return nil
  end
  local proj = t and M.file_to_project(best, t) or best.position
  return best, proj
end

--- Select `info.item` alone, put the edit cursor at project time `proj_t`,
--- and scroll the arrange view (and the item's track) there.
function M.reveal(info, proj_t)
  reaper.PreventUIRefresh(1)
  reaper.SelectAllMediaItems(0, false)
  reaper.SetMediaItemSelected(info.item, true)
  local track = reaper.GetMediaItem_Track(info.item)
  if track then
    reaper.SetOnlyTrackSelected(track)
    reaper.Main_OnCommand(40913, 0) -- Track: Vertical scroll selected tracks into view
  end
  reaper.SetEditCurPos(proj_t, true, false) -- moveview=true scrolls the arrange view
  reaper.PreventUIRefresh(-1)
  reaper.UpdateArrange()
end

return M
