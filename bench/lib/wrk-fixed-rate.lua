-- wrk script for bench/run: each connection waits 8 ms before each
-- request (an approximately fixed request rate: 8 connections -> ~1000/s),
-- and the summary is printed as one JSON line.
function delay()
  return 8
end

function done(summary, latency, requests)
  local non2xx = summary.errors.status + summary.errors.connect +
                 summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    '{"requests":%d,"rps":%.1f,"p50_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"non2xx":%d}\n',
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, non2xx))
end
