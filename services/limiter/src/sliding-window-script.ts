// The limiter's one Lua script (Redis >= 7.0: Lua 5.1 with the `struct` library). Kept as a
// TypeScript string so that it ships with tsc's output and is found the same way from src/
// under jest and from dist/ at run time. sliding-window.ts calls it; README.md explains it.
//
// Storage: ONE string per (policy, subject), a packed log of the subject's last admitted
// events, oldest first, never more than `limit` of them:
//
//   byte  1        w     width in bytes of one offset (chosen from the window: 256^w > 2 x window)
//   bytes 2..8     B     base time, µs since the epoch (Redis TIME), big-endian
//   then n x w     o1..on  event i happened at B + oi (µs), big-endian, o1 <= o2 <= ... <= on
//
// Admitting appends `cost` offsets (several events in one microsecond are several entries) and
// drops, from the front, the entries that have left the window; a denied call writes nothing.
// When the newest offset would not fit in w bytes, the log is rewritten on a new base (the
// oldest entry still counted), at most once per window of activity.
//
// One call decides one or many (policy, subject) pairs, in order, at one Redis instant (TIME is
// read once): a lone Consume is a call with one key, a ConsumeBatch one call with all its keys,
// which spares the per-command cost of EVALSHA for every decision. On Redis Cluster a call's
// keys must share a slot: the caller then groups keys by slot (one call per slot).
export const SLIDING_WINDOW_LUA = `
-- KEYS[i]  rl:{<policy>:<subject>}, one per decision, decided in order
-- ARGV     4 per key: limit L, window in ms, cost c (1..L, or 0 for a peek: decides a cost of
--          1, writes nothing; all-or-nothing calls also take L = 0 and c > L: never admitted),
--          offset format for this window '>Iw' (256^w > 2 x window in µs);
--          then, for an all-or-nothing call, one more: a flag per key, 'e' (enforced) or 's'
--          (shadow: reported, never blocks the others, counted only when it fits)
-- returns  6 numbers per key: allowed 0|1 (-1 = that key holds another type: nothing done),
--          remaining, retry_after_ms, reset_after_ms, now in µs, next_release_ms
local clock = redis.call('TIME')
local t0 = clock[1] * 1000000 + clock[2]

-- cost < 0 decides a cost of -cost without writing (the all-or-nothing check below)
local function decide(key, limit, window, cost, fmt)
  local w = string.byte(fmt, 3) - 48
  local peek = cost <= 0
  if peek then cost = math.max(-cost, 1) end
  local now = t0
  local raw = redis.pcall('GET', key)
  if type(raw) == 'table' then return -1, 0, 0, 0, now, 0 end
  local base, sw, sfmt, len, first, count, newest = now, w, fmt, 8, 9, 0, 0
  if raw then
    sw, base = struct.unpack('>BI7', raw)
    if sw ~= w then sfmt = '>I' .. sw end
    len = #raw
    newest = base + struct.unpack(sfmt, raw, len - sw + 1)
    -- a Redis clock stepped backwards never makes time run backwards for a subject
    if now < newest then now = newest end
    -- counted: the newest limit entries whose time is in (now - window, now]
    first = len + 1 - limit * sw
    if first < 9 then first = 9 end
    local cut = now - window - base
    while first <= len and struct.unpack(sfmt, raw, first) <= cut do first = first + sw end
    count = (len + 1 - first) / sw
  end
  -- when the oldest counted event leaves the window (one more event frees up)
  local nextr = 0
  if count > 0 then nextr = math.ceil((base + struct.unpack(sfmt, raw, first) + window - now) / 1000) end

  if count + cost > limit then
    -- denied: it fits once the (limit - cost + 1)-th newest event has left the window
    local t = base + struct.unpack(sfmt, raw, len + 1 - (limit - cost + 1) * sw)
    return 0, limit - count, math.ceil((t + window - now) / 1000), math.ceil((newest + window - now) / 1000), now, nextr
  end
  if peek then
    local reset = 0
    if count > 0 then reset = math.ceil((newest + window - now) / 1000) end
    return 1, limit - count, 0, reset, now, nextr
  end

  local value
  local offset = now - base
  if count == 0 then
    -- a fresh log based at now; the new event is the oldest counted one
    nextr = window / 1000
    value = struct.pack('>BI7', w, now) .. string.rep(struct.pack(fmt, 0), cost)
  elseif sw == w and offset < 256 ^ w then
    -- the common case: append, after dropping the entries that left the window
    local added = struct.pack(fmt, offset)
    if cost > 1 then added = string.rep(added, cost) end
    if first == 9 then
      value = raw .. added
    else
      value = string.sub(raw, 1, 8) .. string.sub(raw, first) .. added
    end
  else
    -- rebase on the oldest counted event: every offset is then < window
    local oldest = base + struct.unpack(sfmt, raw, first)
    local parts = {struct.pack('>BI7', w, oldest)}
    for pos = first, len, sw do
      parts[#parts + 1] = struct.pack(fmt, base + struct.unpack(sfmt, raw, pos) - oldest)
    end
    parts[#parts + 1] = string.rep(struct.pack(fmt, now - oldest), cost)
    value = table.concat(parts)
  end
  -- expire once the newest event has left the window: at (now + window) rounded up to the ms
  redis.call('SET', key, value, 'PXAT', math.ceil((now + window) / 1000))
  return 1, limit - count - cost, 0, window / 1000, now, nextr
end

local n = #KEYS
if #ARGV > n * 4 then
  -- all or nothing (one Envoy request): check every key first, counting what earlier keys of
  -- this call would add to the same key; write only when no enforced key is over its limit
  local flags, out, pending, over = ARGV[#ARGV], {}, {}, false
  for i = 1, n do
    local a = (i - 1) * 4
    local key, limit, window, cost, fmt = KEYS[i], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]) * 1000, tonumber(ARGV[a + 3]), ARGV[a + 4]
    local p = pending[key] or 0
    local r
    if limit == 0 then
      -- refuses everything, reads nothing
      r = {0, 0, window / 1000, 0, t0, 0}
    elseif p + math.max(cost, 1) > limit then
      -- over only because of this call's earlier keys: it never fits in this call
      r = {decide(key, limit, window, 0, fmt)}
      if r[1] == 1 then r[1], r[3] = 0, math.max(r[4], window / 1000) end
    else
      r = {decide(key, limit, window, -(p + math.max(cost, 1)), fmt)}
    end
    r[2] = math.max(r[2] - p, 0)
    if r[1] == 1 then
      if cost > 0 then pending[key] = p + cost end
    elseif r[1] == -1 or string.sub(flags, i, i) == 'e' then
      over = true
    end
    out[i] = r
  end
  if not over then
    for i = 1, n do
      local a = (i - 1) * 4
      local cost = tonumber(ARGV[a + 3])
      if cost > 0 and out[i][1] == 1 then
        out[i] = {decide(KEYS[i], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]) * 1000, cost, ARGV[a + 4])}
      end
    end
  end
  local flat = {}
  for i = 1, n do
    for j = 1, 6 do flat[(i - 1) * 6 + j] = out[i][j] end
  end
  return flat
end

-- a lone decision (every Consume, Peek) skips the batch bookkeeping
if n == 1 then return {decide(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]) * 1000, tonumber(ARGV[3]), ARGV[4])} end
local out = {}
for i = 1, n do
  local a = (i - 1) * 4
  local r1, r2, r3, r4, r5, r6 = decide(KEYS[i], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]) * 1000, tonumber(ARGV[a + 3]), ARGV[a + 4])
  local o = (i - 1) * 6
  out[o + 1], out[o + 2], out[o + 3], out[o + 4], out[o + 5], out[o + 6] = r1, r2, r3, r4, r5, r6
end
return out
`;
