-- wrk script for scripts/wrk-report.sh: POSTs valid, cumulative BenchBoard reports
-- to /api/stats/report. Requests cycle through TEAMS teams (ids <TEAM_PREFIX>1..N,
-- X-Team-Name "wrk team N" percent-encoded as the original tools send it); each
-- wrk thread starts at another team so that every team gets reports from the start.

local teams = tonumber(os.getenv("TEAMS") or "6")
local prefix = os.getenv("TEAM_PREFIX") or "wrk"
local thread_count = 0

function setup(thread)
   thread:set("offset", thread_count)
   thread_count = thread_count + 1
end

function init(args)
   counter = 0
   offset = tonumber(offset) or 0
end

-- The numbers grow with each request so that the server's metrics and best records
-- move as under a real run; every count stays consistent (ops + errors <= sent).
local function report(n)
   local elapsed = 5 * n
   local sent = 400 * n
   local pending = 10
   local errors = n % 7
   local ops = sent - pending - errors
   local avg = 20 + (n % 13)
   local b = math.floor(ops / 100)
   local half = math.floor(b / 2)
   return string.format(
      '{"totalElapsed":%d,"totalSent":%d,"totalOps":%d,"totalErrors":%d,' ..
      '"totalSaveDelayErrors":0,"pending":%d,' ..
      '"operations":{"sensorData":{"operations":%d,"errors":%d}},' ..
      '"performanceMetrics":{"avgSentQPS":%.1f,"avgCompletedQPS":%.1f,"errorRate":%.3f},' ..
      '"latencyAnalysis":{"sensorData":{"avg":%d,"min":0.5,"max":900,' ..
      '"buckets":[%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,0,0,0]}}}',
      elapsed, sent, ops, errors, pending, ops, errors,
      sent / elapsed, ops / elapsed, errors / sent * 100, avg,
      5 * b, 10 * b, 20 * b, 30 * b, 20 * b, 10 * b, 3 * b, b, half, half)
end

function request()
   counter = counter + 1
   local team = (counter + offset) % teams + 1
   local n = math.floor(counter / teams) + 1
   local headers = {
      ["Content-Type"] = "application/json",
      ["X-Team-ID"] = prefix .. team,
      ["X-Team-Name"] = "wrk%20team%20" .. team,
   }
   return wrk.format("POST", "/api/stats/report", headers, report(n))
end
