--[[
  The arguments every limiter script takes, checked and named. Inlined at the top of each
  script (after `local rcall`), so its early returns end the script.

    ARGV[1]  now in ms since the epoch, or '' to use the Redis server clock (production: every
             limiter instance then agrees on the time, whatever its own clock says). Keys expire
             on the decision's clock (PEXPIREAT now + ttl): a replayed schedule must therefore
             run ahead of the server clock, or its keys expire as they are written.
    ARGV[2]  cost: units this request consumes (0 peeks: consumes nothing, answers as a cost of 1 would)
    ARGV[3]  limit: units per window (the refill or outflow rate of the buckets)
    ARGV[4]  windowMs
    ARGV[5]  burst: capacity of the buckets (equal to limit for the window algorithms)

  Defines: cost, limit, windowMs, burst, nowUs, nowMs. Returns {-1} (INVALID_ARGUMENT) for a bad
  slot and {-2} (COST_EXCEEDS_LIMIT) for a cost above the capacity.
]]
local MAX_LIMIT = 1000000
local MAX_WINDOW_MS = 2678400000

local function wholeNumber(value, min, max)
  local number = tonumber(value)
  if number == nil or number ~= math.floor(number) or number < min or number > max then
    return nil
  end
  return number
end

local cost = wholeNumber(ARGV[2], 0, MAX_LIMIT)
local limit = wholeNumber(ARGV[3], 1, MAX_LIMIT)
local windowMs = wholeNumber(ARGV[4], 1, MAX_WINDOW_MS)
local burst = wholeNumber(ARGV[5], 1, MAX_LIMIT)
if cost == nil or limit == nil or windowMs == nil or burst == nil then
  return {-1}
end
if cost > burst then
  return {-2}
end

local nowUs
if ARGV[1] ~= '' then
  local givenMs = wholeNumber(ARGV[1], 0, 9000000000000)
  if givenMs == nil then
    return {-1}
  end
  nowUs = givenMs * 1000
else
  -- Redis before 5 replicates scripts verbatim and refuses writes after TIME unless told to
  -- replicate effects; from 5 on this is the default and the call is a no-op.
  if redis.replicate_commands ~= nil then
    redis.replicate_commands()
  end
  local time = rcall('TIME')
  nowUs = tonumber(time[1]) * 1000000 + tonumber(time[2])
end
local nowMs = math.floor(nowUs / 1000)
