-- wrk script: etcd v3 JSON gateway, POST /v3/kv/put with a unique key per request and a 100-byte
-- value (the same payload as wrk_post_unique.lua sends to stress_node). The gateway wants key and
-- value base64-encoded; the value is encoded once, the key per request.
-- Keys are "k-<run>-<thread>-<counter>": each wrk thread has its own Lua state, so setup() hands
-- every thread a distinct number and keys never repeat across threads; <run> is the first script
-- argument (after "--"), default the start time in seconds, so that successive runs against the
-- same cluster do not overwrite each other's keys.
-- Usage: wrk -t2 -c50 -d5s --latency -s benchmarks/wrk_etcd_put_unique.lua http://127.0.0.1:2379 -- run1

local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local b64 = {}
for i = 1, 64 do b64[i - 1] = alphabet:sub(i, i) end

-- Standard base64 (RFC 4648, with padding), arithmetic only so it needs no bit library.
local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1 = math.floor(n / 262144) % 64
    local c2 = math.floor(n / 4096) % 64
    local c3 = math.floor(n / 64) % 64
    local c4 = n % 64
    out[#out + 1] = b64[c1] .. b64[c2] .. (b and b64[c3] or "=") .. (c and b64[c4] or "=")
  end
  return table.concat(out)
end

local thread_counter = 0
function setup(thread)
  thread_counter = thread_counter + 1
  thread:set("thread_id", thread_counter)
end

local value_b64 = base64(string.rep("v", 100))
local headers = {["Content-Type"] = "application/json"}
thread_id = 0
counter = 0
local run = tostring(os.time())

function init(args)
  if args[1] ~= nil and args[1] ~= "" then run = args[1] end
end

request = function()
  counter = counter + 1
  local key = string.format("k-%s-%d-%d", run, thread_id, counter)
  local body = string.format('{"key":"%s","value":"%s"}', base64(key), value_b64)
  return wrk.format("POST", "/v3/kv/put", headers, body)
end
