-- count_lost_order: an order committed after Redis lost its hold (Redis
-- reloaded between the confirm's Redis and PostgreSQL steps, from a
-- snapshot before the order). ARGV: the product's sold count in PostgreSQL
-- read after the commit, hold id, user, qty, amount. When Redis has not
-- counted the order's units, they move from stock to sold and count for the
-- shopper, and the hold is recorded CONFIRMED so that this runs once. A
-- product not loaded yet is left to its reload, which reads the order.
-- Replies 'counted', 'known' or 'not_loaded'.
local id, user, qty, amount = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local gap = uncounted(tonumber(ARGV[1]))
if not gap then
  return 'not_loaded'
end
if load(id) or gap <= 0 then
  return 'known'
end
local take = math.min(qty, gap, tonumber(redis.call('GET', stock_key)))
if take > 0 then
  redis.call('DECRBY', stock_key, take)
  redis.call('HINCRBY', meta_key, 'sold', take)
end
add_user(user, qty)
save({id = id, state = 'CONFIRMED', user = user, qty = qty, deadline = 0, amount = amount})
return 'counted'
