-- Test driver: run one loopwatch REAPER script against the stub.
--   lua5.4 run_script.lua SCENARIO.json OUTPUT.json
-- The scenario describes the project (items, takes, sources), ExtState, the
-- script to run and when to stop; the output is the stub's state afterwards
-- (markers, colours, undo blocks, console, ...) as JSON.

local here = arg[0]:match("^(.*[/\\])") or "./"
package.path = here .. "?.lua;" .. here .. "../lib/?.lua;" .. package.path

local json = require("loopwatch_json")
local S = require("reaper_stub")

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local sc = assert(json.decode(read(arg[1])))
S.install(sc)

local ok, err = pcall(S.run_script, sc.script_path)
local script_error = (not ok) and tostring(err) or nil

local click_state = { phase = nil, at = nil }
local stop_countdown = nil

local function each_cycle(n)
  -- gfx: press on the row showing `gfx_click_text` once it has been drawn.
  local want = sc.gfx_click_text
  if want and S.gfx.last and click_state.phase == nil then
    for _, d in ipairs(S.gfx.last) do
      if d.text == want then
        gfx.mouse_x, gfx.mouse_y, gfx.mouse_cap = d.x + 2, d.y + 2, 1
        click_state.phase, click_state.at = "down", n
        break
      end
    end
  elseif click_state.phase == "down" and n > click_state.at then
    gfx.mouse_cap = 0
    click_state.phase = "up"
  end
  if sc.gfx_right_click_cycle and n == sc.gfx_right_click_cycle then
    gfx.mouse_cap = 2
  elseif sc.gfx_right_click_cycle and n == sc.gfx_right_click_cycle + 1 then
    gfx.mouse_cap = 0
  end
  if sc.gfx_close_at_cycle and n >= sc.gfx_close_at_cycle then
    S.gfx.closed_by_user = true
  end
end

local function seen_text(text)
  for _, d in ipairs(S.gfx.last or {}) do
    if d.text == text then
      return true
    end
  end
  return S.imgui ~= nil and S.imgui.labels[text] == true
end

local started = S.R.time_precise()

local function stop(n)
  if sc.stop_not_before_s and S.R.time_precise() - started < sc.stop_not_before_s then
    return false
  end
  if stop_countdown then
    stop_countdown = stop_countdown - 1
    return stop_countdown <= 0
  end
  if sc.stop_when_cursor_moved and #S.cursor_moves > 0 then
    stop_countdown = 3
  elseif sc.stop_when_seen and seen_text(sc.stop_when_seen) then
    stop_countdown = 2
  elseif sc.stop_after_cycles and n >= sc.stop_after_cycles then
    return true
  end
  return false
end

if not script_error then
  ok, err = pcall(S.run_defer, sc.max_s or 20, each_cycle, stop)
  if not ok then
    script_error = tostring(err)
  end
end

local out = S.dump()
out.script_error = script_error
local texts = {}
for _, d in ipairs(S.gfx.last or {}) do
  texts[#texts + 1] = d.text
end
out.gfx.last_texts = json.array(texts)
if S.imgui then
  local labels = {}
  for k in pairs(S.imgui.labels) do
    labels[#labels + 1] = k
  end
  table.sort(labels)
  out.imgui.labels = json.array(labels)
  out.imgui.rows_last_frame = json.array(S.imgui.rows_this_frame or {})
  out.imgui.calls = S.imgui.calls
  out.imgui.dock_id = S.imgui.dock_id
end
local f = assert(io.open(arg[2], "wb"))
f:write(json.encode(out))
f:close()
