-- @noindex
-- loopwatch_score.lua: score items with the loopwatch daemon and write the
-- results back as take markers and item colours (library, [nomain]).
--
-- Transports, tried in this order (the ExtState key "score_transport" can pin
-- one: osc | inbox | exec):
--   osc    OSC over UDP (needs LuaSocket, e.g. the mavriq-lua-sockets ReaPack
--          package). The daemon must answer /loopwatch/status within
--          "osc_probe_s" seconds. Requests go one at a time:
--          /loopwatch/score request_id path [start_s length_s]; the answer
--          (/loopwatch/alert..., /loopwatch/file, /loopwatch/done request_id)
--          comes back to the same socket. Alerts carry no request id, so one
--          request at a time keeps the attribution exact.
--   inbox  a JSON request file written under a temporary name and renamed into
--          the daemon's inbox folder; results are read from journal.jsonl by
--          request_id. The daemon must take the file within "inbox_pickup_s".
--   exec   `loopwatch client score --json --start S --length L FILE`, started
--          in the background through a small shell (or .bat) script whose
--          output lands in a temporary file; its stdout is JSON lines with the
--          journal's records.
-- Waiting never blocks REAPER: everything is polled from a reaper.defer loop,
-- with an overall timeout ("timeout_s").

local env = require("loopwatch_env")
local json = require("loopwatch_json")
local osc = require("loopwatch_osc")
local items = require("loopwatch_items")
local journal = require("loopwatch_journal")

local M = {}

M.UNDO_LABEL = "loopwatch: score selected items"

local function now()
  return reaper.time_precise()
end

local function fmt_num(x)
  return ("%.6f"):format(x)
end

-- Job -------------------------------------------------------------------------

local Job = {}
Job.__index = Job

--- A scoring job for a list of item infos (see loopwatch_items.item_info).
function M.new_job(infos)
  local job = setmetatable({
    requests = {},
    by_id = {},
    order = nil,
    notes = {},
    transport = nil,
    transport_name = nil,
    used = nil,
    finished = false,
  }, Job)
  local base = env.unique_id("reaper")
  for i, info in ipairs(infos) do
    local whole = info.start_s <= 1e-6 and info.file_length > 0
      and math.abs(info.start_s + info.length_s - info.file_length) < 1e-3
    local req = {
      id = base .. "-" .. i,
      info = info,
      path = info.path,
      start_s = info.start_s,
      length_s = info.length_s,
      whole = whole,
      alerts = {},
      alert_ids = {},
      file = nil,
      done = false,
      answered = false,
      ok = nil,
      error = nil,
    }
    job.requests[i] = req
    job.by_id[req.id] = req
  end
  return job
end

function Job:pending()
  local out = {}
  for _, r in ipairs(self.requests) do
    if not r.done then
      out[#out + 1] = r
    end
  end
  return out
end

--- Feed one journal-style record ({type = "alert"|"file"|"done"|...}) to the
--- job. `req` is the request it belongs to when the transport knows it;
--- otherwise the record's request_id decides.
function Job:handle(rec, req)
  req = req or self.by_id[rec.request_id]
  if not req or req.done then
    return false
  end
  local kind = rec.type
  if kind == "alert" then
    local id = tonumber(rec.id)
    if id and req.alert_ids[id] then
      return true
    end
    if id then
      req.alert_ids[id] = true
    end
    req.alerts[#req.alerts + 1] = rec
    req.answered = true
  elseif kind == "file" then
    req.file = rec
    req.answered = true
  elseif kind == "done" then
    req.done = true
    req.answered = true
    req.ok = rec.ok ~= false
    if rec.error and rec.error ~= "" and rec.error ~= json.null then
      req.error = tostring(rec.error)
    end
  else
    return false
  end
  return true
end

-- OSC transport -------------------------------------------------------------------

local Osc = {}
Osc.__index = Osc

function Osc.new(job, t)
  local udp, err = env.udp_socket()
  if not udp then
    return nil, err
  end
  local host = env.get("daemon_host")
  local port = math.tointeger(env.get_number("daemon_port")) or 9701
  local bind = (host == "127.0.0.1" or host == "localhost") and "127.0.0.1" or "*"
  local ok, berr = udp:setsockname(bind, 0)
  if not ok then
    udp:close()
    return nil, "cannot bind a UDP socket: " .. tostring(berr)
  end
  local self = setmetatable({
    udp = udp,
    host = host == "localhost" and "127.0.0.1" or host,
    port = port,
    heard = false,
    probe_deadline = t + env.get_number("osc_probe_s"),
    next_probe = t,
    current = nil,
  }, Osc)
  return self
end

function Osc:describe()
  return ("OSC %s:%d"):format(self.host, self.port)
end

function Osc:send(address, tags, args)
  return self.udp:sendto(osc.encode(address, tags, args), self.host, self.port)
end

-- Only answers to our own requests come to this socket, and only one request
-- is in flight: alerts and file verdicts belong to it (the daemon may spell
-- the path differently, e.g. resolved through a symlink).
function Osc:_message(job, address, tags, args)
  self.heard = true
  local cur = self.current
  if address == "/loopwatch/alert" and osc.tags_match(tags, "isssfffs") then
    if cur and not cur.done then
      job:handle({
        type = "alert", id = args[1], path = cur.path, severity = args[3], check = args[4],
        t0 = args[5], t1 = args[6], value = args[7], message = args[8],
      }, cur)
    end
  elseif address == "/loopwatch/file" and osc.tags_match(tags, "ssfis") then
    if cur and not cur.done then
      job:handle({
        type = "file", path = cur.path, verdict = args[2], outlier_ratio = args[3],
        n_alerts = args[4], model = args[5],
      }, cur)
    end
  elseif address == "/loopwatch/done" and osc.tags_match(tags, "s") then
    job:handle({ type = "done", request_id = args[1], ok = true })
  elseif address == "/loopwatch/error" and osc.tags_match(tags, "ss") then
    local target = job.by_id[args[1]]
    if not target and cur and args[1] == "/loopwatch/score" then
      target = cur
    end
    if target then
      job:handle({ type = "done", request_id = target.id, ok = false, error = args[2] }, target)
    end
  end
end

function Osc:poll(job, t)
  for _ = 1, 256 do
    local data = self.udp:receivefrom()
    if not data then
      break
    end
    local address, tags, args = osc.decode(data)
    if address then
      self:_message(job, address, tags, args)
    end
  end
  if not self.heard then
    if t > self.probe_deadline then
      return "failed", ("no answer from the daemon at %s:%d within %g s"):format(
        self.host, self.port, env.get_number("osc_probe_s"))
    end
    if t >= self.next_probe then
      self:send("/loopwatch/status", "", {})
      self.next_probe = t + 0.5
    end
    return "running"
  end
  if self.current == nil or self.current.done then
    self.current = job:pending()[1]
    if not self.current then
      return "finished"
    end
    local r = self.current
    if r.whole then
      self:send("/loopwatch/score", "ss", { r.id, r.path })
    else
      self:send("/loopwatch/score", "ssff", { r.id, r.path, r.start_s, r.length_s })
    end
  end
  return "running"
end

function Osc:close()
  if self.udp then
    self.udp:close()
    self.udp = nil
  end
end

-- Inbox transport ------------------------------------------------------------------

local Inbox = {}
Inbox.__index = Inbox

--- The inbox request document for a list of requests (docs/osc.md, "Inbox").
function M.inbox_document(requests)
  local list = json.array({})
  for _, r in ipairs(requests) do
    local entry = { request_id = r.id, path = r.path }
    if not r.whole then
      entry.start_s = r.start_s
      entry.length_s = r.length_s
    end
    list[#list + 1] = entry
  end
  return { v = 1, client_id = "reaper", requests = list }
end

function Inbox.new(job, t)
  local dir = env.inbox_dir()
  env.mkdirs(dir)
  local tail = journal.tail(env.journal_path(), "end")
  tail:poll() -- fix the read position before the request exists
  local pending = job:pending()
  local name = pending[1].id .. ".json"
  local path = env.join(dir, name)
  local ok, err = env.write_atomic(path, json.encode(M.inbox_document(pending)) .. "\n", path .. ".tmp")
  if not ok then
    return nil, ("cannot write %s: %s"):format(path, tostring(err))
  end
  return setmetatable({
    dir = dir,
    file = path,
    tail = tail,
    picked = false,
    pickup_deadline = t + env.get_number("inbox_pickup_s"),
  }, Inbox)
end

function Inbox:describe()
  return "inbox " .. self.dir
end

function Inbox:poll(job, t)
  for _, rec in ipairs(self.tail:poll()) do
    if job:handle(rec) then
      self.picked = true
    end
  end
  if not self.picked then
    if not env.file_exists(self.file) then
      self.picked = true
    elseif t > self.pickup_deadline then
      if os.remove(self.file) then
        return "failed", ("the daemon did not take the request from %s within %g s (is `loopwatch watch` running?)"):format(
          self.dir, env.get_number("inbox_pickup_s"))
      end
      self.picked = true -- taken just now
    end
  end
  if #job:pending() == 0 then
    return "finished"
  end
  return "running"
end

function Inbox:close()
  if not self.picked and self.file then
    os.remove(self.file)
  end
end

-- Exec transport ----------------------------------------------------------------------

local Exec = {}
Exec.__index = Exec

local function sh_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function bat_quote(s)
  return '"' .. tostring(s):gsub("%%", "%%%%") .. '"'
end

--- The `loopwatch client score` command line for one request (without
--- redirections), quoted for the platform's shell.
function M.exec_command(cmd, r, windows)
  local q = windows and bat_quote or sh_quote
  local parts = { cmd, "client", "score", "--json" }
  if not r.whole then
    parts[#parts + 1] = "--start " .. fmt_num(r.start_s)
    parts[#parts + 1] = "--length " .. fmt_num(r.length_s)
  end
  parts[#parts + 1] = q(r.path)
  return table.concat(parts, " ")
end

function Exec.new(job, t)
  local cmd = env.get("loopwatch_cmd")
  local windows = env.is_windows()
  local dir = env.join(env.temp_dir(), env.unique_id("loopwatch-reaper"))
  env.mkdirs(dir)
  local self = setmetatable({ dir = dir, runs = {}, windows = windows, files = {} }, Exec)
  -- The script first leaves a mark, so a launch that silently did nothing is
  -- noticed within seconds rather than at the overall timeout.
  self.started = env.join(dir, "started.txt")
  self.files[#self.files + 1] = self.started
  self.start_deadline = t + 15
  local lines = {}
  if windows then
    lines[#lines + 1] = "@echo off"
    lines[#lines + 1] = "chcp 65001 >nul"
    lines[#lines + 1] = "echo started> " .. bat_quote(self.started)
  else
    lines[#lines + 1] = "#!/bin/sh"
    lines[#lines + 1] = 'PATH="$HOME/.local/bin:/opt/homebrew/bin:/usr/local/bin:$PATH"; export PATH'
    lines[#lines + 1] = "("
    lines[#lines + 1] = "  echo started > " .. sh_quote(self.started)
  end
  for i, r in ipairs(job:pending()) do
    local run = {
      req = r,
      out = env.join(dir, ("out-%d.jsonl"):format(i)),
      part = env.join(dir, ("out-%d.part"):format(i)),
      err = env.join(dir, ("err-%d.txt"):format(i)),
      code = env.join(dir, ("code-%d.txt"):format(i)),
    }
    self.runs[#self.runs + 1] = run
    for _, k in ipairs({ "out", "part", "err", "code" }) do
      self.files[#self.files + 1] = run[k]
    end
    local c = M.exec_command(cmd, r, windows)
    if windows then
      lines[#lines + 1] = c .. " > " .. bat_quote(run.part) .. " 2> " .. bat_quote(run.err)
      lines[#lines + 1] = "echo %ERRORLEVEL% > " .. bat_quote(run.code)
      lines[#lines + 1] = "move /Y " .. bat_quote(run.part) .. " " .. bat_quote(run.out) .. " >nul"
    else
      lines[#lines + 1] = "  " .. c .. " > " .. sh_quote(run.part) .. " 2> " .. sh_quote(run.err)
      lines[#lines + 1] = "  echo $? > " .. sh_quote(run.code)
      lines[#lines + 1] = "  mv " .. sh_quote(run.part) .. " " .. sh_quote(run.out)
    end
  end
  if not windows then
    lines[#lines + 1] = ") </dev/null >/dev/null 2>&1 &"
  end
  local script = env.join(dir, windows and "score.bat" or "score.sh")
  self.script = script
  self.files[#self.files + 1] = script
  local f, err = io.open(script, "wb")
  if not f then
    return nil, ("cannot write %s: %s"):format(script, tostring(err))
  end
  f:write(table.concat(lines, windows and "\r\n" or "\n") .. (windows and "\r\n" or "\n"))
  f:close()
  if windows then
    -- -2: do not wait, minimized console. What no-wait returns is not a result.
    local cmdexe = (os.getenv("ComSpec") or ((os.getenv("SystemRoot") or "C:\\Windows") .. "\\System32\\cmd.exe"))
    reaper.ExecProcess('"' .. cmdexe .. '" /D /C "' .. script .. '"', -2)
  else
    -- The script puts its work in the background and returns at once.
    if reaper.ExecProcess('/bin/sh "' .. script .. '"', 5000) == nil then
      self:close()
      return nil, "REAPER could not start " .. script
    end
  end
  self.cmd = cmd
  return self
end

function Exec:describe()
  return "exec `" .. self.cmd .. " client score`"
end

function Exec:poll(job, t)
  if not self.was_started then
    if env.file_exists(self.started) then
      self.was_started = true
    elseif t > self.start_deadline then
      return "failed", "the background job did not start (" .. tostring(self.script) .. ")"
    end
  end
  for _, run in ipairs(self.runs) do
    if not run.collected and env.file_exists(run.out) then
      run.collected = true
      local text = env.read_file(run.out) or ""
      for line in text:gmatch("[^\r\n]+") do
        local rec = json.decode(line)
        if type(rec) == "table" and type(rec.type) == "string" then
          job:handle(rec, run.req)
        end
      end
      if not run.req.done then
        local code = tonumber((env.read_file(run.code) or ""):match("%-?%d+"))
        local errtext = (env.read_file(run.err) or ""):gsub("%s+$", "")
        local last = errtext:match("([^\r\n]*)$") or ""
        if code == 0 and run.req.answered then
          job:handle({ type = "done", ok = true }, run.req)
        else
          local why
          if last ~= "" then
            why = last
          elseif code == 0 then
            why = "`" .. self.cmd .. " client score` printed no result"
          else
            why = "`" .. self.cmd .. " client score` exited with code " .. tostring(code)
          end
          job:handle({ type = "done", ok = false, error = why }, run.req)
        end
      end
    end
  end
  if #job:pending() == 0 then
    return "finished"
  end
  return "running"
end

function Exec:close()
  for _, f in ipairs(self.files or {}) do
    os.remove(f)
  end
  if self.dir then
    os.remove(self.dir)
  end
end

M.TRANSPORTS = { osc = Osc, inbox = Inbox, exec = Exec }
M.ORDER = { "osc", "inbox", "exec" }

--- Transports to try for a "score_transport" setting.
function M.transport_order(setting)
  if M.TRANSPORTS[setting] then
    return { setting }
  end
  return { table.unpack(M.ORDER) }
end

--- Advance the job; returns true while it still needs polling.
function Job:step(t)
  if self.finished then
    return false
  end
  if self.deadline == nil then
    self.deadline = t + env.get_number("timeout_s")
    self.started = t
  end
  if self.order == nil then
    self.order = M.transport_order(env.get("score_transport"))
  end
  if not self.transport then
    local name = table.remove(self.order, 1)
    if not name then
      for _, r in ipairs(self:pending()) do
        r.done, r.ok = true, false
        r.error = "no transport reached the daemon"
      end
      self.finished = true
      return false
    end
    local tr, err = M.TRANSPORTS[name].new(self, t)
    if not tr then
      self.notes[#self.notes + 1] = name .. ": " .. tostring(err)
      return true
    end
    self.transport, self.transport_name = tr, name
  end
  local status, err = self.transport:poll(self, t)
  if status == "failed" then
    self.notes[#self.notes + 1] = self.transport_name .. ": " .. tostring(err)
    self.transport:close()
    self.transport = nil
    return true
  elseif status == "finished" then
    self.used = self.transport:describe()
    self.transport:close()
    self.transport = nil
    self.finished = true
    return false
  end
  if t > self.deadline then
    for _, r in ipairs(self:pending()) do
      r.done, r.ok = true, false
      r.timed_out = true
      r.error = ("no answer within %g s"):format(env.get_number("timeout_s"))
    end
    self.used = self.transport:describe() .. " (timed out)"
    self.transport:close()
    self.transport = nil
    self.finished = true
    return false
  end
  return true
end

function Job:close()
  if self.transport then
    self.transport:close()
    self.transport = nil
  end
end

-- Results ------------------------------------------------------------------------------

local SEVERITY_RANK = { info = 1, warn = 2, error = 3 }

--- The verdict of a finished request: the daemon's, or derived from its alerts.
function M.verdict(req)
  if req.file and type(req.file.verdict) == "string" then
    return req.file.verdict
  end
  if req.ok == false then
    return "failed"
  end
  local worst = 0
  for _, a in ipairs(req.alerts) do
    worst = math.max(worst, SEVERITY_RANK[a.severity] or 0)
  end
  return worst >= 3 and "error" or worst == 2 and "warn" or "ok"
end

local function valid(ptr, kind)
  if reaper.ValidatePtr2 then
    return reaper.ValidatePtr2(0, ptr, kind)
  end
  return reaper.ValidatePtr(ptr, kind)
end

--- Write the results into the project in one undo block: remove the take's
--- previous loopwatch markers, add one per alert, colour the item.
-- Requests that got no answer at all leave their item untouched.
function M.apply(job)
  local any = false
  for _, req in ipairs(job.requests) do
    any = any or req.answered
  end
  if not any then
    return
  end
  reaper.Undo_BeginBlock()
  reaper.PreventUIRefresh(1)
  for _, req in ipairs(job.requests) do
    local info = req.info
    if req.answered and valid(info.item, "MediaItem*") and valid(info.take, "MediaItem_Take*") then
      items.remove_markers(info.take)
      table.sort(req.alerts, function(x, y)
        return (tonumber(x.t0) or 0) < (tonumber(y.t0) or 0)
      end)
      req.placed = items.add_markers(info, req.alerts)
      req.verdict = M.verdict(req)
      items.color_item(info.item, req.verdict)
      reaper.UpdateItemInProject(info.item)
    elseif req.answered then
      req.skipped = "item was deleted while waiting"
    end
  end
  reaper.PreventUIRefresh(-1)
  reaper.UpdateArrange()
  reaper.Undo_EndBlock(M.UNDO_LABEL, -1)
end

local function fmt_time(t)
  t = tonumber(t) or 0
  local m = math.floor(t / 60)
  return ("%d:%06.3f"):format(m, t - 60 * m)
end
M.fmt_time = fmt_time

--- Console summary lines.
function M.summary(job, skipped, elapsed)
  local lines = {}
  local n_ok, n_issue, n_fail = 0, 0, 0
  for _, req in ipairs(job.requests) do
    local v = req.verdict or (req.answered and M.verdict(req)) or "failed"
    if v == "ok" then
      n_ok = n_ok + 1
    elseif v == "failed" then
      n_fail = n_fail + 1
    else
      n_issue = n_issue + 1
    end
  end
  lines[#lines + 1] = ("loopwatch: scored %d item(s) via %s in %.1f s: %d ok, %d with problems, %d failed"):format(
    #job.requests, job.used or "no transport", elapsed or 0, n_ok, n_issue, n_fail)
  for _, note in ipairs(job.notes) do
    lines[#lines + 1] = "  (skipped transport " .. note .. ")"
  end
  for _, req in ipairs(job.requests) do
    local name = env.basename(req.path)
    local range = req.whole and "" or (" [" .. fmt_time(req.start_s) .. " - " .. fmt_time(req.start_s + req.length_s) .. "]")
    local v = req.verdict or (req.answered and M.verdict(req)) or "failed"
    local head = ("  %s%s: %s"):format(name, range, v)
    if req.file and tonumber(req.file.outlier_ratio) and tonumber(req.file.outlier_ratio) >= 0 then
      head = head .. (" (outlier ratio %.2f)"):format(tonumber(req.file.outlier_ratio))
    end
    if req.error then
      head = head .. " - " .. req.error
    end
    if req.skipped then
      head = head .. " - " .. req.skipped
    end
    lines[#lines + 1] = head
    for k, a in ipairs(req.alerts) do
      if k > 20 then
        lines[#lines + 1] = ("    ... and %d more"):format(#req.alerts - 20)
        break
      end
      local where = ""
      if req.placed and req.placed[k] then
        where = (" -> project %s"):format(fmt_time(req.placed[k].project_time))
      end
      lines[#lines + 1] = ("    %s %s at %s%s: %s"):format(
        tostring(a.severity), tostring(a.check), fmt_time(a.t0), where, tostring(a.message or ""))
    end
  end
  for _, s in ipairs(skipped or {}) do
    lines[#lines + 1] = "  skipped: " .. s
  end
  return lines
end

-- Entry point ----------------------------------------------------------------------------

--- Infos of the selected items that can be scored, and descriptions of the others.
function M.selected_items()
  local infos, skipped = {}, {}
  for i = 0, reaper.CountSelectedMediaItems(0) - 1 do
    local item = reaper.GetSelectedMediaItem(0, i)
    local info, why = items.item_info(item)
    if info then
      infos[#infos + 1] = info
    else
      local take = reaper.GetActiveTake(item)
      local name = take and reaper.GetTakeName(take) or ("item " .. (i + 1))
      skipped[#skipped + 1] = ("%s (%s)"):format(name, why)
    end
  end
  return infos, skipped
end

--- Run the action: collect, send, wait in a defer loop, apply, print.
-- `on_finish(job)` is called at the end (tests use it).
function M.main(on_finish)
  local infos, skipped = M.selected_items()
  if #infos == 0 then
    env.log("loopwatch: select one or more audio items first.")
    for _, s in ipairs(skipped) do
      env.log("  skipped: " .. s)
    end
    if on_finish then
      on_finish(nil)
    end
    return nil
  end
  local job = M.new_job(infos)
  local t_start = now()
  env.log("loopwatch: scoring %d item(s)...", #infos)
  reaper.atexit(function()
    job:close()
  end)
  local function loop()
    local t = now()
    for _ = 1, 8 do
      if not job:step(t) then
        break
      end
      if job.transport then
        break -- one poll of a live transport per defer cycle
      end
    end
    if job.finished then
      M.apply(job)
      for _, line in ipairs(M.summary(job, skipped, now() - t_start)) do
        env.log(line)
      end
      if on_finish then
        on_finish(job)
      end
    else
      reaper.defer(loop)
    end
  end
  loop()
  return job
end

return M
