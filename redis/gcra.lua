-- One GCRA step (see ratelimit.Rate.GCRA), atomic because Redis runs a
-- script alone, on the server's clock so that node clocks do not matter.
--
-- KEYS[1]  the limiter key; its value is the theoretical arrival time (TAT)
--          in microseconds of server time
-- ARGV[1]  emission interval in microseconds (Period/Limit, at least 1)
-- ARGV[2]  burst (requests allowed at once by a fresh key)
--
-- Returns {1, 0} when allowed, {0, retry-after in microseconds} when not.
-- All numbers stay below 2^53, so Lua's doubles hold them exactly, and
-- those passed back to Redis are formatted here: Redis's own conversion of
-- a Lua number may give "1.7e+15".

-- Redis < 5 refuses writes after TIME without effects replication; later
-- versions always replicate effects (and keep this as a no-op).
if redis.replicate_commands then
  redis.replicate_commands()
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])

local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then
  tat = now
end
local next_tat = tat + interval
local allow_at = next_tat - burst * interval
if allow_at > now then
  return {0, allow_at - now}
end
-- The key lapses with its limit: once next_tat has passed, a missing key
-- and a stored one mean the same.
redis.call('SET', KEYS[1], string.format('%.0f', next_tat),
  'PX', string.format('%.0f', math.ceil((next_tat - now) / 1000)))
return {1, 0}
