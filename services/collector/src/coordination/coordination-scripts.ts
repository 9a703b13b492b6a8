import { LuaScript } from "./lua-script.ts";

// Every script reads the clock from Redis (TIME), so members' clocks never have to agree.

/**
 * Heartbeat: records the member as alive now and returns [now, epoch, own share or false]. The
 * share is read only when the caller's epoch is stale, and in the same atomic step as the epoch,
 * so a member never pairs an epoch with another epoch's share.
 * KEYS: members, epoch, owned:<member>. ARGV: member, known epoch.
 */
export const HEARTBEAT = new LuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
local epoch = tonumber(redis.call('GET', KEYS[2]) or '0')
local share = false
if epoch ~= tonumber(ARGV[2]) then share = redis.call('GET', KEYS[3]) or '' end
return {now, epoch, share}
`);

/** Lease renewal: extends the lease only while it still holds our token. KEYS: leader. ARGV: token, ttl ms. */
export const RENEW_LEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`);

/** Release: deletes the lease only if it is still ours. KEYS: leader. ARGV: token. */
export const RELEASE_LEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/** What a leader reads before deciding: [now, members with scores, epoch, assignment JSON, targets version]. */
export const READ_STATE = new LuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return {now, redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES'), redis.call('GET', KEYS[2]) or '0',
        redis.call('GET', KEYS[3]) or '', redis.call('GET', KEYS[4]) or '0'}
`);

/**
 * Writes a new assignment, fenced: only while KEYS[1] (the lease) holds ARGV[1] (our token),
 * checked in the same atomic step as the write, so a leader whose lease lapsed (paused process,
 * partition) can never overwrite its successor's assignment. Returns the new epoch, or -1.
 * KEYS: leader, epoch, assignment, owners, members, memberInfo, then owned:<m> for each
 * assigned member followed by owned:<m> for each stale member.
 * ARGV: token, summary JSON (epoch filled in here), assigned count, stale members JSON,
 * then per assigned member: member id, targets JSON.
 */
export const WRITE_ASSIGNMENT = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local epoch = redis.call('INCR', KEYS[2])
local assigned = tonumber(ARGV[3])
local stale = cjson.decode(ARGV[4])
for i, member in ipairs(stale) do
  redis.call('ZREM', KEYS[5], member)
  redis.call('HDEL', KEYS[6], member)
  redis.call('DEL', KEYS[6 + assigned + i])
end
redis.call('DEL', KEYS[4])
for i = 1, assigned do
  local member = ARGV[3 + 2 * i]
  local targets = cjson.decode(ARGV[4 + 2 * i])
  redis.call('SET', KEYS[6 + i], cjson.encode({epoch = epoch, targets = targets}))
  local batch = {}
  for _, target in ipairs(targets) do
    batch[#batch + 1] = target
    batch[#batch + 1] = member
    if #batch >= 1000 then redis.call('HSET', KEYS[4], unpack(batch)); batch = {} end
  end
  if #batch > 0 then redis.call('HSET', KEYS[4], unpack(batch)) end
end
local summary = cjson.decode(ARGV[2])
summary.epoch = epoch
redis.call('SET', KEYS[3], cjson.encode(summary))
return epoch
`);

/** A member leaving: forget it and its share. KEYS: members, memberInfo, owned:<member>. ARGV: member. */
export const LEAVE = new LuaScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3])
return 1
`);
