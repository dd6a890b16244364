--[[
  Token bucket: admits a request when the bucket holds `cost` tokens, and takes them. The bucket
  holds up to `burst` tokens and refills continuously at `limit` tokens per `windowMs`.

  Input:
    KEYS[1]  the bucket: a hash with s = tokens × windowMs (a whole number, so the refill
             `elapsed × limit` is exact) and t = the time s was counted at (ms)
    ARGV     see includes/arguments.lua (now, cost, limit, windowMs, burst)

  Output:
    {allowed (1|0), limit (= burst), remaining, resetAfterMs, retryAfterMs, delayMs (0)}
    or {error code} (ScriptErrorCode in src/errors.ts)

  Guarantees:
    - Atomic: concurrent callers on any number of clients never take more tokens than exist.
    - A refusal writes nothing.
    - The key expires when the bucket would be full again: an idle identity costs no memory.
    - Same arithmetic as src/algorithms/token-bucket.ts (the in-memory twin), in the same order.
]]
local rcall = redis.call
--- @include "arguments"

local key = KEYS[1]
local full = burst * windowMs
local tokens = full
local last = nowMs
local stored = rcall('HMGET', key, 's', 't')
if stored[1] then
  tokens = tonumber(stored[1])
  last = tonumber(stored[2])
end
-- Time never runs backwards for one bucket: a clock behind the stored time counts as no time passed.
local now = math.max(nowMs, last)
tokens = math.min(full, tokens + (now - last) * limit)
local need = cost * windowMs

if cost > 0 and need <= tokens then
  tokens = tokens - need
  local resetAfterMs = math.ceil((full - tokens) / limit)
  rcall('HSET', key, 's', tokens, 't', now)
  rcall('PEXPIREAT', key, now + resetAfterMs)
  return {1, burst, math.floor(tokens / windowMs), resetAfterMs, 0, 0}
end

local remaining = math.floor(tokens / windowMs)
local resetAfterMs = math.ceil((full - tokens) / limit)
-- A peek (cost 0) answers as a request of one unit would: refused while the key is blocked.
if cost == 0 and remaining >= 1 then
  return {1, burst, remaining, resetAfterMs, 0, 0}
end
return {0, burst, remaining, resetAfterMs, math.ceil((math.max(cost, 1) * windowMs - tokens) / limit), 0}
