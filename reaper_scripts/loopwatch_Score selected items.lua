-- @description loopwatch: Score selected items (and alerts panel)
-- @author loopwatch
-- @version 0.1.0
-- @changelog
--   First release: score selected items through the loopwatch daemon (OSC, inbox or
--   `loopwatch client`), take markers and item colours; dockable alerts panel.
-- @provides
--   [main] loopwatch_Alerts panel.lua
--   [nomain] lib/loopwatch_osc.lua
--   [nomain] lib/loopwatch_json.lua
--   [nomain] lib/loopwatch_env.lua
--   [nomain] lib/loopwatch_items.lua
--   [nomain] lib/loopwatch_journal.lua
--   [nomain] lib/loopwatch_score.lua
--   [nomain] lib/loopwatch_panel.lua
-- @about
--   # loopwatch for REAPER
--
--   Two actions that connect REAPER to loopwatch, a quality-control daemon for
--   music loops (`loopwatch watch`, a Python program installed separately).
--
--   **loopwatch: Score selected items** sends the visible part of each selected
--   audio item (section offset, take start offset and playrate respected) to the
--   daemon. Problems come back as take markers named "loopwatch: <check>
--   (<severity>)" at the problem times, the item is coloured by its verdict
--   (green ok, orange warn, red error, grey failed), and a summary goes to the
--   ReaScript console. One undo point covers all changes; running it again
--   replaces the previous loopwatch markers of each take.
--
--   **loopwatch: Alerts panel** is a dockable window listing the daemon's alerts
--   (file, check, time, severity) as they arrive. Clicking one selects the item
--   that plays that file at that time, moves the edit cursor there and scrolls
--   there. Run the action again to close it.
--
--   ## Dependencies (all optional)
--
--   * **LuaSocket** (ReaPack package "Mavriq Lua Sockets" from the Mavriq
--     repository): OSC over UDP, the fastest path. Without it, scoring uses
--     the daemon's inbox folder and journal file, and the panel follows the
--     journal file; both work without any extension.
--   * **ReaImGui** (ReaTeam Extensions, 0.9 or newer): the panel's window.
--     Without it the panel draws with REAPER's built-in gfx window, which
--     docks too (right-click it for the menu).
--   * Last resort for scoring when the daemon does not answer: the script runs
--     `loopwatch client score --json` in the background (set the full path
--     of the loopwatch executable in the panel's settings if REAPER does not
--     find it on its PATH).
--
--   Settings (ports, transports, data folder) are kept in REAPER's ExtState,
--   section "loopwatch"; the panel has a settings view to edit them.

local script_path = ({ reaper.get_action_context() })[2] or ""
local script_dir = script_path:match("^(.*[/\\])") or ""
package.path = script_dir .. "lib/?.lua;" .. package.path

local score = require("loopwatch_score")

score.main()
