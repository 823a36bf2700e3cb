-- rate_limited records a reserve that the rate limiter refused as a
-- 'rejected' event with reason rate_limited. ARGV: user, qty, window ms.
-- Only a product of a loaded sale gets one (no stream is made for a product
-- that does not exist), and at most one per shopper and product per window:
-- a client that keeps calling while refused costs one event per window, not
-- one per call. Replies 1 when it recorded the event, else 0.
local user, qty, window = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local price = tonumber(redis.call('HGET', meta_key, 'price'))
if not price then
  return 0
end
local now = clock_ms()
-- ':' starts no user id, so this field never meets an idempotency key's.
local field = ':limited:' .. user
local last = tonumber(redis.call('HGET', idem_key, field))
if last and now - last < window then
  return 0
end
redis.call('HSET', idem_key, field, int(now))
emit('rejected', {id = '', user = user, qty = qty, amount = price * qty},
  'rate_limited', now)
return 1
