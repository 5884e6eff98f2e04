-- release_lease: frees the lease only if the owner holds it and the stored version is the one named.
-- KEYS[1] token hash, KEYS[2] lease key
-- ARGV[1] version the lease was taken for, ARGV[2] owner (32 hex chars)
-- Returns 1 released | 0 kept
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[1] then
  return 0
end
local lease = redis.call('GET', KEYS[2])
if lease and string.sub(lease, 1, string.len(ARGV[2]) + 1) == ARGV[2] .. ':' then
  redis.call('DEL', KEYS[2])
  return 1
end
return 0
