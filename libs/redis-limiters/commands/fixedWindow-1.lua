--[[
  Fixed window counter: at most `limit` units per window aligned on multiples of `windowMs`.

  Input:
    KEYS[1]  the counter: a hash with w = the window's index (floor(time / windowMs)) and c = its count
    ARGV     see includes/arguments.lua (now, cost, limit, windowMs, burst (unused))

  Output:
    {allowed (1|0), limit, remaining, resetAfterMs, retryAfterMs, delayMs (0)}
    or {error code} (ScriptErrorCode in src/errors.ts)

  Guarantees:
    - Atomic: a window never admits more than `limit`. (Two adjacent windows may admit 2 × limit
      within windowMs of each other: the algorithm's known edge burst.)
    - A refusal writes nothing. The key expires at the end of its window.
    - Same arithmetic as src/algorithms/fixed-window.ts, in the same order.
]]
local rcall = redis.call
--- @include "arguments"

local key = KEYS[1]
local window = math.floor(nowMs / windowMs)
local count = 0
local stored = rcall('HMGET', key, 'w', 'c')
if stored[1] then
  local storedWindow = tonumber(stored[1])
  if storedWindow > window then
    window = storedWindow
  end
  if storedWindow == window then
    count = tonumber(stored[2])
  end
end
local windowEndsInMs = (window + 1) * windowMs - nowMs

if cost > 0 and count + cost <= limit then
  count = count + cost
  rcall('HSET', key, 'w', window, 'c', count)
  rcall('PEXPIREAT', key, nowMs + windowEndsInMs)
  return {1, limit, limit - count, windowEndsInMs, 0, 0}
end

local resetAfterMs = 0
if count > 0 then
  resetAfterMs = windowEndsInMs
end
-- A peek (cost 0) answers as a request of one unit would: refused while the key is blocked.
if cost == 0 and limit - count >= 1 then
  return {1, limit, limit - count, resetAfterMs, 0, 0}
end
return {0, limit, limit - count, resetAfterMs, windowEndsInMs, 0}
