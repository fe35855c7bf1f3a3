-- @noindex
-- loopwatch_json.lua: a small JSON encoder/decoder (library, [nomain]).
--
-- Enough for loopwatch's inbox requests, journal records and
-- `loopwatch client score --json` output: objects, arrays, strings (with
-- \uXXXX escapes and surrogate pairs, decoded to UTF-8), numbers, true,
-- false and null. JSON null decodes to M.null (a sentinel), so arrays keep
-- their positions. Encoding writes object keys in sorted order, integers
-- without a fraction and floats with the shortest "%.Ng" form that reads
-- back to the same double. Lua 5.3/5.4.

local M = {}

M.null = setmetatable({}, { __tostring = function() return "null" end, __name = "json.null" })

local array_mt = { __name = "json.array" }

--- Mark a table as a JSON array (needed for an empty array: {} encodes as an object).
function M.array(t)
  return setmetatable(t or {}, array_mt)
end

local escapes = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}

local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or ("\\u%04x"):format(c:byte())
  end) .. '"'
end

local function encode_number(x)
  if math.type(x) == "integer" then
    return ("%d"):format(x)
  end
  if x ~= x or x == math.huge or x == -math.huge then
    error("JSON cannot represent " .. tostring(x), 3)
  end
  if x == math.floor(x) and math.abs(x) < 2 ^ 53 then
    return ("%.1f"):format(x)
  end
  for _, prec in ipairs({ 15, 16, 17 }) do
    local s = ("%." .. prec .. "g"):format(x)
    if tonumber(s) == x then
      return s
    end
  end
  return ("%.17g"):format(x)
end

local function is_array(t)
  if getmetatable(t) == array_mt then
    return true
  end
  local n = #t
  if n == 0 then
    return false
  end
  local count = 0
  for _ in pairs(t) do
    count = count + 1
  end
  return count == n
end

local encode_value

local function encode_table(t, seen)
  if seen[t] then
    error("JSON cannot encode a table that contains itself", 3)
  end
  seen[t] = true
  local out
  if is_array(t) then
    local parts = {}
    for i = 1, #t do
      parts[i] = encode_value(t[i], seen)
    end
    out = "[" .. table.concat(parts, ",") .. "]"
  else
    local keys = {}
    for k in pairs(t) do
      if type(k) ~= "string" then
        error("JSON object keys must be strings, got " .. type(k), 3)
      end
      keys[#keys + 1] = k
    end
    table.sort(keys)
    local parts = {}
    for i, k in ipairs(keys) do
      parts[i] = encode_string(k) .. ":" .. encode_value(t[k], seen)
    end
    out = "{" .. table.concat(parts, ",") .. "}"
  end
  seen[t] = nil
  return out
end

encode_value = function(v, seen)
  local tv = type(v)
  if v == nil or v == M.null then
    return "null"
  elseif tv == "boolean" then
    return v and "true" or "false"
  elseif tv == "number" then
    return encode_number(v)
  elseif tv == "string" then
    return encode_string(v)
  elseif tv == "table" then
    return encode_table(v, seen)
  end
  error("JSON cannot encode a " .. tv, 3)
end

--- Encode a Lua value as JSON text.
function M.encode(v)
  return encode_value(v, {})
end

-- Decoder -------------------------------------------------------------------

local function utf8_char(cp)
  return utf8.char(cp)
end

local decode_value

local function skip_ws(s, i)
  return s:find("[^ \t\r\n]", i) or #s + 1
end

local function decode_error(s, i, msg)
  return nil, ("%s at character %d"):format(msg, i)
end

local function decode_string(s, i)
  -- s:sub(i, i) == '"'
  local out = {}
  local j = i + 1
  while true do
    local k = s:find('["\\%c]', j)
    if not k then
      return decode_error(s, i, "unterminated string")
    end
    out[#out + 1] = s:sub(j, k - 1)
    local c = s:sub(k, k)
    if c == '"' then
      return table.concat(out), k + 1
    elseif c == "\\" then
      local e = s:sub(k + 1, k + 1)
      local simple = ({ ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" })[e]
      if simple then
        out[#out + 1] = simple
        j = k + 2
      elseif e == "u" then
        local hex = s:sub(k + 2, k + 5)
        if not hex:match("^%x%x%x%x$") then
          return decode_error(s, k, "bad \\u escape")
        end
        local cp = tonumber(hex, 16)
        j = k + 6
        if cp >= 0xD800 and cp <= 0xDBFF then
          local lo = s:match("^\\u(%x%x%x%x)", j)
          local lcp = lo and tonumber(lo, 16)
          if lcp and lcp >= 0xDC00 and lcp <= 0xDFFF then
            cp = 0x10000 + (cp - 0xD800) * 0x400 + (lcp - 0xDC00)
            j = j + 6
          else
            cp = 0xFFFD
          end
        elseif cp >= 0xDC00 and cp <= 0xDFFF then
          cp = 0xFFFD
        end
        out[#out + 1] = utf8_char(cp)
      else
        return decode_error(s, k, "bad escape")
      end
    else
      return decode_error(s, k, "control character in string")
    end
  end
end

local function decode_number(s, i)
  local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", i)
  if not num or num == "" or num == "-" then
    return decode_error(s, i, "bad number")
  end
  -- Strict JSON shape check.
  if not (num:match("^-?0$") or num:match("^-?[1-9]%d*$")
      or num:match("^-?0%.%d+$") or num:match("^-?[1-9]%d*%.%d+$")
      or num:match("^-?0[eE][-+]?%d+$") or num:match("^-?[1-9]%d*[eE][-+]?%d+$")
      or num:match("^-?0%.%d+[eE][-+]?%d+$") or num:match("^-?[1-9]%d*%.%d+[eE][-+]?%d+$")) then
    return decode_error(s, i, "bad number")
  end
  local v
  if num:find("[.eE]") then
    v = tonumber(num) + 0.0
  else
    v = math.tointeger(tonumber(num)) or tonumber(num)
  end
  return v, i + #num
end

decode_value = function(s, i, depth)
  if depth > 200 then
    return decode_error(s, i, "nesting too deep")
  end
  i = skip_ws(s, i)
  local c = s:sub(i, i)
  if c == "{" then
    local obj = {}
    i = skip_ws(s, i + 1)
    if s:sub(i, i) == "}" then
      return obj, i + 1
    end
    while true do
      i = skip_ws(s, i)
      if s:sub(i, i) ~= '"' then
        return decode_error(s, i, "expected a string key")
      end
      local key, err
      key, i = decode_string(s, i)
      if not key then
        return nil, i
      end
      i = skip_ws(s, i)
      if s:sub(i, i) ~= ":" then
        return decode_error(s, i, "expected ':'")
      end
      local val
      val, err = decode_value(s, i + 1, depth + 1)
      if val == nil then
        return nil, err
      end
      obj[key] = val
      i = skip_ws(s, err)
      local d = s:sub(i, i)
      if d == "," then
        i = i + 1
      elseif d == "}" then
        return obj, i + 1
      else
        return decode_error(s, i, "expected ',' or '}'")
      end
    end
  elseif c == "[" then
    local arr = M.array({})
    i = skip_ws(s, i + 1)
    if s:sub(i, i) == "]" then
      return arr, i + 1
    end
    while true do
      local val, nxt = decode_value(s, i, depth + 1)
      if val == nil then
        return nil, nxt
      end
      arr[#arr + 1] = val
      i = skip_ws(s, nxt)
      local d = s:sub(i, i)
      if d == "," then
        i = i + 1
      elseif d == "]" then
        return arr, i + 1
      else
        return decode_error(s, i, "expected ',' or ']'")
      end
    end
  elseif c == '"' then
    return decode_string(s, i)
  elseif c == "-" or c:match("%d") then
    return decode_number(s, i)
  elseif s:sub(i, i + 3) == "true" then
    return true, i + 4
  elseif s:sub(i, i + 4) == "false" then
    return false, i + 5
  elseif s:sub(i, i + 3) == "null" then
    return M.null, i + 4
  elseif c == "" then
    return decode_error(s, i, "unexpected end of text")
  end
  return decode_error(s, i, "unexpected character '" .. c .. "'")
end

--- Decode JSON text.
-- @return value          on success (null at the top level gives M.null)
-- @return nil, message   on malformed text
function M.decode(s)
  if type(s) ~= "string" then
    return nil, "JSON text must be a string"
  end
  local v, nxt = decode_value(s, 1, 0)
  if v == nil then
    return nil, nxt
  end
  nxt = skip_ws(s, nxt)
  if nxt <= #s then
    return decode_error(s, nxt, "trailing characters")
  end
  return v
end

return M
