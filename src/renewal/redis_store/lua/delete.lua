-- delete: removes the token (and its lease) if it is stored with the expected version.
-- KEYS[1] token hash, KEYS[2] lease key
-- ARGV[1] expected version ('' = whatever is stored)
-- Returns 1 deleted | 0 kept (nothing stored, or another version)
local version = redis.call('HGET', KEYS[1], 'v')
if not version then
  return 0
end
if ARGV[1] ~= '' and version ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
