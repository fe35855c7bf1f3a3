-- Test driver for the libraries:
--   lua5.4 run_lib.lua osc-encode SPEC.json      -> hex datagrams, one per line
--       SPEC: [{"address": "/a", "tags": "is", "args": [1, "x"]}, ...]
--   lua5.4 run_lib.lua osc-decode HEX.txt        -> JSON list of decoded messages
--       HEX.txt: one hex datagram per line; each result is
--       {"address", "tags", "args"} or {"error"}
--   lua5.4 run_lib.lua eval SCENARIO.json OUT.json
--       installs the reaper stub with the scenario, runs the scenario's "lua"
--       code (a chunk that returns a table) and writes that table as JSON.

local here = arg[0]:match("^(.*[/\\])") or "./"
package.path = here .. "?.lua;" .. here .. "../lib/?.lua;" .. package.path

local json = require("loopwatch_json")
local osc = require("loopwatch_osc")

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function hex(s)
  return (s:gsub(".", function(c)
    return ("%02x"):format(c:byte())
  end))
end

local function unhex(h)
  return (h:gsub("%x%x", function(b)
    return string.char(tonumber(b, 16))
  end))
end

local cmd = arg[1]
if cmd == "osc-encode" then
  local spec = assert(json.decode(read(arg[2])))
  for _, m in ipairs(spec) do
    local args = {}
    for i, v in ipairs(m.args) do
      local t = m.tags:sub(i, i)
      args[i] = (t == "i") and math.tointeger(v) or v
    end
    io.write(hex(osc.encode(m.address, m.tags, args)), "\n")
  end
elseif cmd == "osc-decode" then
  local out = json.array({})
  for line in read(arg[2]):gmatch("[^\r\n]+") do
    local address, tags, args = osc.decode(unhex(line))
    if address then
      out[#out + 1] = { address = address, tags = tags, args = json.array(args) }
    else
      out[#out + 1] = { error = tags }
    end
  end
  io.write(json.encode(out), "\n")
elseif cmd == "eval" then
  local S = require("reaper_stub")
  local sc = assert(json.decode(read(arg[2])))
  S.install(sc)
  local chunk = assert(load(sc.lua, "=scenario", "t", setmetatable({ S = S }, { __index = _G })))
  local ok, result = pcall(chunk)
  local out
  if ok then
    out = { result = result, state = S.dump() }
  else
    out = { error = tostring(result), state = S.dump() }
  end
  local f = assert(io.open(arg[3], "wb"))
  f:write(json.encode(out))
  f:close()
else
  io.stderr:write("usage: run_lib.lua osc-encode|osc-decode|eval ...\n")
  os.exit(2)
end
