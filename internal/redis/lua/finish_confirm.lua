-- finish_confirm: ARGV hold id, reclaim batch.
-- Runs after the order is committed in PostgreSQL; the units stay counted
-- for the user because bought units count toward the per-user limit. A HELD
-- hold is finished too, should an undo ever race its order (begin_confirm's
-- one-payment rule is meant to prevent that): the order is the truth.
local id, batch = ARGV[1], tonumber(ARGV[2])
local h = load(id)
if not h then
  return answer('not_found', '')
end

local outcome = 'noop'
if h.state == 'CONFIRMING' or h.state == 'HELD' then
  h.state = 'CONFIRMED'
  save(h)
  redis.call('ZREM', pend_key, id)
  redis.call('ZREM', exp_key, id)
  redis.call('HDEL', idem_key, paying_field(id))
  redis.call('HINCRBY', meta_key, 'held', -h.qty)
  redis.call('HINCRBY', meta_key, 'sold', h.qty)
  outcome = 'confirmed'
elseif h.state ~= 'CONFIRMED' then
  outcome = 'bad_state'
end
reclaim(clock_ms(), batch)
return answer(outcome, id)
