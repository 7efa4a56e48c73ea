-- wrk-json.lua: makes wrk print its results as one JSON line that BenchBoard imports
-- (benchboard-client push --format wrk-json, POST /api/import/wrk-json).
--
--   wrk -t2 -c10 -d30s -s scripts/wrk-json.lua http://target/ | tail -n 1 > wrk.json
--
-- wrk calls done() once, at the end of the run (wrk's SCRIPTING file); durations and
-- latencies are in microseconds. Besides wrk's summary and a few percentiles, the line
-- carries "latency_fraction_le": the share of latency samples of at most 1, 2, 5, ...
-- 5000 ms, BenchBoard's bucket bounds, so the import rebuilds BenchBoard's buckets
-- from wrk's own histogram instead of guessing them from percentiles.
--
-- How: wrk keeps one counter per microsecond, and latency:percentile(p) returns the
-- value of the sample of rank round(p/100*n + 0.5) (stats.c). wrk does not hand n to
-- Lua, so ranks are taken on a scale of summary.requests; a binary search finds the
-- largest rank whose value is within the bound (about 25 calls per bound, a fraction
-- of a second once the run is over). The share is exact when n equals
-- summary.requests, else within one sample. Like wrk's own summary, the latencies
-- include wrk's correction for coordinated omission.

local bounds_ms = { 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000 }

-- Share (0..1) of samples of at most limit_us, on a scale of `scale` ranks.
local function share_at_most(latency, scale, limit_us)
  if scale == 0 or latency.min > limit_us then return 0 end
  if latency.max <= limit_us then return 1 end
  local lo, hi = 0, scale -- value at rank lo <= limit_us (rank 0: none), at rank hi + 1 above
  while lo < hi do
    local mid = math.floor((lo + hi + 1) / 2)
    local value = latency:percentile((mid - 0.5) / scale * 100.0)
    if value ~= 0 and value <= limit_us then lo = mid else hi = mid - 1 end
  end
  return lo / scale
end

done = function(summary, latency, requests)
  local scale = summary.requests
  local shares = {}
  for _, ms in ipairs(bounds_ms) do
    shares[#shares + 1] = string.format('"%d":%.9f', ms * 1000, share_at_most(latency, scale, ms * 1000))
  end
  local e = summary.errors
  local min = latency.min
  if scale == 0 then min = 0 end
  io.write(string.format(
    '{"tool":"wrk","duration_us":%d,"requests":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"max":%d,"mean":%.2f,"stdev":%.2f,' ..
    '"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p99.9":%d},' ..
    '"latency_fraction_le":{%s}}\n',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    min, latency.max, latency.mean, latency.stdev,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9),
    table.concat(shares, ",")))
end
