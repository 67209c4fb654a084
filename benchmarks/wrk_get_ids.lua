-- wrk script: GET /api/kv/<id> (a linearizable read, the default consistency) of ids taken in
-- turn from a file, one UUID per line (written by benchmarks/etcd_compare.sh from the cluster's
-- own entries). Each wrk thread starts at a different offset.
-- Usage: wrk -t2 -c50 -d5s --latency -s benchmarks/wrk_get_ids.lua http://127.0.0.1:8080 -- IDS_FILE
local ids = {}
local thread_counter = 0
function setup(thread)
  thread_counter = thread_counter + 1
  thread:set("thread_id", thread_counter)
end

thread_id = 0
local next_index = 1

function init(args)
  local file = assert(io.open(args[1], "r"), "cannot open the ids file " .. tostring(args[1]))
  for line in file:lines() do
    if #line > 0 then ids[#ids + 1] = line end
  end
  file:close()
  assert(#ids > 0, "the ids file is empty")
  next_index = (thread_id * 7919) % #ids + 1
end

request = function()
  local id = ids[next_index]
  next_index = next_index % #ids + 1
  return wrk.format("GET", "/api/kv/" .. id)
end
