-- begin_confirm: ARGV hold id, grace ms, reclaim batch, payment id.
-- Moves a hold to CONFIRMING while its order is written; a hold whose
-- deadline passed is taken again for the late payment when units allow.
-- The payment is remembered as the one confirming the hold: a confirm with
-- another payment is refused as busy until this one ends, and only this
-- payment's confirm may undo the move.
local id, grace, batch, payment = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local pay_field = paying_field(id)
if not load(id) then
  return answer('not_found', '')
end

-- Reclaim first: a retake must see every expired unit back in stock.
local now = clock_ms()
reclaim(now, batch)
local h = load(id)
if h.state == 'HELD' and now >= h.deadline then
  expire(h, now)
end

if h.state == 'HELD' then
  h.state = 'CONFIRMING'
  save(h)
  redis.call('ZREM', exp_key, id)
  redis.call('ZADD', pend_key, int(h.deadline + grace), id)
  redis.call('HSET', idem_key, pay_field, payment)
  return answer('begun', id)
elseif h.state == 'CONFIRMING' then
  local current = redis.call('HGET', idem_key, pay_field)
  if current and current ~= payment then
    return answer('busy', id)
  end
  redis.call('HSET', idem_key, pay_field, payment)
  return answer('begun', id)
elseif h.state == 'CONFIRMED' then
  return answer('already_confirmed', id)
elseif h.state == 'RELEASED' then
  return answer('was_released', id)
elseif h.state ~= 'EXPIRED' then
  -- DISCARDED: PostgreSQL already refused this hold as an oversell, so
  -- taking Redis stock again would only be refused again.
  return answer('was_expired', id)
end

-- A retake is a new hold in all but name, so it needs what a reserve needs:
-- an active sale, the units, and room under the user's limit.
local m = redis.call('HMGET', meta_key, 'limit', 'state', 'start_ms', 'end_ms')
local limit, state = tonumber(m[1]), m[2]
local stock = tonumber(redis.call('GET', stock_key))
local mine = tonumber(redis.call('HGET', users_key, h.user)) or 0
local active = state == 'scheduled' and now >= (tonumber(m[3]) or 0) and
  now < (tonumber(m[4]) or 0)
if not (limit and stock and active) or stock < h.qty or mine + h.qty > limit then
  return answer('was_expired', id)
end
take(h, 'CONFIRMING')
redis.call('ZADD', pend_key, int(now + grace), id)
redis.call('HSET', idem_key, pay_field, payment)
emit('reserved', h, 'late_payment', now)
return answer('retaken', id)
