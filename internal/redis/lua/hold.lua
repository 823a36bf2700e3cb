-- hold: ARGV hold id. Reads one hold; writes nothing.
if not load(ARGV[1]) then
  return answer('not_found', '')
end
return answer('found', ARGV[1])
