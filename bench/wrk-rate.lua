-- wrk script for bench/compare.sh's fixed-rate test: each connection waits
-- WRK_DELAY_MS milliseconds (environment) before each request, so that
-- CONNS connections send about CONNS * 1000 / WRK_DELAY_MS requests/s
-- (a little less: each request's own latency adds to its wait), far below
-- what any of the proxies can serve, and the same for all. The RESULT line
-- comes from wrk-report.lua (WRK_REPORT: its path).
local ms = tonumber(os.getenv("WRK_DELAY_MS") or "10")

delay = function()
    return ms
end

dofile(os.getenv("WRK_REPORT"))
