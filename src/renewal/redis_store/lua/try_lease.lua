-- try_lease: takes the renewal lease if the version matches and no other owner's lease is live.
-- KEYS[1] token hash, KEYS[2] lease key
-- ARGV[1] expected version, ARGV[2] owner (32 hex chars), ARGV[3] lease duration (ms),
-- ARGV[4] now in ms since the epoch (-1: Redis's own clock, TIME), ARGV[5] PX of the lease key (ms)
-- The lease key holds '<owner>:<deadline ms>'.
-- Returns {0} missing | {1, version, sealed} changed | {2, remaining ms} held | {3} acquired
-- TIME before a write: Redis 7 replicates a script's effects anyway; 5 and 6 need asking.
if redis.replicate_commands then redis.replicate_commands() end
local current = redis.call('HMGET', KEYS[1], 'v', 'd')
if not current[1] then
  return {0}
end
if current[1] ~= ARGV[1] then
  return {1, current[1], current[2]}
end
local now = tonumber(ARGV[4])
if now < 0 then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local lease = redis.call('GET', KEYS[2])
if lease then
  local sep = string.find(lease, ':', 1, true)
  if sep then
    local holder = string.sub(lease, 1, sep - 1)
    local deadline = tonumber(string.sub(lease, sep + 1))
    if holder ~= ARGV[2] and deadline and deadline > now then
      return {2, deadline - now}
    end
  end
end
local deadline = now + tonumber(ARGV[3])
redis.call('SET', KEYS[2], ARGV[2] .. ':' .. string.format('%.0f', deadline), 'PX', ARGV[5])
return {3}
