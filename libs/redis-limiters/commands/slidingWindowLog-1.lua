--[[
  Sliding window log: the time of every admitted unit in the rolling window (now − windowMs, now].
  A request is admitted when the log has room for its cost. Exact; one member per admitted unit.
  Refused requests are not logged, so a flood neither grows the log nor prolongs the lockout.

  Input:
    KEYS[1]  the log: a sorted set, score = admission time (ms), member = '<time>:<n>' where n is
             the member's rank when added (unique: within one time the count only grows, and time
             never runs backwards for one log)
    ARGV     see includes/arguments.lua (now, cost, limit, windowMs, burst (unused))

  Output:
    {allowed (1|0), limit, remaining, resetAfterMs, retryAfterMs, delayMs (0)}
    or {error code} (ScriptErrorCode in src/errors.ts)

  Guarantees:
    - Atomic: no rolling window ever holds more than `limit` admitted units.
    - The key expires windowMs after its newest entry.
    - Same decisions as src/algorithms/sliding-window-log.ts.
]]
local rcall = redis.call
--- @include "arguments"

local key = KEYS[1]
local now = nowMs
local newest = rcall('ZRANGE', key, -1, -1, 'WITHSCORES')
if newest[2] and tonumber(newest[2]) > now then
  now = tonumber(newest[2])
end
rcall('ZREMRANGEBYSCORE', key, '-inf', now - windowMs)
local count = rcall('ZCARD', key)

if cost > 0 and count + cost <= limit then
  for unit = 1, cost do
    rcall('ZADD', key, now, string.format('%d:%d', now, count + unit))
  end
  rcall('PEXPIREAT', key, now + windowMs)
  return {1, limit, limit - count - cost, windowMs, 0, 0}
end

local resetAfterMs = 0
if count > 0 then
  local last = rcall('ZRANGE', key, -1, -1, 'WITHSCORES')
  resetAfterMs = tonumber(last[2]) + windowMs - now
end
-- A peek (cost 0) answers as a request of one unit would: refused while the key is blocked.
if cost == 0 and limit - count >= 1 then
  return {1, limit, limit - count, resetAfterMs, 0, 0}
end
local wanted = math.max(cost, 1)
-- The request fits once the oldest (count + wanted − limit) units have left the window.
local blocking = rcall('ZRANGE', key, count + wanted - limit - 1, count + wanted - limit - 1, 'WITHSCORES')
return {0, limit, limit - count, resetAfterMs, tonumber(blocking[2]) + windowMs - now, 0}
