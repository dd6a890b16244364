--[[
  Sliding window counter: the current aligned window's count plus the previous window's count
  weighted by the part of it still inside the rolling window:
    used = previous × (windowMs − elapsed) + current × windowMs      (all scaled by windowMs)
  A request is admitted when used + cost × windowMs ≤ limit × windowMs.

  Input:
    KEYS[1]  the counters: a hash with w = current window index, c = its count, p = the previous
             window's count
    ARGV     see includes/arguments.lua (now, cost, limit, windowMs, burst (unused))

  Output:
    {allowed (1|0), limit, remaining, resetAfterMs, retryAfterMs, delayMs (0)}
    or {error code} (ScriptErrorCode in src/errors.ts)

  Guarantees:
    - Atomic. Whole-number arithmetic, so Lua and the twin (src/algorithms/sliding-window-counter.ts)
      agree exactly.
    - A refusal writes nothing. The key expires once both windows have slid past.
]]
local rcall = redis.call
--- @include "arguments"

local key = KEYS[1]
local window = math.floor(nowMs / windowMs)
local current = 0
local previous = 0
local stored = rcall('HMGET', key, 'w', 'c', 'p')
if stored[1] then
  local storedWindow = tonumber(stored[1])
  if storedWindow > window then
    window = storedWindow
  end
  if storedWindow == window then
    current = tonumber(stored[2])
    previous = tonumber(stored[3])
  elseif storedWindow == window - 1 then
    previous = tonumber(stored[2])
  end
end
local elapsed = math.max(0, nowMs - window * windowMs)
local used = previous * (windowMs - elapsed) + current * windowMs
local quota = limit * windowMs
local admitted = cost > 0 and used + cost * windowMs <= quota
if admitted then
  current = current + cost
  used = used + cost * windowMs
end
local remaining = math.max(0, math.floor((quota - used) / windowMs))
-- Both windows have slid past at (window + 2) × windowMs; the current one alone at (window + 1) × windowMs.
local resetAfterMs = 0
if current > 0 then
  resetAfterMs = (window + 2) * windowMs - nowMs
elseif previous > 0 then
  resetAfterMs = (window + 1) * windowMs - nowMs
end

if admitted then
  rcall('HSET', key, 'w', window, 'c', current, 'p', previous)
  rcall('PEXPIREAT', key, (window + 2) * windowMs)
  return {1, limit, remaining, resetAfterMs, 0, 0}
end
-- A peek (cost 0) answers as a request of one unit would: refused while the key is blocked.
if cost == 0 and remaining >= 1 then
  return {1, limit, remaining, resetAfterMs, 0, 0}
end
local wanted = math.max(cost, 1)
local retryAfterMs
if limit - current - wanted >= 0 then
  -- Wait inside this window until the previous window's weight has shrunk enough.
  retryAfterMs = windowMs - math.floor(((limit - current - wanted) * windowMs) / previous) - elapsed
else
  -- Wait for the next window, where this window's count becomes the weighted previous one.
  retryAfterMs = windowMs - elapsed + math.max(0, windowMs - math.floor(((limit - wanted) * windowMs) / current))
end
return {0, limit, remaining, resetAfterMs, retryAfterMs, 0}
