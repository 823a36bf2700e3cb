-- abort_confirm: ARGV hold id, '1' to return the units or '0' to discard
-- them, reclaim batch. Only a CONFIRMING hold changes.
local id, give, batch = ARGV[1], ARGV[2] == '1', tonumber(ARGV[3])
local h = load(id)
if not h then
  return answer('not_found', '')
end

local now = clock_ms()
local outcome = 'noop'
if h.state == 'CONFIRMING' and give then
  redis.call('ZREM', pend_key, id)
  give_back(h, 'EXPIRED')
  emit('expired', h, 'confirm_aborted', now)
  outcome = 'expired'
elseif h.state == 'CONFIRMING' then
  -- PostgreSQL refused the order: Redis stock was above the truth, so the
  -- units leave the pool as discarded instead of going back to stock.
  redis.call('ZREM', pend_key, id)
  add_user(h.user, -h.qty)
  redis.call('HINCRBY', meta_key, 'held', -h.qty)
  redis.call('HINCRBY', meta_key, 'discarded', h.qty)
  h.state = 'DISCARDED'
  save(h)
  emit('rejected', h, 'oversell_guard', now)
  outcome = 'discarded'
end
if outcome ~= 'noop' then
  redis.call('HDEL', idem_key, paying_field(id))
end
reclaim(now, batch)
return answer(outcome, id)
