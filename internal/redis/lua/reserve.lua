-- reserve: ARGV hold id, user, qty, ttl ms, idempotency key ('' for none),
-- reclaim batch. Steps run in the order of the checks a shopper expects:
-- a retry first, then the sale, the limit, the stock. This is the hot path,
-- so it replies from what it has read instead of reading again.
local id, user, qty, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local idem, batch = ARGV[5], tonumber(ARGV[6])

-- A retry with the same key gets the first hold back, whatever became of it,
-- so a lost reply never costs the shopper a second hold.
local idem_field = user .. ':' .. idem
if idem ~= '' then
  local prev = redis.call('HGET', idem_key, idem_field)
  if prev and redis.call('HEXISTS', res_key, prev) == 1 then
    return answer('replayed', prev)
  end
end

-- The client re-sends a script whose reply timed out, so a hold id that is
-- already recorded is this same call run twice: answer with its hold.
local same = load(id)
if same then
  if same.user ~= user then
    error('hold id ' .. id .. ' belongs to another user')
  end
  return answer('replayed', id)
end

local m = redis.call('HMGET', meta_key, 'start_ms', 'end_ms', 'state', 'limit',
  'price', 'currency')
local currency, limit = m[6], tonumber(m[4])
local stock = tonumber(redis.call('GET', stock_key))
if not (m[1] and m[2] and m[3] and limit and m[5] and stock) then
  return reply('stock_missing', '', '', currency, stock, limit)
end

local now = clock_ms()
if reclaim(now, batch) > 0 then
  stock = tonumber(redis.call('GET', stock_key))
end

local mine = tonumber(redis.call('HGET', users_key, user)) or 0
local h = {id = id, state = 'HELD', user = user, qty = qty,
  deadline = now + ttl, amount = tonumber(m[5]) * qty}
local refusal
if m[3] == 'paused' then
  refusal = 'paused'
elseif m[3] == 'ended' or now >= tonumber(m[2]) then
  refusal = 'ended'
elseif now < tonumber(m[1]) then
  refusal = 'not_started'
elseif qty > limit then
  refusal = 'qty_above_limit'
elseif mine + qty > limit then
  refusal = 'limit_reached'
elseif stock <= 0 then
  refusal = 'sold_out'
elseif stock < qty then
  refusal = 'insufficient_stock'
end
if refusal then
  emit('rejected', h, refusal, now)
  return reply(refusal, '', '', currency, stock, limit)
end

local left = take(h, 'HELD')
redis.call('ZADD', exp_key, int(h.deadline), id)
if idem ~= '' then
  redis.call('HSET', idem_key, idem_field, id)
end
emit('reserved', h, '', now)
return reply('reserved', id, h.rec, currency, left, limit)
