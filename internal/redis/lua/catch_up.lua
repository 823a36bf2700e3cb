-- catch_up: ARGV the product's sold count in PostgreSQL, read before this
-- call. Units PostgreSQL sold that Redis has not counted (see uncounted)
-- leave Redis selling units that are gone: they move from stock to sold.
-- Returns the units moved. The shoppers of those orders are not known here;
-- count_lost_order counts them when their confirm sees the hold gone.
local gap = uncounted(tonumber(ARGV[1]))
if not gap then
  return 0
end
local take = math.min(gap, tonumber(redis.call('GET', stock_key)))
if take <= 0 then
  return 0
end
redis.call('DECRBY', stock_key, take)
redis.call('HINCRBY', meta_key, 'sold', take)
return take
