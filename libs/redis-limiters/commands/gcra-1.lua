--[[
  GCRA, the generic cell rate algorithm (as in redis-cell): one theoretical arrival time (TAT) per
  key. Each unit pushes the TAT one emission interval (windowMs / limit, in whole µs) further; a
  request is admitted while the pushed TAT stays within burst × interval of now.

  Input:
    KEYS[1]  the TAT: a string, µs since the epoch
    ARGV     see includes/arguments.lua (now, cost, limit, windowMs, burst)

  Output:
    {allowed (1|0), limit (= burst), remaining, resetAfterMs, retryAfterMs, delayMs (0)}
    or {error code} (ScriptErrorCode in src/errors.ts)

  Guarantees:
    - Atomic; one small string per key (the least memory of the six).
    - A refusal writes nothing. The key expires when the TAT has passed.
    - Same arithmetic as src/algorithms/gcra.ts, in the same order.
]]
local rcall = redis.call
--- @include "arguments"

local key = KEYS[1]
local interval = math.floor((windowMs * 1000) / limit)
if interval < 1 then
  return {-1}
end
local tolerance = interval * burst
local tat = nowUs
local stored = rcall('GET', key)
if stored then
  local storedTat = tonumber(stored)
  if storedTat > nowUs then
    tat = storedTat
  end
end
local pushed = tat + interval * cost

if cost > 0 and pushed - nowUs <= tolerance then
  tat = pushed
  local resetAfterMs = math.ceil((tat - nowUs) / 1000)
  rcall('SET', key, string.format('%d', tat))
  rcall('PEXPIREAT', key, math.ceil(tat / 1000))
  return {1, burst, math.floor((tolerance - (tat - nowUs)) / interval), resetAfterMs, 0, 0}
end

local remaining = math.floor((tolerance - (tat - nowUs)) / interval)
local resetAfterMs = math.ceil((tat - nowUs) / 1000)
-- A peek (cost 0) answers as a request of one unit would: refused while the key is blocked.
if cost == 0 and remaining >= 1 then
  return {1, burst, remaining, resetAfterMs, 0, 0}
end
local wanted = tat + interval * math.max(cost, 1)
return {0, burst, remaining, resetAfterMs, math.ceil((wanted - tolerance - nowUs) / 1000), 0}
