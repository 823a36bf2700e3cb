-- counters: no ARGV. Reads stock and the meta counters in one snapshot, so
-- available + held + sold + discarded == total can be checked at any time.
local stock = redis.call('GET', stock_key)
local m = redis.call('HMGET', meta_key, 'total', 'held', 'sold', 'discarded')
if not (stock and m[1]) then
  return {}
end
return {tonumber(stock), tonumber(m[1]), tonumber(m[2]) or 0,
  tonumber(m[3]) or 0, tonumber(m[4]) or 0}
