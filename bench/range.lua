-- wrk script: GET one path, optionally with an Authorization header and a
-- random Range of `chunk` bytes (chunk 0 = whole file).
-- usage: wrk ... -s bench/range.lua URL -- PATH AUTH SIZE CHUNK
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_id", counter)
end

local path, auth, size, chunk

function init(args)
  path = args[1]
  auth = args[2]
  size = tonumber(args[3])
  chunk = tonumber(args[4])
  math.randomseed(os.time() + 7919 * (thread_id or 0))
end

function request()
  local headers = {}
  if auth ~= nil and auth ~= "" then
    headers["Authorization"] = auth
  end
  if chunk > 0 then
    local first = math.random(0, size - chunk)
    headers["Range"] = "bytes=" .. first .. "-" .. (first + chunk - 1)
  end
  return wrk.format("GET", path, headers)
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRK_JSON {"requests": %d, "bytes": %d, "duration_us": %d, "errors_connect": %d, ' ..
    '"errors_read": %d, "errors_write": %d, "errors_status": %d, "errors_timeout": %d, ' ..
    '"latency_mean_us": %.1f, "latency_p50_us": %d, "latency_p99_us": %d, "latency_max_us": %d}\n',
    summary.requests, summary.bytes, summary.duration,
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout,
    latency.mean, latency:percentile(50), latency:percentile(99), latency.max))
end
