-- bench/pipeline.lua -- HTTP/1.1 pipelining for wrk, as TechEmpower runs it.
--
--   wrk ... -s bench/pipeline.lua http://127.0.0.1:8080/plaintext -- 16
--
-- Each write carries 'depth' copies of the request (default 1), and wrk
-- counts every response, so Requests/sec is responses per second. Latency
-- is measured per batch: from the write to the last response of it.
init = function(args)
    local depth = tonumber(args[1]) or 1
    local r = {}
    for i = 1, depth do
        r[i] = wrk.format()
    end
    req = table.concat(r)
end

request = function()
    return req
end
