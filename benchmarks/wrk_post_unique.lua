-- wrk script: POST /api/kv with a unique key per request and a 100-byte value.
-- Usage: wrk -t2 -c50 -d5s --latency -s benchmarks/wrk_post_unique.lua http://127.0.0.1:8080
counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"key":"k-%d-%d","value":"%s"}', math.random(1, 1e9), counter, string.rep("v", 100))
  return wrk.format("POST", "/api/kv", {["Content-Type"] = "application/json"}, body)
end
