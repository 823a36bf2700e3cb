-- retire: no ARGV. Deletes the keys of a product whose sale ended long ago,
-- unless something still waits on them: a confirm the sweeper has not
-- resolved (pend) or events the relay has not published yet. Returns 1 when
-- the keys are gone, 0 when they stay for a later sweep.
if redis.call('EXISTS', pend_key) == 1 or redis.call('XLEN', events_key) > 0 then
  return 0
end
redis.call('DEL', stock_key, meta_key, res_key, exp_key, pend_key, users_key, idem_key,
  events_key)
return 1
