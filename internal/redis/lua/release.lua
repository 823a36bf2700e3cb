-- release: ARGV hold id, reclaim batch. Answers with the state the hold was
-- in; only a HELD hold changes, so a second release returns nothing twice.
local id, batch = ARGV[1], tonumber(ARGV[2])
local h = load(id)
if not h then
  return answer('not_found', '')
end

-- The hold goes before the reclaim: a shopper who cancels a hold that is
-- past its deadline but not yet reclaimed sees RELEASED, units back once.
local now = clock_ms()
local was = h.state
if h.state == 'HELD' then
  give_back(h, 'RELEASED')
  redis.call('ZREM', exp_key, id)
  emit('released', h, '', now)
end
reclaim(now, batch)
return answer(was, id)
