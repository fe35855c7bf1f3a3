-- @noindex
-- @description loopwatch: Alerts panel
-- @author loopwatch
-- @about
--   Installed by the "loopwatch: Score selected items" package (ReaPack), or copy
--   this file and the lib/ folder next to each other into REAPER's Scripts folder.
--
--   A dockable window listing loopwatch alerts (file, check, time, severity) as the
--   daemon pushes them. Click an alert to select the item that plays that file at
--   that time, move the edit cursor there and scroll there. Run the action again to
--   close the panel (its toggle state shows in toolbars and menus).
--
--   * Window: ReaImGui 0.9+ when installed (dock it from the window's context
--     menu or the "Dock" button), otherwise REAPER's gfx window (right-click for
--     Dock/Undock and the other options; the dock state is remembered).
--   * Alerts: OSC over UDP on port 9703 when LuaSocket (mavriq-lua-sockets) is
--     installed: the panel subscribes to the daemon, renews every 5 s and asks for
--     a replay of unacknowledged alerts at start. Without LuaSocket, or when the
--     port is taken, it follows the daemon's journal file instead.
--   * Settings (ports, feed, data folder, loopwatch command) persist in ExtState.

local script_path = ({ reaper.get_action_context() })[2] or ""
local script_dir = script_path:match("^(.*[/\\])") or ""
package.path = script_dir .. "lib/?.lua;" .. package.path

local env = require("loopwatch_env")
local panel_lib = require("loopwatch_panel")

local TITLE = "loopwatch alerts"
local _, _, section_id, command_id = reaper.get_action_context()

-- Relaunching the action closes the panel; the action shows as "on" while open.
if reaper.set_action_options then
  reaper.set_action_options(1 | 4)
elseif command_id and command_id > 0 then
  reaper.SetToggleCommandState(section_id, command_id, 1)
  reaper.RefreshToolbar2(section_id, command_id)
end

local client_id = env.get("panel_client_id")
if client_id == "" then
  client_id = env.unique_id("reaper-panel")
  env.set("panel_client_id", client_id)
end

local panel = panel_lib.new({ cleared_id = env.get("panel_cleared_id") })
local state = { feed = nil, note = nil, settings = false, closed = false }

local function open_feed()
  if state.feed then
    state.feed:close()
  end
  state.feed, state.note = panel_lib.open_feed(panel, client_id, reaper.time_precise())
end

local function status_line()
  local parts = {}
  if state.feed then
    parts[#parts + 1] = state.feed:describe() .. ": " .. state.feed:status()
  else
    parts[#parts + 1] = "not listening"
  end
  local d = panel.daemon
  if d and d.queue_len and tonumber(d.queue_len) and tonumber(d.queue_len) > 0 then
    parts[#parts + 1] = ("queue %d"):format(d.queue_len)
  end
  parts[#parts + 1] = ("%d alert(s)"):format(#panel.rows)
  if state.note and state.feed and state.feed.kind == "journal" then
    parts[#parts + 1] = "(no OSC: " .. state.note .. ")"
  elseif state.note and not state.feed then
    parts[#parts + 1] = state.note
  end
  return table.concat(parts, "  -  ")
end

local function clear_list()
  env.set("panel_cleared_id", panel:clear_rows())
end

local SEVERITY_RGB = {
  error = { 0.90, 0.30, 0.25 },
  warn = { 0.95, 0.65, 0.20 },
  info = { 0.40, 0.62, 0.90 },
}

local function rgba(rgb)
  local function b(x)
    return math.floor(x * 255 + 0.5)
  end
  return (b(rgb[1]) << 24) | (b(rgb[2]) << 16) | (b(rgb[3]) << 8) | 0xFF
end

-- Settings edited in the panel (ImGui) or through the gfx menu.
local EDITABLE = {
  { key = "daemon_host", label = "Daemon host" },
  { key = "daemon_port", label = "Daemon port" },
  { key = "panel_port", label = "Panel port" },
  { key = "data_dir", label = "Data folder (empty: default)" },
  { key = "loopwatch_cmd", label = "loopwatch command" },
  { key = "timeout_s", label = "Score timeout (s)" },
}
local FEEDS = { "auto", "osc", "journal" }
local SCORE_TRANSPORTS = { "auto", "osc", "inbox", "exec" }

-- ReaImGui window ---------------------------------------------------------------

local function load_imgui()
  if env.get("panel_ui") == "gfx" then
    return nil
  end
  if not (reaper.ImGui_GetBuiltinPath and reaper.ImGui_CreateContext) then
    return nil
  end
  local ok, ImGui = pcall(function()
    package.path = reaper.ImGui_GetBuiltinPath() .. "/?.lua;" .. package.path
    return require("imgui")("0.9")
  end)
  if ok and type(ImGui) == "table" then
    return ImGui
  end
  return nil
end

local function imgui_ui(ImGui)
  local function C(v)
    if type(v) == "function" then
      return v()
    end
    return v
  end
  local ctx = ImGui.CreateContext(TITLE)
  local edits = {}
  local ui = { kind = "ReaImGui" }
  local dock_request = nil

  local function settings_view()
    for _, e in ipairs(EDITABLE) do
      if edits[e.key] == nil then
        edits[e.key] = env.get(e.key)
      end
      local _, v = ImGui.InputText(ctx, e.label, edits[e.key])
      edits[e.key] = v
    end
    edits.panel_transport = edits.panel_transport or env.get("panel_transport")
    ImGui.Text(ctx, "Panel feed:")
    for _, f in ipairs(FEEDS) do
      ImGui.SameLine(ctx)
      if ImGui.RadioButton(ctx, f .. "##feed", edits.panel_transport == f) then
        edits.panel_transport = f
      end
    end
    edits.score_transport = edits.score_transport or env.get("score_transport")
    ImGui.Text(ctx, "Scoring:")
    for _, f in ipairs(SCORE_TRANSPORTS) do
      ImGui.SameLine(ctx)
      if ImGui.RadioButton(ctx, f .. "##score", edits.score_transport == f) then
        edits.score_transport = f
      end
    end
    if ImGui.Button(ctx, "Save and reconnect") then
      for k, v in pairs(edits) do
        env.set(k, v)
      end
      edits = {}
      env._reset_socket()
      open_feed()
    end
    ImGui.Separator(ctx)
  end

  function ui.frame()
    if dock_request ~= nil then
      ImGui.SetNextWindowDockID(ctx, dock_request)
      dock_request = nil
    end
    ImGui.SetNextWindowSize(ctx, 560, 320, C(ImGui.Cond_FirstUseEver))
    local visible, open = ImGui.Begin(ctx, TITLE, true)
    if visible then
      ImGui.TextWrapped(ctx, status_line())
      if ImGui.Button(ctx, "Clear list") then
        clear_list()
      end
      ImGui.SameLine(ctx)
      if ImGui.Button(ctx, state.settings and "Hide settings" or "Settings") then
        state.settings = not state.settings
      end
      ImGui.SameLine(ctx)
      local docked = ImGui.IsWindowDocked(ctx)
      if ImGui.Button(ctx, docked and "Undock" or "Dock") then
        dock_request = docked and 0 or -1
      end
      if panel.message ~= "" then
        ImGui.TextWrapped(ctx, panel.message)
      end
      if state.settings then
        settings_view()
      end
      local flags = C(ImGui.TableFlags_Borders) | C(ImGui.TableFlags_RowBg) | C(ImGui.TableFlags_ScrollY)
        | C(ImGui.TableFlags_Resizable)
      if ImGui.BeginTable(ctx, "alerts", 4, flags) then
        ImGui.TableSetupScrollFreeze(ctx, 0, 1)
        ImGui.TableSetupColumn(ctx, "File")
        ImGui.TableSetupColumn(ctx, "Check")
        ImGui.TableSetupColumn(ctx, "Time")
        ImGui.TableSetupColumn(ctx, "Severity")
        ImGui.TableHeadersRow(ctx)
        local clicked = nil
        for i, row in ipairs(panel.rows) do
          ImGui.TableNextRow(ctx)
          ImGui.TableNextColumn(ctx)
          if ImGui.Selectable(ctx, row.file .. "##" .. row.id, panel.selected == row.id,
              C(ImGui.SelectableFlags_SpanAllColumns)) then
            clicked = i
          end
          if ImGui.IsItemHovered(ctx) and row.message ~= "" then
            ImGui.SetTooltip(ctx, row.path .. "\n" .. row.message)
          end
          ImGui.TableNextColumn(ctx)
          ImGui.Text(ctx, row.check)
          ImGui.TableNextColumn(ctx)
          ImGui.Text(ctx, row.time_text)
          ImGui.TableNextColumn(ctx)
          ImGui.TextColored(ctx, rgba(SEVERITY_RGB[row.severity] or { 0.8, 0.8, 0.8 }), row.severity)
        end
        ImGui.EndTable(ctx)
        if clicked then
          panel:click(clicked)
        end
      end
      ImGui.End(ctx)
    end
    return open
  end

  function ui.close() end

  return ui
end

-- gfx window (no extension needed) ------------------------------------------------

local function gfx_ui()
  local ui = { kind = "gfx", scroll = 0, prev_cap = 0 }
  local dock = tonumber(env.get("panel_gfx_dock")) or 0
  local w = tonumber(env.get("panel_gfx_w")) or 560
  local h = tonumber(env.get("panel_gfx_h")) or 320
  gfx.init(TITLE, w, h, dock)
  gfx.setfont(1, "Arial", 14)

  local function fit(text, width)
    text = tostring(text)
    if gfx.measurestr(text) <= width then
      return text
    end
    while #text > 1 and gfx.measurestr(text .. "...") > width do
      text = text:sub(1, -2)
    end
    return text .. "..."
  end

  local function menu()
    local d = gfx.dock(-1)
    local feed = env.get("panel_transport")
    local items = {
      (d & 1 == 1) and "Undock window" or "Dock window",
      "Clear list",
      "",
    }
    for _, f in ipairs(FEEDS) do
      items[#items + 1] = ((feed == f) and "!" or "") .. "Alerts from: " .. f
    end
    items[#items + 1] = ""
    items[#items + 1] = "Set data folder..."
    items[#items + 1] = "Set ports..."
    gfx.x, gfx.y = gfx.mouse_x, gfx.mouse_y
    local choice = gfx.showmenu(table.concat(items, "|"))
    if choice == 1 then
      gfx.dock((d & 1 == 1) and (d & ~1) or (d | 1))
    elseif choice == 2 then
      clear_list()
    elseif choice >= 3 and choice <= 2 + #FEEDS then
      env.set("panel_transport", FEEDS[choice - 2])
      open_feed()
    elseif choice == 3 + #FEEDS then
      local ok, v = reaper.GetUserInputs("loopwatch", 1, "Data folder (empty: default),extrawidth=300",
        env.get("data_dir") == env.DEFAULTS.data_dir and "" or env.get("data_dir"))
      if ok then
        env.set("data_dir", v)
        open_feed()
      end
    elseif choice == 4 + #FEEDS then
      local ok, v = reaper.GetUserInputs("loopwatch", 3, "Daemon host,Daemon port,Panel port",
        env.get("daemon_host") .. "," .. env.get("daemon_port") .. "," .. env.get("panel_port"))
      if ok then
        local host, dport, pport = v:match("^([^,]*),([^,]*),([^,]*)$")
        if host then
          env.set("daemon_host", host)
          env.set("daemon_port", dport)
          env.set("panel_port", pport)
          open_feed()
        end
      end
    end
  end

  function ui.frame()
    local ch = gfx.getchar()
    if ch < 0 then
      return false
    end
    local L = panel_lib.gfx_layout(gfx.texth)
    gfx.set(0.12, 0.12, 0.13, 1)
    gfx.rect(0, 0, gfx.w, gfx.h, 1)
    gfx.set(0.85, 0.85, 0.85, 1)
    gfx.x, gfx.y = 6, L.header_top
    gfx.drawstr(fit(status_line(), gfx.w - 12))
    gfx.set(0.7, 0.7, 0.7, 1)
    gfx.x, gfx.y = 6, L.header_top + L.row_h
    gfx.drawstr(fit(panel.message, gfx.w - 12))
    local width = gfx.w - 12
    local colx = {}
    for i, c in ipairs(L.columns) do
      colx[i] = 6 + math.floor(c * width)
    end
    colx[#L.columns + 1] = 6 + width
    gfx.set(0.95, 0.95, 0.95, 1)
    for i, name in ipairs({ "File", "Check", "Time", "Severity" }) do
      gfx.x, gfx.y = colx[i], L.table_top
      gfx.drawstr(name)
    end
    local visible = math.max(0, math.floor((gfx.h - L.table_top - L.row_h) / L.row_h))
    local max_scroll = math.max(0, #panel.rows - visible)
    if gfx.mouse_wheel ~= 0 then
      ui.scroll = ui.scroll - math.floor(gfx.mouse_wheel / 120 + 0.5) * 3
      gfx.mouse_wheel = 0
    end
    ui.scroll = math.max(0, math.min(ui.scroll, max_scroll))
    for k = 1, visible do
      local row = panel.rows[ui.scroll + k]
      if not row then
        break
      end
      local y = L.table_top + k * L.row_h
      if row.id == panel.selected then
        gfx.set(0.25, 0.32, 0.45, 1)
        gfx.rect(0, y - 2, gfx.w, L.row_h, 1)
      end
      gfx.set(0.88, 0.88, 0.88, 1)
      local cells = { row.file, row.check, row.time_text }
      for i, text in ipairs(cells) do
        gfx.x, gfx.y = colx[i], y
        gfx.drawstr(fit(text, colx[i + 1] - colx[i] - 6))
      end
      local rgb = SEVERITY_RGB[row.severity] or { 0.8, 0.8, 0.8 }
      gfx.set(rgb[1], rgb[2], rgb[3], 1)
      gfx.x, gfx.y = colx[4], y
      gfx.drawstr(row.severity)
    end
    local cap = gfx.mouse_cap
    if (cap & 1) == 1 and (ui.prev_cap & 1) == 0 then
      local k = math.floor((gfx.mouse_y - L.table_top) / L.row_h)
      if k >= 1 and k <= visible then
        panel:click(ui.scroll + k)
      end
    elseif (cap & 2) == 2 and (ui.prev_cap & 2) == 0 then
      menu()
    end
    ui.prev_cap = cap
    gfx.update()
    return true
  end

  function ui.close()
    env.set("panel_gfx_dock", tostring(math.floor(gfx.dock(-1))))
    if gfx.w and gfx.w > 0 then
      env.set("panel_gfx_w", tostring(math.floor(gfx.w)))
      env.set("panel_gfx_h", tostring(math.floor(gfx.h)))
    end
    gfx.quit()
  end

  return ui
end

-- Main loop -------------------------------------------------------------------------

open_feed()
local ImGui = load_imgui()
local ui = ImGui and imgui_ui(ImGui) or gfx_ui()

local function cleanup()
  if state.closed then
    return
  end
  state.closed = true
  if state.feed then
    state.feed:close()
    state.feed = nil
  end
  ui.close()
  if reaper.set_action_options then
    reaper.set_action_options(8)
  elseif command_id and command_id > 0 then
    reaper.SetToggleCommandState(section_id, command_id, 0)
    reaper.RefreshToolbar2(section_id, command_id)
  end
end

local function loop()
  if state.closed then
    return
  end
  if state.feed then
    state.feed:poll(reaper.time_precise())
  end
  if ui.frame() then
    reaper.defer(loop)
  else
    cleanup()
  end
end

reaper.atexit(cleanup)
reaper.defer(loop)
