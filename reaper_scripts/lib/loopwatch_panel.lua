-- @noindex
-- loopwatch_panel.lua: the alerts panel's model and feeds (library, [nomain]).
--
-- The model holds one row per alert (newest first), applies journal records
-- and OSC pushes alike, and turns a click on a row into "select the item that
-- plays this file at this time, move the edit cursor there, scroll there".
--
-- Feeds:
--   OscFeed      binds 127.0.0.1:<panel_port> (default 9703), subscribes to the
--                daemon (/loopwatch/subscribe <id> reaper <port>), renews every
--                5 s, asks for a replay (/loopwatch/sync <id> <last id>) at
--                start, when the daemon first answers after starting later
--                than the panel, and when it answers again after a silence,
--                and unsubscribes on exit. Needs LuaSocket.
--   JournalFeed  follows journal.jsonl (the last 256 KB at start, then what is
--                appended; rotation is handled by loopwatch_journal).

local env = require("loopwatch_env")
local osc = require("loopwatch_osc")
local items = require("loopwatch_items")
local journal = require("loopwatch_journal")

local M = {}

M.RESYNC_AFTER_S = 15
M.JOURNAL_BACKLOG = 256 * 1024
M.MAX_ROWS = 1000

local Panel = {}
Panel.__index = Panel

function M.new(opts)
  opts = opts or {}
  return setmetatable({
    rows = {},
    by_id = {},
    files = {},
    last_id = 0,
    cleared_id = tonumber(opts.cleared_id) or 0,
    max_rows = opts.max_rows or M.MAX_ROWS,
    selected = nil,
    daemon = nil,
    message = "",
  }, Panel)
end

function M.fmt_time(t)
  t = tonumber(t) or 0
  local m = math.floor(t / 60)
  return ("%d:%06.3f"):format(m, t - 60 * m)
end

local function remove_row(self, idx)
  local row = table.remove(self.rows, idx)
  if row then
    self.by_id[row.id] = nil
  end
end

--- Apply one journal-style record: alert, file, clear (others are ignored).
function Panel:apply(rec)
  local kind = rec.type
  if kind == "alert" then
    local id = math.tointeger(tonumber(rec.id))
    if not id or self.by_id[id] then
      return false
    end
    if id > self.last_id then
      self.last_id = id
    end
    if id <= self.cleared_id then
      return false
    end
    local row = {
      id = id,
      path = tostring(rec.path or ""),
      file = env.basename(rec.path or ""),
      check = tostring(rec.check or ""),
      severity = tostring(rec.severity or ""),
      t0 = tonumber(rec.t0) or 0,
      t1 = tonumber(rec.t1) or tonumber(rec.t0) or 0,
      value = tonumber(rec.value),
      unit = rec.unit,
      message = tostring(rec.message or ""),
    }
    row.time_text = M.fmt_time(row.t0)
    -- newest (highest id) first
    local pos = #self.rows + 1
    for i, r in ipairs(self.rows) do
      if r.id < id then
        pos = i
        break
      end
    end
    table.insert(self.rows, pos, row)
    self.by_id[id] = row
    while #self.rows > self.max_rows do
      remove_row(self, #self.rows)
    end
    return true
  elseif kind == "file" then
    self.files[tostring(rec.path or "")] = rec
    return true
  elseif kind == "clear" then
    local path = tostring(rec.path or "")
    for i = #self.rows, 1, -1 do
      local r = self.rows[i]
      if path == "" or r.path == path or env.same_path(path, r.path) then
        remove_row(self, i)
      end
    end
    if path == "" then
      self.files = {}
    else
      self.files[path] = nil
    end
    return true
  end
  return false
end

--- Apply one decoded OSC push from the daemon.
function Panel:apply_osc(address, tags, args)
  if address == "/loopwatch/alert" and osc.tags_match(tags, "isssfffs") then
    return self:apply({
      type = "alert", id = args[1], path = args[2], severity = args[3], check = args[4],
      t0 = args[5], t1 = args[6], value = args[7], message = args[8],
    })
  elseif address == "/loopwatch/file" and osc.tags_match(tags, "ssfis") then
    return self:apply({ type = "file", path = args[1], verdict = args[2], outlier_ratio = args[3],
      n_alerts = args[4], model = args[5] })
  elseif address == "/loopwatch/clear" and osc.tags_match(tags, "s") then
    return self:apply({ type = "clear", path = args[1] })
  elseif address == "/loopwatch/status" and osc.tags_match(tags, "siss") then
    self.daemon = { state = args[1], queue_len = args[2], model = args[3], device = args[4] }
    return true
  elseif address == "/loopwatch/error" and osc.tags_match(tags, "ss") then
    self.message = ("daemon error (%s): %s"):format(args[1], args[2])
    return true
  end
  return false
end

--- Hide every row shown now (and everything older); returns the id to persist.
function Panel:clear_rows()
  self.cleared_id = math.max(self.cleared_id, self.last_id)
  self.rows, self.by_id = {}, {}
  self.selected = nil
  return self.cleared_id
end

--- Handle a click on row `index` (1 = top). Returns ok, message.
function Panel:click(index)
  local row = self.rows[index]
  if not row then
    return false, ""
  end
  self.selected = row.id
  if row.path:sub(1, 6) == "input:" then
    self.message = "live input alert (" .. row.path .. "): no item to show"
    return false, self.message
  end
  local info, proj = items.find_item(row.path, row.t0)
  if not info then
    self.message = ("no item in this project plays %s at %s"):format(row.file, row.time_text)
    return false, self.message
  end
  items.reveal(info, proj)
  self.message = ("%s %s at %s (project %s)"):format(row.check, row.severity, row.time_text, M.fmt_time(proj))
  return true, self.message, info, proj
end

-- Feeds ------------------------------------------------------------------------------

local OscFeed = {}
OscFeed.__index = OscFeed

function M.osc_feed(panel, client_id, t)
  local udp, err = env.udp_socket()
  if not udp then
    return nil, err
  end
  local port = math.tointeger(env.get_number("panel_port")) or 9703
  local ok, berr = udp:setsockname("127.0.0.1", port)
  if not ok then
    udp:close()
    return nil, ("cannot listen on UDP port %d: %s"):format(port, tostring(berr))
  end
  local host = env.get("daemon_host")
  local self = setmetatable({
    kind = "osc",
    panel = panel,
    udp = udp,
    port = port,
    host = host == "localhost" and "127.0.0.1" or host,
    daemon_port = math.tointeger(env.get_number("daemon_port")) or 9701,
    client_id = client_id,
    next_renew = t,
    last_heard = nil,
    want_sync = true,
  }, OscFeed)
  return self
end

function OscFeed:describe()
  return ("OSC on port %d"):format(self.port)
end

function OscFeed:send(address, tags, args)
  return self.udp:sendto(osc.encode(address, tags, args), self.host, self.daemon_port)
end

function OscFeed:poll(t)
  if t >= self.next_renew then
    self:send("/loopwatch/subscribe", "ssi", { self.client_id, "reaper", self.port })
    if self.want_sync then
      self:send("/loopwatch/sync", "si", { self.client_id, self.panel.last_id })
      self.want_sync = false
      self.sync_sent_at = t
    end
    self.next_renew = t + env.get_number("panel_renew_s")
  end
  local changed = false
  for _ = 1, 512 do
    local data = self.udp:receivefrom()
    if not data then
      break
    end
    local address, tags, args = osc.decode(data)
    if address then
      local gone = self.last_heard and t - self.last_heard > M.RESYNC_AFTER_S
      local late = not self.last_heard and self.sync_sent_at and t - self.sync_sent_at > 2
      if gone or late then
        -- The daemon was away (not started yet, or restarted): ask for what we missed.
        self.want_sync = true
        self.next_renew = t
      end
      self.last_heard = t
      if self.panel:apply_osc(address, tags, args) then
        changed = true
      end
    end
  end
  return changed
end

function OscFeed:status()
  if not self.last_heard then
    return "waiting for the daemon"
  end
  local d = self.panel.daemon
  return d and ("daemon " .. tostring(d.state)) or "connected"
end

function OscFeed:close()
  if self.udp then
    pcall(self.send, self, "/loopwatch/unsubscribe", "s", { self.client_id })
    self.udp:close()
    self.udp = nil
  end
end

local JournalFeed = {}
JournalFeed.__index = JournalFeed

function M.journal_feed(panel, path)
  return setmetatable({ kind = "journal", panel = panel, path = path or env.journal_path(),
    tail = journal.tail(path or env.journal_path(), M.JOURNAL_BACKLOG), next_poll = 0 }, JournalFeed)
end

function JournalFeed:describe()
  return "journal " .. self.path
end

function JournalFeed:poll(t)
  if t < self.next_poll then
    return false
  end
  self.next_poll = t + 0.25
  local changed = false
  for _, rec in ipairs(self.tail:poll()) do
    if self.panel:apply(rec) then
      changed = true
    end
  end
  return changed
end

function JournalFeed:status()
  return env.file_exists(self.path) and "following the journal" or "no journal yet"
end

function JournalFeed:close() end

--- Open the feed chosen by the "panel_transport" setting: osc, journal, or
--- auto (OSC when LuaSocket is there and the port is free, else the journal).
-- @return feed, note (why OSC was not used, or nil)
function M.open_feed(panel, client_id, t)
  local mode = env.get("panel_transport")
  local note
  if mode ~= "journal" then
    local feed, err = M.osc_feed(panel, client_id, t)
    if feed then
      return feed
    end
    note = err
    if mode == "osc" then
      return nil, note
    end
  end
  return M.journal_feed(panel), note
end

-- gfx layout (shared by the gfx UI and its tests) ------------------------------------

function M.gfx_layout(texth)
  local row_h = math.floor((texth or 14) + 6)
  return { row_h = row_h, header_top = 4, table_top = 4 + row_h * 2 + 4,
    columns = { 0.0, 0.45, 0.65, 0.83 } }
end

return M
