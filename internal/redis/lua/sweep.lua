-- sweep: ARGV batch. Reclaims expired HELD holds and lists CONFIRMING holds
-- past deadline plus grace. Answers {expired count, currency, id, record, ...}.
local batch = tonumber(ARGV[1])
local now = clock_ms()
local out = {reclaim(now, batch), redis.call('HGET', meta_key, 'currency') or ''}
local ids = redis.call('ZRANGEBYSCORE', pend_key, '-inf', int(now),
  'LIMIT', 0, batch)
for _, id in ipairs(ids) do
  local h = load(id)
  if h and h.state == 'CONFIRMING' then
    out[#out + 1] = id
    out[#out + 1] = redis.call('HGET', res_key, id)
  else
    redis.call('ZREM', pend_key, id)
  end
end
return out
