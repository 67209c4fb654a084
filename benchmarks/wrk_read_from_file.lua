-- wrk script: linearizable reads of items taken in turn from a file, one per line (written by
-- benchmarks/etcd_compare.sh from what its write runs made). Each wrk thread starts at a
-- different offset. The second script argument says what the items are:
--   stress_node  entry ids (UUIDs): GET /api/kv/<id>, linearizable by default (ReadIndex);
--   etcd         base64 keys: POST /v3/kv/range of one key on the JSON gateway (linearizable,
--                etcd's default: serializable is false).
-- Usage: wrk -t2 -c50 -d5s --latency -s benchmarks/wrk_read_from_file.lua URL -- FILE stress_node|etcd
local items = {}
local mode = "stress_node"
local thread_counter = 0
function setup(thread)
  thread_counter = thread_counter + 1
  thread:set("thread_id", thread_counter)
end

thread_id = 0
local next_index = 1
local headers = {["Content-Type"] = "application/json"}

function init(args)
  local file = assert(io.open(args[1], "r"), "cannot open " .. tostring(args[1]))
  for line in file:lines() do
    if #line > 0 then items[#items + 1] = line end
  end
  file:close()
  assert(#items > 0, "nothing to read in " .. args[1])
  mode = args[2] or mode
  assert(mode == "stress_node" or mode == "etcd", "mode must be stress_node or etcd")
  next_index = (thread_id * 7919) % #items + 1
end

request = function()
  local item = items[next_index]
  next_index = next_index % #items + 1
  if mode == "etcd" then
    return wrk.format("POST", "/v3/kv/range", headers, '{"key":"' .. item .. '"}')
  end
  return wrk.format("GET", "/api/kv/" .. item)
end
