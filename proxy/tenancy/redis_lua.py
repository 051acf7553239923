"""The Lua scripts of the Redis backend: each check-and-reserve is one atomic round trip.

Same window rules as windows.py (one-second buckets, 61 of them count); keys of one tenant
share a {hash tag} so the scripts also run on Redis Cluster. Time is the server's TIME, one
clock for every replica, unless the caller passes `now_ms` (tests).
"""

from __future__ import annotations

_COMMON = """
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local bms, span = tonumber(ARGV[2]), tonumber(ARGV[3])
local cur = math.floor(now / bms)
local function load(key)
  local flat = redis.call('HGETALL', key)
  local buckets, total, dead = {}, 0, {}
  for i = 1, #flat, 2 do
    local b, n = tonumber(flat[i]), tonumber(flat[i + 1])
    if b < cur - span then dead[#dead + 1] = flat[i]
    else buckets[#buckets + 1] = {b, n}; total = total + n end
  end
  if #dead > 0 then redis.call('HDEL', key, unpack(dead)) end
  table.sort(buckets, function(x, y) return x[1] < y[1] end)
  return buckets, total
end
local function expiry(b)
  local e = (b + span + 1) * bms - now
  if e < 0 then return 0 end
  return e
end
local function reset(buckets)
  for i = #buckets, 1, -1 do
    if buckets[i][2] > 0 then return expiry(buckets[i][1]) end
  end
  return 0
end
"""

# KEYS: requests hash, tokens hash, in-flight zset, spend
# ARGV: now_ms, bucket_ms, span, rpm, tpm, in_flight, budget (-1: none), tokens, micros,
#       lease_ms, ticket, period_ttl_s
RESERVE = (
    _COMMON
    + """
local function retry(buckets, used, cost, limit)
  if cost > limit then return span * bms end
  local freed = 0
  for i = 1, #buckets do
    freed = freed + buckets[i][2]
    if used - freed + cost <= limit then return expiry(buckets[i][1]) end
  end
  return span * bms
end
local rpm, tpm, fly = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local budget, tokens, micros = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local reqs, nreq = load(KEYS[1])
local toks, ntok = load(KEYS[2])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local refused, wait = '', 0
if rpm >= 0 and nreq + 1 > rpm then refused, wait = 'rpm', retry(reqs, nreq, 1, rpm)
elseif tpm >= 0 and ntok + tokens > tpm then refused, wait = 'tpm', retry(toks, ntok, tokens, tpm)
elseif fly >= 0 and redis.call('ZCARD', KEYS[3]) + 1 > fly then refused, wait = 'in_flight', bms
elseif budget >= 0 and tonumber(redis.call('GET', KEYS[4]) or '0') + micros > budget then
  refused = 'budget'
end
if refused == '' then
  local ttl = (span + 2) * bms
  redis.call('HINCRBY', KEYS[1], cur, 1); redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('HINCRBY', KEYS[2], cur, tokens); redis.call('PEXPIRE', KEYS[2], ttl)
  local lease = tonumber(ARGV[10])
  redis.call('ZADD', KEYS[3], now + lease, ARGV[11]); redis.call('PEXPIRE', KEYS[3], lease)
  redis.call('INCRBY', KEYS[4], micros)
  if tonumber(ARGV[12]) > 0 then redis.call('EXPIRE', KEYS[4], ARGV[12]) end
  reqs[#reqs + 1] = {cur, 1}; nreq = nreq + 1
  toks[#toks + 1] = {cur, tokens}; ntok = ntok + tokens
end
return {refused, wait, nreq, reset(reqs), ntok, reset(toks), cur}
"""
)

# KEYS: requests hash, tokens hash, in-flight zset, spend
# ARGV: ticket, bucket, requests_delta, tokens_delta, micros_delta
SETTLE = """
redis.call('ZREM', KEYS[3], ARGV[1])
local function adjust(key, field, delta)
  if delta ~= 0 then
    local v = redis.call('HGET', key, field)
    if v then
      local n = tonumber(v) + delta
      if n < 0 then n = 0 end
      redis.call('HSET', key, field, n)
    end
  end
end
adjust(KEYS[1], ARGV[2], tonumber(ARGV[3]))
adjust(KEYS[2], ARGV[2], tonumber(ARGV[4]))
local m = tonumber(ARGV[5])
if m ~= 0 and redis.call('EXISTS', KEYS[4]) == 1 then
  if redis.call('INCRBY', KEYS[4], m) < 0 then redis.call('SET', KEYS[4], 0, 'KEEPTTL') end
end
return 1
"""

# KEYS: requests hash, tokens hash, in-flight zset, spend; ARGV: now_ms, bucket_ms, span
USAGE = (
    _COMMON
    + """
local _, nreq = load(KEYS[1])
local _, ntok = load(KEYS[2])
local fly = redis.call('ZCOUNT', KEYS[3], '(' .. now, '+inf')
return {nreq, ntok, fly, tonumber(redis.call('GET', KEYS[4]) or '0')}
"""
)
