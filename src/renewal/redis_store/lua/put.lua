-- put: a compare-and-swap write that gives a fresh version and releases the lease.
-- KEYS[1] token hash, KEYS[2] lease key, KEYS[3] store-wide version counter
-- ARGV[1] expected version ('' = write whatever is stored), ARGV[2] sealed value
-- Returns {0, version} stored | {1, version, sealed} conflict | {2} missing
-- TIME before a write: Redis 7 replicates a script's effects anyway; 5 and 6 need asking.
if redis.replicate_commands then redis.replicate_commands() end
local current = redis.call('HMGET', KEYS[1], 'v', 'd')
if ARGV[1] ~= '' then
  if not current[1] then
    return {2}
  end
  if current[1] ~= ARGV[1] then
    return {1, current[1], current[2]}
  end
end
-- A counter that is missing (a new store, or a Redis that lost its data) starts
-- at Redis's TIME in microseconds, above every version given out before unless
-- they averaged more than a million writes a second.
if redis.call('EXISTS', KEYS[3]) == 0 then
  local time = redis.call('TIME')
  redis.call('SET', KEYS[3], string.format('%.0f', tonumber(time[1]) * 1000000 + tonumber(time[2])))
end
-- As a string: Lua's own number formatting would turn large integers into 1.8e+15.
local version = string.format('%.0f', redis.call('INCR', KEYS[3]))
redis.call('HSET', KEYS[1], 'v', version, 'd', ARGV[2])
redis.call('DEL', KEYS[2])
return {0, version}
