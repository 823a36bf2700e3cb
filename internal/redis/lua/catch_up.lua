-- catch_up: ARGV the product's sold count in PostgreSQL, read before this
-- call. Orders that PostgreSQL has but Redis never heard of (a reload raced
-- a confirm whose hold then vanished) leave Redis selling units that are
-- gone. Every order's hold is CONFIRMING in Redis until it is counted in
-- sold, so units sold in PostgreSQL beyond sold plus those holds are such
-- orders: they move from stock to sold. Returns the units moved.
local pg_sold = tonumber(ARGV[1])
local sold = tonumber(redis.call('HGET', meta_key, 'sold'))
local stock = tonumber(redis.call('GET', stock_key))
if not (sold and stock) then
  return 0
end
local confirming = 0
for _, id in ipairs(redis.call('ZRANGE', pend_key, 0, -1)) do
  local h = load(id)
  if h and h.state == 'CONFIRMING' then
    confirming = confirming + h.qty
  end
end
local take = math.min(pg_sold - sold - confirming, stock)
if take <= 0 then
  return 0
end
redis.call('DECRBY', stock_key, take)
redis.call('HINCRBY', meta_key, 'sold', take)
return take
