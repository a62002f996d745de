// Experiment (not the project's code): the limiter's own script wrapped so that ONE EVALSHA
// decides a whole batch — KEYS = the batch's keys, ARGV = 4 arguments per key — instead of a
// pipeline of one EVALSHA per decision. Saves per-command work in ioredis and Redis's per-call
// floor; the price is Redis Cluster: the keys of a batch then span slots (CROSSSLOT), so this
// only fits a standalone Redis (or batches grouped by slot).
export function batchedScript(lua) {
  const body = lua.replace(/KEYS\[1\]/g, 'KEY').replace(/ARGV\[(\d)\]/g, 'A[$1]');
  return `local function decide(KEY, A)
${body}
end
local out = {}
for i = 1, #KEYS do
  local b = (i - 1) * 4
  out[i] = decide(KEYS[i], {ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4]})
end
return out`;
}
