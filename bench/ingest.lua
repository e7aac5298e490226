-- wrk script: real plugin requests against a receiver's /webhook.
--
--   wrk -t T -c C -d D -s bench/ingest.lua http://127.0.0.1:PORT/webhook \
--       -- json FIXTURE.json TAG
--   wrk ... -- multipart FIXTURE.http TAG
--
-- The fixture is the template: a JSON body (json) or a whole raw request
-- whose Content-Type and body are reused (multipart, the plugin's default
-- encoding). Every request gets its own printer ("b<TAG>-<thread>-<n>") and
-- its own currentTime, so no receiver ever sees a duplicate. TAG keeps
-- printers apart between runs on the same database.
--
-- done() prints one line for scripts/bench.sh to read:
--   BENCH requests=N seconds=S rps=R errors=E non2xx=X p50_ms=… p99_ms=…
--         p999_ms=… max_ms=… [each_p50_ms=… each_p99_ms=… each_p999_ms=…]
--
-- wrk's own percentiles are corrected for coordinated omission: at the end
-- it adds, for every answer slower than twice the mean interval, samples
-- for the requests a client sending at a steady rate would have had waiting
-- meanwhile (wrk.c, stats_correct). With one connection that multiplies
-- each stall by its length over the mean. With "each" after TAG (one thread,
-- one connection only) the script also times every answer itself, from the
-- request's creation to its response, and prints those percentiles as
-- each_*: what each request waited, with no sample added.

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local function read_file(path)
  local f = assert(io.open(path, "rb"), "cannot read " .. tostring(path))
  local text = f:read("*a")
  f:close()
  return text
end

-- Marks where the printer and the time go, then splits the template there.
local function mark(body, kind)
  local n1, n2
  if kind == "json" then
    body, n1 = body:gsub('("deviceIdentifier"%s*:%s*)"[^"]*"', '%1"@DEV@"', 1)
    body, n2 = body:gsub('("currentTime"%s*:%s*)[%d.]+', '%1@TIME@', 1)
  else
    body, n1 = body:gsub('(name="deviceIdentifier"\r\n\r\n)[^\r]*', '%1@DEV@', 1)
    body, n2 = body:gsub('(name="currentTime"\r\n\r\n)[^\r]*', '%1@TIME@', 1)
  end
  assert(n1 == 1 and n2 == 1,
         "the fixture needs a deviceIdentifier and a currentTime")
  local a, b = body:find("@DEV@", 1, true)
  local c, d = body:find("@TIME@", 1, true)
  assert(a < c, "deviceIdentifier must come before currentTime")
  return body:sub(1, a - 1), body:sub(b + 1, c - 1), body:sub(d + 1)
end

local head, middle, tail, headers
local counter = 0
local prefix

-- The monotonic clock in seconds, through LuaJIT's FFI (wrk embeds LuaJIT).
local function monotonic_clock()
  local ffi = require("ffi")
  ffi.cdef[[
    typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
    int clock_gettime(int clock, bench_timespec* ts);
  ]]
  local ts = ffi.new("bench_timespec")
  return function()
    ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
    return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
  end
end

local now, sent_at
each = {}  -- this thread's answer times, in ms (read by done())

function init(args)
  local kind, path, tag = args[1], args[2], args[3] or "0"
  if args[4] == "each" then
    -- Defined only here: a response() makes wrk hand every answer to Lua,
    -- which the 32-connection runs should not pay for.
    now = monotonic_clock()
    response = function()
      each[#each + 1] = (now() - sent_at) * 1000
    end
  end
  assert(kind == "json" or kind == "multipart", "kind: json or multipart")
  local text = read_file(path)
  headers = {}
  if kind == "json" then
    headers["Content-Type"] = "application/json"
  else
    local raw_headers, body = text:match("^(.-\r\n)\r\n(.*)$")
    assert(body, path .. " is not a raw HTTP request")
    headers["Content-Type"] = raw_headers:match("\r\n[Cc]ontent%-[Tt]ype:%s*([^\r]+)")
    text = body
  end
  head, middle, tail = mark(text, kind)
  prefix = "b" .. tag .. "-" .. tostring(tid) .. "-"
end

function request()
  counter = counter + 1
  local body = head .. prefix .. counter .. middle .. (1722565567 + counter) .. tail
  local r = wrk.format("POST", nil, headers, body)
  if now then sent_at = now() end
  return r
end

-- The p-th percentile (0 < p < 100) of the sorted list, nearest rank.
local function rank(sorted, p)
  return sorted[math.max(1, math.ceil(p / 100 * #sorted))]
end

function done(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    "BENCH requests=%d seconds=%.3f rps=%.1f errors=%d non2xx=%d " ..
    "p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f\n",
    summary.requests, seconds, summary.requests / seconds,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, latency.max / 1000))
  local all = {}
  for _, thread in ipairs(threads) do
    for _, ms in ipairs(thread:get("each") or {}) do all[#all + 1] = ms end
  end
  if #all > 0 then
    table.sort(all)
    io.write(string.format("BENCH-EACH each_p50_ms=%.3f each_p99_ms=%.3f " ..
                           "each_p999_ms=%.3f\n", rank(all, 50), rank(all, 99),
                           rank(all, 99.9)))
  end
end
