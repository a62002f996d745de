// The naive baseline the targets compare against: the same exact sliding window kept
// as a sorted-set log (one member per admitted event, scored by its time in µs). Same KEYS and
// ARGV as the project's script (services/limiter/src/sliding-window-script.ts; ARGV[4] is
// ignored), same reply, so redis-benchmark and the memory phase call both the same way.
// Reference only: the service never runs it.
export const SORTED_SET_LUA = `
local limit = tonumber(ARGV[1])
local window_ms = tonumber(ARGV[2])
local window = window_ms * 1000
local cost = tonumber(ARGV[3])
local peek = cost == 0
if peek then cost = 1 end
local clock = redis.call('TIME')
local now = clock[1] * 1000000 + clock[2]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
local reset = 0
if n > 0 then
  local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  reset = math.ceil((tonumber(newest[2]) + window - now) / 1000)
end
if n + cost > limit then
  -- the (limit - cost + 1)-th newest event must leave the window
  local t = redis.call('ZRANGE', KEYS[1], n - (limit - cost + 1), n - (limit - cost + 1), 'WITHSCORES')
  return {0, limit - n, math.ceil((tonumber(t[2]) + window - now) / 1000), reset, now}
end
if peek then return {1, limit - n, 0, reset, now} end
local args = {}
for i = 1, cost do
  args[#args + 1] = now
  args[#args + 1] = now .. '-' .. (n + i)
end
redis.call('ZADD', KEYS[1], unpack(args))
redis.call('PEXPIRE', KEYS[1], window_ms)
return {1, limit - n - cost, 0, window_ms, now}
`;
