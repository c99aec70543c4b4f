-- wrk script for bench/run.sh: after wrk's own report, prints one line that
-- run.sh parses, so no unit-suffixed human output ("1.23GB") is ever parsed.
-- status = responses that were not 2xx/3xx (wrk's own count).
done = function(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "RESULT requests=%d bytes=%d duration_us=%d connect=%d read=%d " ..
        "write=%d status=%d timeout=%d p50_us=%d p99_us=%d\n",
        summary.requests, summary.bytes, summary.duration,
        e.connect, e.read, e.write, e.status, e.timeout,
        latency:percentile(50), latency:percentile(99)))
end
