-- reseal: replaces the sealed value only if the version is unchanged; keeps the version
-- (the credential is the same, only the key sealing it changes).
-- KEYS[1] token hash
-- ARGV[1] version read, ARGV[2] the value sealed with the current key
-- Returns 1 replaced | 0 changed meanwhile (written or deleted by someone else)
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'd', ARGV[2])
return 1
