-- wrk script of bench/run: replays the requests of one workload and counts
-- GraphQL errors.
--
-- BENCH_REQUESTS names a file written by bench.py: one request a line,
-- "METHOD<TAB>PATH<TAB>BODY" (BODY may be empty). Each wrk thread walks the list
-- from its own starting point (BENCH_THREADS of them, evenly spaced), one line a
-- request, so a write workload sends each request to the next row. BENCH_AUTH,
-- when set, is sent as the Authorization header.
--
-- Errors: wrk itself counts socket errors and HTTP statuses >= 400; this script
-- adds responses that are not 200 (a 3xx, say) and 200s whose body carries a
-- GraphQL "errors" entry. done() prints one line, "BENCH_RESULT {json}".

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local requests = {}
local position = 1
gql_errors = 0
other_status = 0

function init(args)
  local path = os.getenv("BENCH_REQUESTS")
  local headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json" }
  local auth = os.getenv("BENCH_AUTH")
  if auth and auth ~= "" then
    headers["Authorization"] = auth
  end
  for line in io.lines(path) do
    local method, target, body = line:match("^([^\t]+)\t([^\t]+)\t?(.*)$")
    if method then
      if body == "" then
        body = nil
      end
      table.insert(requests, wrk.format(method, target, headers, body))
    end
  end
  if #requests == 0 then
    error("no requests in " .. tostring(path))
  end
  -- Threads start at evenly spaced points of the list.
  local threads_count = tonumber(os.getenv("BENCH_THREADS") or "1")
  position = 1 + math.floor(id * #requests / threads_count) % #requests
end

function request()
  local r = requests[position]
  position = position % #requests + 1
  return r
end

function response(status, headers, body)
  if status == 200 then
    if body and body:find('"errors"', 1, true) then
      gql_errors = gql_errors + 1
    end
  elseif status < 400 then
    other_status = other_status + 1
  end
end

function done(summary, latency, requests)
  local gql, other = 0, 0
  for _, thread in ipairs(threads) do
    gql = gql + thread:get("gql_errors")
    other = other + thread:get("other_status")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p90_us": %d, '
      .. '"p99_us": %d, "max_us": %d, "socket_errors": %d, "status_errors": %d, "other_status": %d, '
      .. '"gql_errors": %d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout, e.status, other, gql))
end
