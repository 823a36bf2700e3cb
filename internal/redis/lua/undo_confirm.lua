-- undo_confirm: ARGV hold id, payment id, reclaim batch.
-- PostgreSQL refused the order for a reason that leaves the hold itself
-- good (the payment belongs to another reservation): the hold goes back to
-- HELD until its deadline, or expires with its units back when that has
-- passed. Only the payment confirming the hold may undo it; begin_confirm
-- refuses every other payment meanwhile, so none of them can have an order
-- on its way.
local id, payment, batch = ARGV[1], ARGV[2], tonumber(ARGV[3])
local h = load(id)
if not h then
  return answer('not_found', '')
end

local pay_field = paying_field(id)
local now = clock_ms()
local outcome = 'noop'
if h.state == 'CONFIRMING' and redis.call('HGET', idem_key, pay_field) == payment then
  redis.call('HDEL', idem_key, pay_field)
  redis.call('ZREM', pend_key, id)
  h.state = 'HELD'
  save(h)
  redis.call('ZADD', exp_key, int(h.deadline), id)
  outcome = 'held'
  if now >= h.deadline then
    expire(h, now)
    outcome = 'expired'
  end
end
reclaim(now, batch)
return answer(outcome, id)
