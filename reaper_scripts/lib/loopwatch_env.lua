-- @noindex
-- loopwatch_env.lua: platform, folders, settings and small file helpers shared
-- by the loopwatch REAPER scripts (library, [nomain]).
--
-- * The data folder (journal.jsonl, inbox/) follows docs/osc.md:
--     macOS    ~/Library/Application Support/loopwatch
--     Windows  %LOCALAPPDATA%\loopwatch
--     Linux    $XDG_DATA_HOME/loopwatch (default ~/.local/share/loopwatch)
--   LOOPWATCH_HOME=DIR moves it to DIR/data. The ExtState key "data_dir"
--   (section "loopwatch") overrides all of this: REAPER started from the
--   Finder or the Start menu does not see variables set in a shell profile.
-- * Settings live in REAPER's ExtState, section "loopwatch", persisted.
-- * LuaSocket is looked up in the normal package paths and in the folder where
--   the mavriq-lua-sockets ReaPack package installs it.

local M = {}

M.SECTION = "loopwatch"
M.ELLIPSIS = "\226\128\166" -- U+2026, marks a path shortened from the front

--- Defaults of every setting (all strings, as ExtState stores them).
M.DEFAULTS = {
  data_dir = "",             -- empty: the platform default (see above)
  daemon_host = "127.0.0.1", -- where `loopwatch watch` listens
  daemon_port = "9701",
  panel_port = "9703",       -- where the alerts panel listens for pushes
  score_transport = "auto",  -- auto | osc | inbox | exec
  panel_transport = "auto",  -- auto | osc | journal
  loopwatch_cmd = "loopwatch", -- the loopwatch executable, for the exec fallback
  timeout_s = "300",         -- give up waiting for scores after this long
  osc_probe_s = "2",         -- the daemon must answer /loopwatch/status within this
  inbox_pickup_s = "6",      -- the daemon must take an inbox request within this
  socket_dir = "",           -- extra folder holding socket.lua + socket/core.(so|dll)
  panel_renew_s = "5",       -- the panel renews its subscription this often
}

-- Platform ------------------------------------------------------------------

--- "windows", "macos" or "linux", from reaper.GetOS().
function M.os_kind()
  local os_name = reaper.GetOS() or ""
  if os_name:find("^Win") then
    return "windows"
  elseif os_name:find("OSX") or os_name:find("macOS") then
    return "macos"
  end
  return "linux"
end

function M.is_windows()
  return M.os_kind() == "windows"
end

function M.sep()
  return M.is_windows() and "\\" or "/"
end

--- Join path parts with the platform separator, without doubling separators.
function M.join(...)
  local sep = M.sep()
  local out = nil
  for _, part in ipairs({ ... }) do
    if part ~= nil and part ~= "" then
      if out == nil then
        out = part
      else
        out = out:gsub("[/\\]+$", "") .. sep .. part:gsub("^[/\\]+", "")
      end
    end
  end
  return out or ""
end

function M.basename(path)
  return (tostring(path or ""):match("([^/\\]+)[/\\]*$")) or tostring(path or "")
end

function M.dirname(path)
  return (tostring(path or ""):match("^(.*)[/\\][^/\\]*$")) or ""
end

function M.is_absolute(path)
  path = tostring(path or "")
  return path:sub(1, 1) == "/" or path:sub(1, 1) == "\\" or path:match("^%a:[/\\]") ~= nil
end

local function home()
  if M.is_windows() then
    return os.getenv("USERPROFILE") or ((os.getenv("HOMEDRIVE") or "") .. (os.getenv("HOMEPATH") or ""))
  end
  return os.getenv("HOME") or ""
end

local function expand_user(path)
  if path:sub(1, 1) == "~" then
    return home() .. path:sub(2)
  end
  return path
end

-- Settings ------------------------------------------------------------------

function M.get(key)
  if reaper.HasExtState(M.SECTION, key) then
    local v = reaper.GetExtState(M.SECTION, key)
    if v ~= "" then
      return v
    end
  end
  return M.DEFAULTS[key] or ""
end

function M.get_number(key)
  return tonumber(M.get(key)) or tonumber(M.DEFAULTS[key]) or 0
end

function M.set(key, value)
  reaper.SetExtState(M.SECTION, key, tostring(value), true)
end

--- The data folder holding journal.jsonl and inbox/.
function M.data_dir()
  local override = M.get("data_dir")
  if override ~= "" then
    return expand_user(override)
  end
  local lw_home = os.getenv("LOOPWATCH_HOME")
  if lw_home and lw_home ~= "" then
    return M.join(expand_user(lw_home), "data")
  end
  local kind = M.os_kind()
  if kind == "windows" then
    local base = os.getenv("LOCALAPPDATA")
    if not base or base == "" then
      base = M.join(home(), "AppData", "Local")
    end
    return M.join(base, "loopwatch")
  elseif kind == "macos" then
    return M.join(home(), "Library", "Application Support", "loopwatch")
  end
  local xdg = os.getenv("XDG_DATA_HOME")
  if not xdg or xdg == "" then
    xdg = M.join(home(), ".local", "share")
  end
  return M.join(xdg, "loopwatch")
end

function M.journal_path()
  return M.join(M.data_dir(), "journal.jsonl")
end

function M.inbox_dir()
  return M.join(M.data_dir(), "inbox")
end

--- A folder for the scripts' own temporary files (exec fallback).
function M.temp_dir()
  if M.is_windows() then
    return os.getenv("TEMP") or os.getenv("TMP") or M.join(reaper.GetResourcePath(), "Scripts")
  end
  local t = os.getenv("TMPDIR")
  if t and t ~= "" then
    return (t:gsub("/+$", ""))
  end
  return "/tmp"
end

-- Paths -----------------------------------------------------------------------

--- Normalise a path for comparison: forward slashes, no doubled or trailing
--- slashes, lower case on Windows and macOS (case-insensitive file systems).
function M.norm_path(path)
  local p = tostring(path or ""):gsub("\\", "/"):gsub("//+", "/")
  if #p > 1 then
    p = p:gsub("/$", "")
  end
  local kind = M.os_kind()
  if kind == "windows" or kind == "macos" then
    p = p:lower()
  end
  return p
end

--- True when `alert_path` (from the daemon; possibly shortened to "…<end>")
--- names the file `local_path`.
function M.same_path(alert_path, local_path)
  if alert_path == nil or local_path == nil or alert_path == "" then
    return false
  end
  local a = tostring(alert_path)
  local b = M.norm_path(local_path)
  if a:sub(1, #M.ELLIPSIS) == M.ELLIPSIS then
    local tail = M.norm_path(a:sub(#M.ELLIPSIS + 1))
    return tail ~= "" and b:sub(-#tail) == tail
  end
  return M.norm_path(a) == b
end

-- Files -----------------------------------------------------------------------

function M.file_exists(path)
  local f = io.open(path, "rb")
  if f then
    f:close()
    return true
  end
  return false
end

function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then
    return nil
  end
  local s = f:read("a")
  f:close()
  return s
end

--- Write `text` to `path` atomically: a temporary name in the same folder,
--- then a rename (the reader only ever sees a complete file).
function M.write_atomic(path, text, tmp_path)
  tmp_path = tmp_path or (path .. ".tmp")
  local f, err = io.open(tmp_path, "wb")
  if not f then
    return nil, err
  end
  local ok, werr = f:write(text)
  f:close()
  if not ok then
    os.remove(tmp_path)
    return nil, werr
  end
  local renamed, rerr = os.rename(tmp_path, path)
  if not renamed then
    os.remove(tmp_path)
    return nil, rerr
  end
  return true
end

function M.mkdirs(path)
  if reaper.RecursiveCreateDirectory then
    reaper.RecursiveCreateDirectory(path, 0)
  end
end

-- Console -----------------------------------------------------------------------

function M.log(fmt, ...)
  local msg = select("#", ...) > 0 and fmt:format(...) or fmt
  reaper.ShowConsoleMsg(msg .. "\n")
end

-- Sockets ---------------------------------------------------------------------

local socket_cache = nil

--- The folder where mavriq-lua-sockets (ReaPack) installs LuaSocket.
function M.mavriq_dir()
  return reaper.GetResourcePath() .. "/Scripts/Mavriq ReaScript Repository/Various/Mavriq-Lua-Sockets/"
end

local function add_socket_dir(dir)
  if dir == nil or dir == "" then
    return
  end
  if not dir:find("[/\\]$") then
    dir = dir .. "/"
  end
  if not package.cpath:find(dir, 1, true) then
    package.cpath = package.cpath .. ";" .. dir .. "?.dll;" .. dir .. "?.so"
  end
  if not package.path:find(dir, 1, true) then
    package.path = package.path .. ";" .. dir .. "?.lua"
  end
end

--- LuaSocket's `socket` module, or nil and the reason it is unavailable.
--- Loading is attempted once per script run; any error (missing module,
--- binary for another Lua) is caught.
function M.load_socket()
  if socket_cache ~= nil then
    if socket_cache == false then
      return nil, M.socket_error
    end
    return socket_cache
  end
  add_socket_dir(M.get("socket_dir"))
  add_socket_dir(M.mavriq_dir())
  local ok, mod = pcall(require, "socket")
  if ok and type(mod) == "table" and mod.udp then
    socket_cache = mod
    return mod
  end
  socket_cache = false
  M.socket_error = ok and "the 'socket' module has no udp()" or tostring(mod):match("^[^\n]*")
  return nil, M.socket_error
end

--- A non-blocking LuaSocket UDP socket, or nil and a one-line reason
--- (LuaSocket missing, or the socket could not be created).
function M.udp_socket()
  local socket, err = M.load_socket()
  if not socket then
    return nil, "LuaSocket is not installed (" .. tostring(err) .. ")"
  end
  local udp, uerr = socket.udp()
  if not udp then
    return nil, "cannot create a UDP socket: " .. tostring(uerr)
  end
  udp:settimeout(0)
  return udp
end

--- Forget a cached socket lookup (tests).
function M._reset_socket()
  socket_cache = nil
end

--- A fresh id, unique enough across runs and machines for request ids.
local seeded = false
function M.unique_id(prefix)
  if not seeded then
    math.randomseed(os.time() + math.floor((reaper.time_precise() % 1) * 1e6))
    seeded = true
  end
  return ("%s-%x%04x"):format(prefix, os.time() % 0x1000000, math.random(0, 0xffff))
end

return M
