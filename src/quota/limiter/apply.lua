-- Applies one batch of quota charges atomically. Mirrors
-- src/limiter/memory.rs step for step; keep the two in step.
--
-- KEYS[1]   the answer key of the request id (a placeholder when none)
-- KEYS[1+i] the counter of item i
-- ARGV[1] mode: all | best | check | adjust
-- ARGV[2] 1 when the answer is to be remembered under KEYS[1]
-- ARGV[3] how long to remember it, ms
-- ARGV[4] the most a counter may hold (bounds::MAX_USAGE)
-- ARGV[5] the longest wait answered, ms (bounds::MAX_WAIT_MS)
-- then 6 per item: counter (tb|sw|p|a), action (charge|check|release),
--   cost, ceiling ('' for none), p1, p2
--   tb: p1 limit, p2 period ms; sw: p1 period ms; p: p1 reset (Unix ms)
-- Returns {replayed (0|1), answer as JSON}, or {2, i} when a charge of
-- item i would take its counter beyond ARGV[4]: then nothing changed.
--
-- Lua numbers are doubles, exact for integers up to 2^53; the bounds keep
-- every cost, ceiling and counter below that (see bounds.rs), and numbers
-- are written with %d or %.17g, never with the 14 digits of tostring or
-- cjson, so nothing is rounded on the way to Redis or back.

local mode = ARGV[1]
local remember = ARGV[2] == '1'
local max_usage = tonumber(ARGV[4])
local max_wait = tonumber(ARGV[5])
if remember then
  local stored = redis.call('GET', KEYS[1])
  if stored then return {1, stored} end
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local now_ms = math.floor(now / 1000)

-- Microsecond stamps exceed the 14 digits Lua prints numbers with.
local function fmt(x) return string.format('%d', x) end

-- A wait in ms, rounded up, within 0..max_wait (bounds::clamp_wait).
local function wait(ms)
  if ms ~= ms then return 0 end
  return math.min(math.max(math.ceil(ms), 0), max_wait)
end

local items = {}
local n = (#ARGV - 5) / 6
for i = 1, n do
  local b = 5 + (i - 1) * 6
  local ceiling = nil
  if ARGV[b + 4] ~= '' then ceiling = tonumber(ARGV[b + 4]) end
  items[i] = {
    key = KEYS[1 + i], counter = ARGV[b + 1], action = ARGV[b + 2],
    cost = tonumber(ARGV[b + 3]), ceiling = ceiling,
    p1 = tonumber(ARGV[b + 5]), p2 = tonumber(ARGV[b + 6]),
  }
end

local function cost_of(member)
  return tonumber(string.match(member, ':(%-?%d+)$'))
end

local function usage(item)
  if item.counter == 'tb' then
    local state = redis.call('HMGET', item.key, 'level', 'at')
    if not state[1] then return 0 end
    local refilled = (now - tonumber(state[2])) * item.p1 / (item.p2 * 1000)
    return math.max(tonumber(state[1]) - refilled, 0)
  elseif item.counter == 'sw' then
    local used = 0
    local members = redis.call('ZRANGEBYSCORE', item.key, '(' .. fmt(now - item.p1 * 1000), '+inf')
    for _, member in ipairs(members) do used = used + cost_of(member) end
    return used
  else
    return tonumber(redis.call('GET', item.key) or '0')
  end
end

local function fits(used, item)
  return item.ceiling == nil or used + item.cost <= item.ceiling
end

local function retry_ms(item, used)
  if item.ceiling == nil or item.cost > item.ceiling then return nil end
  local excess = used + item.cost - item.ceiling
  if item.counter == 'tb' and item.p1 > 0 then
    return wait(excess * item.p2 / item.p1)
  elseif item.counter == 'sw' then
    local freed = 0
    local entries = redis.call('ZRANGEBYSCORE', item.key, '(' .. fmt(now - item.p1 * 1000), '+inf', 'WITHSCORES')
    for j = 1, #entries, 2 do
      freed = freed + cost_of(entries[j])
      if freed >= excess then
        return wait((tonumber(entries[j + 1]) + item.p1 * 1000 - now) / 1000)
      end
    end
    return nil
  elseif item.counter == 'p' then
    return wait(item.p1 - now_ms)
  end
  return nil
end

local function change(item, used, delta)
  if item.counter == 'tb' then
    local level = math.max(used + delta, 0)
    redis.call('HSET', item.key, 'level', string.format('%.17g', level), 'at', fmt(now))
    local drain_ms = 1000
    if item.p1 > 0 then drain_ms = drain_ms + wait(level * item.p2 / item.p1) end
    redis.call('PEXPIRE', item.key, drain_ms)
  elseif item.counter == 'sw' then
    redis.call('ZREMRANGEBYSCORE', item.key, '-inf', fmt(now - item.p1 * 1000))
    if delta > 0 then
      local suffix = 0
      while redis.call('ZADD', item.key, 'NX', fmt(now), fmt(now) .. ':' .. suffix .. ':' .. fmt(delta)) == 0 do
        suffix = suffix + 1
      end
    end
    -- A release refunds the newest charges first.
    local refund = -delta
    while refund > 0 do
      local top = redis.call('ZPOPMAX', item.key)
      if #top == 0 then break end
      local cost = cost_of(top[1])
      if cost > refund then
        redis.call('ZADD', item.key, top[2], top[1] .. 'r:' .. fmt(cost - refund))
      end
      refund = refund - cost
    end
    redis.call('PEXPIRE', item.key, item.p1 + 1000)
  elseif item.counter == 'p' then
    -- SET, not INCRBY: nothing here can fail halfway through a batch.
    redis.call('SET', item.key, fmt(math.max(used + delta, 0)))
    redis.call('PEXPIREAT', item.key, fmt(item.p1))
  else
    redis.call('SET', item.key, fmt(math.max(used + delta, 0)))
  end
end

local function reset_ms(item, used)
  if item.counter == 'tb' then
    if item.p1 > 0 then return now_ms + wait(used * item.p2 / item.p1) end
    return nil
  elseif item.counter == 'sw' then
    if used > 0 then
      local newest = redis.call('ZRANGE', item.key, -1, -1, 'WITHSCORES')
      if #newest == 2 then
        return math.floor((tonumber(newest[2]) + item.p1 * 1000 + 999) / 1000)
      end
    end
    return now_ms
  elseif item.counter == 'p' then
    return item.p1
  end
  return nil
end

local function grant(item, used, proceeds)
  if item.action == 'check' or mode == 'check' then return 0 end
  if item.action == 'release' then return math.max(math.min(item.cost, math.ceil(used)), 0) end
  -- A negative correction stops at zero usage.
  if mode == 'adjust' then return math.max(item.cost, -math.ceil(used)) end
  if mode == 'all' then
    if proceeds then return item.cost end
    return 0
  end
  if item.ceiling == nil then return item.cost end
  return math.max(math.min(item.cost, math.floor(item.ceiling - used)), 0)
end

local before, fitting, grants = {}, {}, {}
local proceeds = true
for i, item in ipairs(items) do
  before[i] = usage(item)
  fitting[i] = item.action == 'release' or mode == 'adjust' or fits(before[i], item)
  if not fitting[i] then proceeds = false end
end
for i, item in ipairs(items) do
  grants[i] = grant(item, before[i], proceeds)
  if item.action == 'charge' and grants[i] > 0 and before[i] + grants[i] > max_usage then
    return {2, tostring(i)}
  end
end

local function json_number(x)
  if x == nil then return 'null' end
  return fmt(x)
end

local outcomes = {}
local all_allowed = true
for i, item in ipairs(items) do
  local used = before[i]
  local granted = grants[i]
  if granted ~= 0 then
    local delta = granted
    if item.action == 'release' then delta = -granted end
    change(item, used, delta)
  end
  local after = usage(item)
  local allowed = fitting[i] or (mode == 'best' and granted == item.cost)
  if not allowed then all_allowed = false end
  local retry = nil
  if not allowed then retry = retry_ms(item, used) end
  outcomes[i] = string.format(
    '{"allowed":%s,"granted":%s,"used":%s,"reset_ms":%s,"retry_ms":%s}',
    tostring(allowed), fmt(granted), fmt(math.ceil(after)),
    json_number(reset_ms(item, after)), json_number(retry))
end

local answer = '{"outcomes":[' .. table.concat(outcomes, ',') .. ']}'
local keep = remember and mode ~= 'check' and (mode ~= 'all' or all_allowed)
if keep then
  redis.call('SET', KEYS[1], answer, 'PX', ARGV[3])
end
return {0, answer}
