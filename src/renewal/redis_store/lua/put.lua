-- put: a compare-and-swap write that gives a fresh version and releases the lease.
-- KEYS[1] token hash, KEYS[2] lease key, KEYS[3] store-wide version counter
-- ARGV[1] expected version ('' = write whatever is stored), ARGV[2] sealed value
-- Returns {0, version} stored | {1, version, sealed} conflict | {2} missing
local current = redis.call('HMGET', KEYS[1], 'v', 'd')
if ARGV[1] ~= '' then
  if not current[1] then
    return {2}
  end
  if current[1] ~= ARGV[1] then
    return {1, current[1], current[2]}
  end
end
local version = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[1], 'v', version, 'd', ARGV[2])
redis.call('DEL', KEYS[2])
return {0, version}
