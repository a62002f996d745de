// The Lua scripts of the stats service. Each recorded event is one script: Redis runs it
// atomically, so an event updates all its keys or none, and the dedup key is set in the same
// step (a retried event_id changes nothing). Loaded with ioredis `defineCommand` (EVALSHA,
// falling back to EVAL after a Redis restart). Needs Redis >= 6.2 (ZADD GT, ZRANGE BYSCORE REV).

/**
 * RecordLogin.
 * KEYS: 1 stats:event:<id>, 2 stats:logins, 3 stats:last_login, 4 stats:calls:user, 5 stats:totals
 * ARGV: 1 user id, 2 login time (ms), 3 dedup TTL (ms)
 * Returns 1 when the event id was already recorded (nothing changed), else 0.
 */
export const RECORD_LOGIN = `
if not redis.call('SET', KEYS[1], 'login', 'NX', 'PX', ARGV[3]) then return 1 end
redis.call('ZINCRBY', KEYS[2], 1, ARGV[1])
-- GT: a late, out-of-order login never moves the latest login back in time.
redis.call('ZADD', KEYS[3], 'GT', ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[4], 'NX', 0, ARGV[1])
redis.call('HINCRBY', KEYS[5], 'logins', 1)
return 0
`;

/**
 * RecordServiceCall. The caller picks the keys of the outcome: for an allowed call
 * KEYS[2]/KEYS[3] are stats:calls:service / stats:calls:user, for a denied one
 * stats:denied:service / stats:denied:user.
 * KEYS: 1 stats:event:<id>, 2 per-service zset, 3 per-user zset, 4 stats:calls:user,
 *       5 stats:user:<id>, 6 stats:minute:<yyyymmddHHMM>
 * ARGV: 1 user id, 2 VENTE|ACHAT, 3 count field (vente:allowed, ...), 4 dedup TTL (ms; '0' =
 *       no dedup key, for denials), 5 when the minute bucket expires (ms since the epoch; 0 =
 *       too old for the series), 6 how many calls this record stands for
 * Returns 1 when the event id was already recorded (nothing changed), else 0.
 */
export const RECORD_CALL = `
if ARGV[4] ~= '0' and not redis.call('SET', KEYS[1], 'call', 'NX', 'PX', ARGV[4]) then return 1 end
local n = tonumber(ARGV[6])
redis.call('ZINCRBY', KEYS[2], n, ARGV[2])
redis.call('ZINCRBY', KEYS[3], n, ARGV[1])
-- Every known user is in stats:calls:user, with 0 until a first allowed call.
redis.call('ZADD', KEYS[4], 'NX', 0, ARGV[1])
redis.call('HINCRBY', KEYS[5], ARGV[3], n)
if ARGV[5] ~= '0' then
  redis.call('HINCRBY', KEYS[6], ARGV[3], n)
  redis.call('PEXPIREAT', KEYS[6], ARGV[5])
end
return 0
`;

/**
 * GetDashboard, read only, one consistent snapshot.
 * KEYS: 1 stats:logins, 2 stats:last_login, 3 stats:calls:service, 4 stats:calls:user,
 *       5 stats:denied:service, 6 stats:denied:user, 7 stats:totals,
 *       8.. the minute buckets of the series, oldest first
 * Returns { last_logins, top_connectors, least_service_users, calls per service,
 *           denied per service, top_denied_users, minute rows, total logins, known users },
 * each ranking a flat list member, score, member, score, ...
 *
 * Rankings "most first" break ties by member ascending (byte order: "10" before "9"). Redis
 * orders equal scores by member, ascending in ZRANGE but descending in a REV range, so
 * top_desc walks the distinct scores from the highest and reads each group of equal scores
 * ascending: at most n + 1 O(log N) steps, whatever the number of users.
 */
export const DASHBOARD = `
local function top_desc(key, n)
  local out = {}
  local head = redis.call('ZRANGE', key, '+inf', '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, 1, 'WITHSCORES')
  if #head == 0 then return out end
  local score = head[2]
  while true do
    local group = redis.call('ZRANGE', key, score, score, 'BYSCORE', 'LIMIT', 0, n - #out / 2)
    for _, member in ipairs(group) do
      out[#out + 1] = member
      out[#out + 1] = score
    end
    if #out / 2 >= n then return out end
    local nxt = redis.call('ZRANGE', key, '(' .. score, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, 1, 'WITHSCORES')
    if #nxt == 0 then return out end
    score = nxt[2]
  end
end

local minutes = {}
for i = 8, #KEYS do
  minutes[#minutes + 1] = redis.call('HMGET', KEYS[i], 'vente:allowed', 'achat:allowed', 'vente:denied', 'achat:denied')
end
return {
  top_desc(KEYS[2], 10),
  top_desc(KEYS[1], 3),
  redis.call('ZRANGE', KEYS[4], 0, 9, 'WITHSCORES'),
  redis.call('ZRANGE', KEYS[3], 0, -1, 'WITHSCORES'),
  redis.call('ZRANGE', KEYS[5], 0, -1, 'WITHSCORES'),
  top_desc(KEYS[6], 10),
  minutes,
  redis.call('HGET', KEYS[7], 'logins') or '0',
  redis.call('ZCARD', KEYS[4]),
}
`;

/**
 * ForgetUser: the user's id becomes an anonymous one in every ranking and in its per-user hash,
 * scores and counts unchanged, in one step.
 * KEYS: 1 stats:logins, 2 stats:last_login, 3 stats:calls:user, 4 stats:denied:user,
 *       5 stats:user:<id>, 6 stats:user:<anonymous id>
 * ARGV: 1 user id, 2 anonymous id
 * Returns 1 when the user was known, else 0.
 */
export const FORGET_USER = `
local known = 0
for i = 1, 4 do
  local score = redis.call('ZSCORE', KEYS[i], ARGV[1])
  if score then
    redis.call('ZADD', KEYS[i], score, ARGV[2])
    redis.call('ZREM', KEYS[i], ARGV[1])
    known = 1
  end
end
if redis.call('EXISTS', KEYS[5]) == 1 then
  redis.call('RENAME', KEYS[5], KEYS[6])
  known = 1
end
return known
`;
