-- A stand-in for ReaImGui's imgui.lua (`require 'imgui' '0.9'`), for tests.
-- Only the functions and constants the alerts panel uses exist (accessing any
-- other name is an error, as with the real module); each checks its argument
-- types against ReaImGui's signatures. Selectable returns true once for the
-- label named by the scenario's "imgui_click" (a prefix), which is how a test
-- clicks a row. Begin reports the window closed after "imgui_close_after"
-- frames when the scenario sets it.

local S = require("reaper_stub")

local function check(cond, what)
  if not cond then
    error("imgui stub: bad arguments to " .. what, 3)
  end
end

local function is_ctx(ctx)
  return type(ctx) == "table" and ctx.label ~= nil
end

local function num(v)
  return type(v) == "number"
end

local function opt_int(v)
  return v == nil or math.type(v) == "integer"
end

return function(version)
  check(version == "0.9", "require 'imgui' (this stub models API version 0.9)")
  local st = S.imgui
  local sc = S.sc
  local ImGui = {
    Cond_FirstUseEver = 4,
    TableFlags_Borders = 1920,
    TableFlags_RowBg = 64,
    TableFlags_ScrollY = 33554432,
    TableFlags_Resizable = 1,
    SelectableFlags_SpanAllColumns = 2,
  }
  local function call(name)
    st.calls[name] = (st.calls[name] or 0) + 1
  end
  function ImGui.CreateContext(label, flags)
    check(type(label) == "string" and opt_int(flags), "CreateContext(label, config_flags?)")
    call("CreateContext")
    return { label = label }
  end
  function ImGui.SetNextWindowDockID(ctx, id, cond)
    check(is_ctx(ctx) and math.type(id) == "integer" and opt_int(cond), "SetNextWindowDockID")
    st.dock_id = id
  end
  function ImGui.SetNextWindowSize(ctx, w, h, cond)
    check(is_ctx(ctx) and num(w) and num(h) and opt_int(cond), "SetNextWindowSize")
  end
  function ImGui.Begin(ctx, name, open, flags)
    check(is_ctx(ctx) and type(name) == "string" and (open == nil or type(open) == "boolean") and opt_int(flags),
      "Begin(ctx, name, p_open?, flags?)")
    st.frames = st.frames + 1
    st.in_window = true
    if sc.imgui_close_after and st.frames > sc.imgui_close_after then
      st.in_window = false
      return false, false
    end
    return true, true
  end
  function ImGui.End(ctx)
    check(is_ctx(ctx) and st.in_window, "End (only after a visible Begin)")
    st.in_window = false
  end
  function ImGui.TextWrapped(ctx, text)
    check(is_ctx(ctx) and type(text) == "string", "TextWrapped(ctx, text)")
    st.last_text = text
  end
  function ImGui.Text(ctx, text)
    check(is_ctx(ctx) and type(text) == "string", "Text(ctx, text)")
  end
  function ImGui.TextColored(ctx, col, text)
    check(is_ctx(ctx) and math.type(col) == "integer" and type(text) == "string", "TextColored(ctx, col_rgba, text)")
  end
  function ImGui.Button(ctx, label, w, h)
    check(is_ctx(ctx) and type(label) == "string", "Button(ctx, label, w?, h?)")
    return sc.imgui_button ~= nil and sc.imgui_button == label and st.frames == (sc.imgui_button_frame or 2)
  end
  function ImGui.SameLine(ctx, x, spacing)
    check(is_ctx(ctx), "SameLine")
  end
  function ImGui.IsWindowDocked(ctx)
    check(is_ctx(ctx), "IsWindowDocked")
    return false
  end
  function ImGui.InputText(ctx, label, buf, flags, callback)
    check(is_ctx(ctx) and type(label) == "string" and type(buf) == "string" and opt_int(flags), "InputText")
    return false, buf
  end
  function ImGui.RadioButton(ctx, label, active)
    check(is_ctx(ctx) and type(label) == "string" and type(active) == "boolean", "RadioButton")
    return false
  end
  function ImGui.Separator(ctx)
    check(is_ctx(ctx), "Separator")
  end
  function ImGui.BeginTable(ctx, id, columns, flags, ow, oh, iw)
    check(is_ctx(ctx) and type(id) == "string" and math.type(columns) == "integer" and opt_int(flags), "BeginTable")
    st.in_table = true
    return true
  end
  function ImGui.EndTable(ctx)
    check(is_ctx(ctx) and st.in_table, "EndTable")
    st.in_table = false
  end
  function ImGui.TableSetupScrollFreeze(ctx, cols, rows)
    check(is_ctx(ctx) and math.type(cols) == "integer" and math.type(rows) == "integer", "TableSetupScrollFreeze")
  end
  function ImGui.TableSetupColumn(ctx, label, flags, w, id)
    check(is_ctx(ctx) and type(label) == "string" and opt_int(flags), "TableSetupColumn")
  end
  function ImGui.TableHeadersRow(ctx)
    check(is_ctx(ctx) and st.in_table, "TableHeadersRow")
    st.rows_this_frame = {}
  end
  function ImGui.TableNextRow(ctx, flags, h)
    check(is_ctx(ctx) and st.in_table and opt_int(flags), "TableNextRow")
  end
  function ImGui.TableNextColumn(ctx)
    check(is_ctx(ctx) and st.in_table, "TableNextColumn")
    return true
  end
  function ImGui.Selectable(ctx, label, selected, flags, w, h)
    check(is_ctx(ctx) and type(label) == "string" and (selected == nil or type(selected) == "boolean")
      and opt_int(flags), "Selectable(ctx, label, selected?, flags?)")
    st.rows_this_frame[#st.rows_this_frame + 1] = label
    st.labels[label] = true
    local want = sc.imgui_click
    if want and not st.clicked and label:sub(1, #want) == want then
      st.clicked = true
      st.clicks[#st.clicks + 1] = label
      return true
    end
    return false
  end
  function ImGui.IsItemHovered(ctx, flags)
    check(is_ctx(ctx) and opt_int(flags), "IsItemHovered")
    return false
  end
  function ImGui.SetTooltip(ctx, text)
    check(is_ctx(ctx) and type(text) == "string", "SetTooltip")
  end
  return setmetatable(ImGui, {
    __index = function(_, key)
      error(("imgui stub: attempt to access a nil value (field '%s')"):format(key), 2)
    end,
  })
end
