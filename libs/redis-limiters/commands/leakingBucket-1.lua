--[[
  Leaking bucket, as a meter: a queue of `burst` places draining at `limit` units per `windowMs`.
  A request that fits joins the queue and is told how long it waits before it leaves at the fixed
  rate (delayMs); one that does not fit is refused.

  Input:
    KEYS[1]  the bucket: a hash with q = queued units × windowMs and t = the time q was measured (ms)
    ARGV     see includes/arguments.lua (now, cost, limit, windowMs, burst)

  Output:
    {allowed (1|0), limit (= burst), remaining, resetAfterMs, retryAfterMs, delayMs}
    or {error code} (ScriptErrorCode in src/errors.ts)

  Guarantees:
    - Atomic: the queue never holds more than `burst` units, whatever the concurrency.
    - A refusal writes nothing. The key expires when the queue has drained.
    - Same arithmetic as src/algorithms/leaking-bucket.ts, in the same order.
]]
local rcall = redis.call
--- @include "arguments"

local key = KEYS[1]
local capacity = burst * windowMs
local level = 0
local last = nowMs
local stored = rcall('HMGET', key, 'q', 't')
if stored[1] then
  level = tonumber(stored[1])
  last = tonumber(stored[2])
end
local now = math.max(nowMs, last)
level = math.max(0, level - (now - last) * limit)
local need = cost * windowMs

if cost > 0 and level + need <= capacity then
  local delayMs = math.ceil(level / limit)
  level = level + need
  local resetAfterMs = math.ceil(level / limit)
  rcall('HSET', key, 'q', level, 't', now)
  rcall('PEXPIREAT', key, now + resetAfterMs)
  return {1, burst, math.floor((capacity - level) / windowMs), resetAfterMs, 0, delayMs}
end

local remaining = math.floor((capacity - level) / windowMs)
local resetAfterMs = math.ceil(level / limit)
-- A peek (cost 0) answers as a request of one unit would: refused while the key is blocked.
if cost == 0 and remaining >= 1 then
  return {1, burst, remaining, resetAfterMs, 0, 0}
end
return {0, burst, remaining, resetAfterMs, math.ceil((level + math.max(cost, 1) * windowMs - capacity) / limit), 0}
