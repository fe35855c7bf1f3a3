-- @noindex
-- loopwatch_osc.lua: a small OSC 1.0 message encoder/decoder (library, [nomain]).
--
-- Speaks exactly what loopwatch's protocol v1 uses (docs/osc.md): one message
-- per datagram, argument types int32 ('i'), float32 ('f') and string ('s').
-- Strings are NUL-terminated and padded with NULs to a multiple of 4 bytes.
-- The decoder also reads the other common OSC 1.0 types (b, h, d, t, T, F,
-- N, I) so that a packet from any sender can be inspected without an error;
-- bundles ("#bundle") are reported as such and not unpacked (the protocol
-- never sends them).
--
-- Works with Lua 5.3 (REAPER 6) and 5.4 (REAPER 7): uses string.pack.

local M = {}

local spack, sunpack = string.pack, string.unpack

--- Number of NUL bytes that pad `n` bytes to a multiple of 4.
local function pad4(n)
  return (4 - n % 4) % 4
end
M.pad4 = pad4

--- Encode one OSC string: the bytes, a terminating NUL, then NULs up to a
--- multiple of 4 bytes (so a string of 3 bytes takes 4, of 4 bytes takes 8).
function M.encode_string(s)
  s = tostring(s)
  if s:find("\0", 1, true) then
    error("OSC string contains a NUL byte", 2)
  end
  return s .. string.rep("\0", 1 + pad4(#s + 1))
end

local function to_int32(v)
  local n = math.tointeger(v)
  if n == nil then
    error(("OSC int32 argument is not an integer: %s"):format(tostring(v)), 3)
  end
  if n < -2147483648 or n > 2147483647 then
    error(("OSC int32 argument out of range: %d"):format(n), 3)
  end
  return n
end

--- Encode a message.
-- @param address string starting with "/"
-- @param tags string of type tags without the leading comma, e.g. "ssff"
-- @param args table (sequence) of argument values, one per tag
-- @return string datagram
function M.encode(address, tags, args)
  if type(address) ~= "string" or address:sub(1, 1) ~= "/" then
    error("OSC address must start with '/'", 2)
  end
  tags = tags or ""
  args = args or {}
  if #tags ~= #args then
    error(("OSC message %s: %d type tags but %d arguments"):format(address, #tags, #args), 2)
  end
  local parts = { M.encode_string(address), M.encode_string("," .. tags) }
  for k = 1, #tags do
    local t, v = tags:sub(k, k), args[k]
    if t == "i" then
      parts[#parts + 1] = spack(">i4", to_int32(v))
    elseif t == "f" then
      local x = tonumber(v)
      if x == nil then
        error(("OSC float32 argument is not a number: %s"):format(tostring(v)), 2)
      end
      parts[#parts + 1] = spack(">f", x)
    elseif t == "s" then
      parts[#parts + 1] = M.encode_string(v == nil and "" or v)
    else
      error(("OSC type tag '%s' is not supported by the encoder"):format(t), 2)
    end
  end
  return table.concat(parts)
end

-- Read an OSC string at byte position `pos` (1-based); returns value, next position.
local function read_string(data, pos)
  local z = data:find("\0", pos, true)
  if not z then
    return nil, "unterminated string at byte " .. (pos - 1)
  end
  local s = data:sub(pos, z - 1)
  local nxt = pos + #s + 1 + pad4(#s + 1)
  if nxt - 1 > #data then
    return nil, "string padding runs past the end at byte " .. (pos - 1)
  end
  -- the padding must be NULs
  if data:sub(z, nxt - 1):find("[^%z]") then
    return nil, "non-NUL padding after string at byte " .. (pos - 1)
  end
  return s, nxt
end

--- Decode one datagram.
-- @return address, tags, args  on success (args is a sequence; 'T'/'F'/'N'/'I'
--         give true/false/M.NIL/M.INFINITUM)
-- @return nil, error_message    on a malformed packet or a bundle
function M.decode(data)
  if type(data) ~= "string" or #data < 4 then
    return nil, "packet too short"
  end
  if #data % 4 ~= 0 then
    return nil, "packet length is not a multiple of 4"
  end
  if data:sub(1, 8) == "#bundle\0" then
    return nil, "bundle (not used by the loopwatch protocol)"
  end
  if data:sub(1, 1) ~= "/" then
    return nil, "not an OSC message"
  end
  local address, pos = read_string(data, 1)
  if not address then
    return nil, pos
  end
  if pos > #data then
    -- OSC 1.0 allows a missing type tag string in old senders: no arguments.
    return address, "", {}
  end
  local tagstr
  tagstr, pos = read_string(data, pos)
  if not tagstr then
    return nil, pos
  end
  if tagstr:sub(1, 1) ~= "," then
    return nil, "type tag string does not start with ','"
  end
  local tags = tagstr:sub(2)
  local args = {}
  for k = 1, #tags do
    local t = tags:sub(k, k)
    local v
    if t == "i" or t == "f" or t == "h" or t == "d" or t == "t" then
      local fmt = ({ i = ">i4", f = ">f", h = ">i8", d = ">d", t = ">I8" })[t]
      local size = (t == "i" or t == "f") and 4 or 8
      if pos + size - 1 > #data then
        return nil, ("argument %d ('%s') runs past the end"):format(k, t)
      end
      v = sunpack(fmt, data, pos)
      pos = pos + size
    elseif t == "s" or t == "S" then
      v, pos = read_string(data, pos)
      if not v then
        return nil, pos
      end
    elseif t == "b" then
      if pos + 3 > #data then
        return nil, ("blob %d size runs past the end"):format(k)
      end
      local n = sunpack(">i4", data, pos)
      pos = pos + 4
      if n < 0 or pos + n - 1 > #data then
        return nil, ("blob %d runs past the end"):format(k)
      end
      v = data:sub(pos, pos + n - 1)
      pos = pos + n + pad4(n)
    elseif t == "T" then
      v = true
    elseif t == "F" then
      v = false
    elseif t == "N" then
      v = M.NIL
    elseif t == "I" then
      v = M.INFINITUM
    else
      return nil, ("unsupported type tag '%s'"):format(t)
    end
    args[k] = v
  end
  if pos - 1 ~= #data then
    return nil, ("%d trailing bytes after the arguments"):format(#data - pos + 1)
  end
  return address, tags, args
end

M.NIL = setmetatable({}, { __tostring = function() return "OSC-nil" end })
M.INFINITUM = setmetatable({}, { __tostring = function() return "OSC-infinitum" end })

--- Check that a decoded message has exactly the expected tags, allowing an
--- int32 where a float32 is expected (as the daemon does).
function M.tags_match(got, want)
  if #got ~= #want then
    return false
  end
  for k = 1, #want do
    local g, w = got:sub(k, k), want:sub(k, k)
    if g ~= w and not (w == "f" and g == "i") then
      return false
    end
  end
  return true
end

return M
