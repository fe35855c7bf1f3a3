-- @noindex
-- loopwatch_journal.lua: follow the daemon's JSON-lines journal (library, [nomain]).
--
-- The daemon appends one JSON object per line to journal.jsonl (docs/osc.md,
-- "Journal"). When the file passes 10 MB it is renamed journal.jsonl.1 and a
-- new one is started. A reader notices the rotation when the file is shorter
-- than its read position or its first line changed; it then reads what it had
-- not yet read from journal.jsonl.1 and starts the new file from the top.
-- A line without its newline yet is kept until the rest arrives.

local json = require("loopwatch_json")

local M = {}

local Tail = {}
Tail.__index = Tail

-- The file's first line identifies it (every record has its own timestamp and id).
local HEAD_BYTES = 4096

local function read_head(f, size)
  f:seek("set", 0)
  local data = f:read(math.min(HEAD_BYTES, size)) or ""
  local nl = data:find("\n", 1, true)
  return nl and data:sub(1, nl) or data
end

--- Create a follower.
-- @param path journal file
-- @param start "end" (only records written from now on), "start" (everything),
--        or a number N (the last N bytes, starting at the next full line)
function M.tail(path, start)
  return setmetatable({ path = path, start = start or "end", pos = nil, head = nil, partial = "" }, Tail)
end

local function file_size(f)
  return f:seek("end")
end

function Tail:_position(f, size)
  if self.start == "end" then
    self.pos = size
  elseif self.start == "start" then
    self.pos = 0
  else
    local back = tonumber(self.start) or 0
    self.pos = math.max(0, size - back)
    self.skip_first_line = self.pos > 0
  end
  self.head = read_head(f, size)
end

local function parse_lines(self, data, out)
  local text = self.partial .. data
  local last = 1
  for line, nxt in text:gmatch("([^\n]*)\n()") do
    last = nxt
    if self.skip_first_line then
      self.skip_first_line = false
    elseif line:find("%S") then
      local rec = json.decode(line)
      if type(rec) == "table" and (rec.v == nil or rec.v == 1) and type(rec.type) == "string" then
        out[#out + 1] = rec
      end
    end
  end
  self.partial = text:sub(last)
end

--- Read the records appended since the last call.
-- @return list of decoded records (tables with a "type" field), oldest first
function Tail:poll()
  local out = {}
  local f = io.open(self.path, "rb")
  if not f then
    -- Not created yet (or being rotated): nothing new.
    if self.pos == nil and self.start == "end" then
      self.pos, self.head = 0, ""
    end
    return out
  end
  local size = file_size(f)
  if self.pos == nil then
    self:_position(f, size)
  else
    local head = read_head(f, size)
    local known = self.head or ""
    local rotated = size < self.pos
      or (#known > 0 and head:sub(1, #known) ~= known)
    if rotated then
      -- Finish the old file (now journal.jsonl.1) if it is the one we were reading.
      local old = io.open(self.path .. ".1", "rb")
      if old then
        local old_head = old:read(#known) or ""
        if #known > 0 and old_head == known then
          local old_size = file_size(old)
          if old_size > self.pos then
            old:seek("set", self.pos)
            parse_lines(self, old:read(old_size - self.pos) or "", out)
          end
        end
        old:close()
      end
      self.partial = ""
      self.pos = 0
      self.skip_first_line = false
      self.head = head
    elseif #head > #known then
      self.head = head -- the first line was still being written
    end
  end
  if size > self.pos then
    f:seek("set", self.pos)
    local data = f:read(size - self.pos) or ""
    self.pos = self.pos + #data
    parse_lines(self, data, out)
  end
  f:close()
  return out
end

return M
