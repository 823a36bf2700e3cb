-- count_lost_order: an order committed after Redis lost its hold (Redis
-- reloaded between the confirm's Redis and PostgreSQL steps, perhaps from a
-- snapshot without the order). ARGV: the product's sold count and the
-- shopper's bought units in PostgreSQL, both read after the commit, then
-- hold id, user, qty, amount. The shopper's count is raised to what they
-- bought plus their live holds (never lowered: an order the reload did
-- count is not counted twice); units Redis has not counted move from stock
-- to sold (the sweeper's catch-up may have moved them already, or will once
-- other confirms under way commit). The hold is recorded CONFIRMED, so this
-- runs once. A product not loaded yet is left to its reload, which reads
-- the order. Replies 'counted', 'known' or 'not_loaded'.
local pg_sold, bought = tonumber(ARGV[1]), tonumber(ARGV[2])
local id, user, qty, amount = ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local gap = uncounted(pg_sold)
if not gap then
  return 'not_loaded'
end
if load(id) then
  return 'known'
end

local held = 0
for _, index in ipairs({exp_key, pend_key}) do
  for _, other in ipairs(redis.call('ZRANGE', index, 0, -1)) do
    local h = load(other)
    if h and h.user == user and (h.state == 'HELD' or h.state == 'CONFIRMING') then
      held = held + h.qty
    end
  end
end
local short = bought + held - (tonumber(redis.call('HGET', users_key, user)) or 0)
if short > 0 then
  add_user(user, short)
end

local take = math.min(qty, gap, tonumber(redis.call('GET', stock_key)))
if take > 0 then
  redis.call('DECRBY', stock_key, take)
  redis.call('HINCRBY', meta_key, 'sold', take)
end
save({id = id, state = 'CONFIRMED', user = user, qty = qty, deadline = 0, amount = amount})
return 'counted'
