-- Shared head of every hold script. holds.go prepends it to each script body
-- once, at package init, so the text Redis caches never changes per call.
-- KEYS are always the eight keys of one sale product, in keys.go order; no
-- key name is ever built here, so every script stays on one cluster slot.
local stock_key, meta_key, res_key, exp_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local pend_key, users_key, idem_key, events_key = KEYS[5], KEYS[6], KEYS[7], KEYS[8]

-- int prints a whole number without an exponent: Lua numbers are doubles and
-- a millisecond clock must not turn into "1.7e+12" in a record or a score.
local function int(n)
  return string.format('%d', n)
end

-- clock_ms reads the Redis clock: every deadline is measured on this one
-- clock, never on the callers', whose clocks disagree.
local function clock_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- paying_field names the idempotency-hash field that holds the payment
-- confirming a hold. It starts with ':', which no user id (the start of
-- every idempotency field) can.
local function paying_field(id)
  return ':paying:' .. id
end

-- load returns the hold with this id, or nil when there is none.
-- A record is "state|user|qty|deadline_ms|amount".
local function load(id)
  local rec = redis.call('HGET', res_key, id)
  if not rec then
    return nil
  end
  local state, user, qty, deadline, amount =
    string.match(rec, '^(%u+)|(.*)|(%d+)|(%d+)|(%d+)$')
  if not state then
    error('corrupt hold record ' .. id)
  end
  return {id = id, state = state, user = user, qty = tonumber(qty),
    deadline = tonumber(deadline), amount = tonumber(amount)}
end

-- save writes the hold and keeps its record in h.rec for the reply.
local function save(h)
  h.rec = h.state .. '|' .. h.user .. '|' .. int(h.qty) .. '|' ..
    int(h.deadline) .. '|' .. int(h.amount)
  redis.call('HSET', res_key, h.id, h.rec)
end

-- emit records one event for the relay, which trims the stream after it has
-- published; so nothing here trims.
local function emit(kind, h, reason, now)
  redis.call('XADD', events_key, '*', 'type', kind, 'hold', h.id,
    'user', h.user, 'qty', int(h.qty), 'amount', int(h.amount),
    'reason', reason, 'at', int(now))
end

-- add_user moves a user's count of held or bought units; the field goes at
-- zero so that a big sale does not keep one field per past shopper.
local function add_user(user, delta)
  if redis.call('HINCRBY', users_key, user, delta) <= 0 then
    redis.call('HDEL', users_key, user)
  end
end

-- take moves a hold's units from stock to held, records it in state and
-- returns the units left.
local function take(h, state)
  local left = redis.call('DECRBY', stock_key, h.qty)
  add_user(h.user, h.qty)
  redis.call('HINCRBY', meta_key, 'held', h.qty)
  h.state = state
  save(h)
  return left
end

-- give_back moves a hold's units from held to stock and records its state.
local function give_back(h, state)
  redis.call('INCRBY', stock_key, h.qty)
  add_user(h.user, -h.qty)
  redis.call('HINCRBY', meta_key, 'held', -h.qty)
  h.state = state
  save(h)
end

-- expire returns a HELD hold's units once its deadline has passed.
local function expire(h, now)
  give_back(h, 'EXPIRED')
  redis.call('ZREM', exp_key, h.id)
  emit('expired', h, 'deadline', now)
end

-- reclaim expires up to batch HELD holds whose deadline is at or before now;
-- the bound keeps one script short after a backlog, the sweeper takes the rest.
local function reclaim(now, batch)
  local ids = redis.call('ZRANGEBYSCORE', exp_key, '-inf', int(now),
    'LIMIT', 0, batch)
  local n = 0
  for _, id in ipairs(ids) do
    local h = load(id)
    if h and h.state == 'HELD' then
      expire(h, now)
      n = n + 1
    else
      redis.call('ZREM', exp_key, id)
    end
  end
  return n
end

-- uncounted returns how many of the units PostgreSQL sold (pg_sold, read
-- before the call) Redis counts neither as sold nor as being confirmed:
-- orders whose holds Redis lost while they committed (a reload raced their
-- confirm). Every order's hold is CONFIRMING in Redis until it is counted
-- in sold. Nil when the product is not loaded.
local function uncounted(pg_sold)
  local sold = tonumber(redis.call('HGET', meta_key, 'sold'))
  if not (sold and redis.call('EXISTS', stock_key) == 1) then
    return nil
  end
  local confirming = 0
  for _, id in ipairs(redis.call('ZRANGE', pend_key, 0, -1)) do
    local h = load(id)
    if h and h.state == 'CONFIRMING' then
      confirming = confirming + h.qty
    end
  end
  return pg_sold - sold - confirming
end

-- reply is the one answer shape that holds.go decodes:
-- {outcome, hold id, hold record, currency, stock left, per-user limit}.
-- Unknown values become '' or 0: a nil would cut the Lua array short.
local function reply(outcome, id, rec, currency, stock, limit)
  return {outcome, id, rec or '', currency or '', stock or 0, limit or 0}
end

-- answer replies with the hold id (or '') and reads the rest.
local function answer(outcome, id)
  local rec = ''
  if id ~= '' then
    rec = redis.call('HGET', res_key, id)
  end
  local m = redis.call('HMGET', meta_key, 'currency', 'limit')
  return reply(outcome, id, rec, m[1],
    tonumber(redis.call('GET', stock_key)), tonumber(m[2]))
end
