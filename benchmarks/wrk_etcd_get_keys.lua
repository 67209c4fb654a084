-- wrk script: etcd v3 JSON gateway, POST /v3/kv/range of one key per request (linearizable, etcd's
-- default: serializable is false), keys taken in turn from a file of base64-encoded keys, one per
-- line (written by benchmarks/etcd_compare.sh from the keys its write runs made). Each wrk thread
-- starts at a different offset. The counterpart of wrk_get_ids.lua.
-- Usage: wrk -t2 -c50 -d5s --latency -s benchmarks/wrk_etcd_get_keys.lua http://127.0.0.1:2379 -- KEYS_FILE
local keys = {}
local thread_counter = 0
function setup(thread)
  thread_counter = thread_counter + 1
  thread:set("thread_id", thread_counter)
end

thread_id = 0
local next_index = 1
local headers = {["Content-Type"] = "application/json"}

function init(args)
  local file = assert(io.open(args[1], "r"), "cannot open the keys file " .. tostring(args[1]))
  for line in file:lines() do
    if #line > 0 then keys[#keys + 1] = line end
  end
  file:close()
  assert(#keys > 0, "the keys file is empty")
  next_index = (thread_id * 7919) % #keys + 1
end

request = function()
  local key = keys[next_index]
  next_index = next_index % #keys + 1
  return wrk.format("POST", "/v3/kv/range", headers, '{"key":"' .. key .. '"}')
end
