-- finish_load ends the load of a sale product whose shoppers' counts are in:
-- it writes meta and, where none exists, stock, which opens the product to
-- reserves. ARGV: token, sold, stock, then meta field and value pairs.
-- The load wrote the token into meta before the counts. When it is gone,
-- Redis lost its data meanwhile and the counts are partial: the product
-- stays closed ('lost') for the next load to write whole, unless a load
-- that finished since opened it already.
local token, sold, stock = ARGV[1], ARGV[2], ARGV[3]
if redis.call('HGET', meta_key, ':loading') ~= token then
  if redis.call('EXISTS', stock_key) == 1 then
    return 'ok'
  end
  return 'lost'
end
local fields = {}
for i = 4, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('HSET', meta_key, unpack(fields))
redis.call('HSETNX', meta_key, 'held', 0)
redis.call('HSETNX', meta_key, 'discarded', 0)
redis.call('HSETNX', meta_key, 'sold', sold)
redis.call('SET', stock_key, stock, 'NX')
redis.call('HDEL', meta_key, ':loading')
return 'ok'
