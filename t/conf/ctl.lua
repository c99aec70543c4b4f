-- 23_ctl.t: a fixup that decodes the query string, as a careless script
-- would; the proxy must refuse what that makes of %0d%0a.
function decode_query(r)
    if r.args then
        r.args = r:unescape(r.args)
    end
    return apache2.DECLINED
end

-- a request header from the decoded query
function header_from_query(r)
    if r.args then
        r.headers_in['X-Inj'] = r:unescape(r.args)
    end
    return apache2.DECLINED
end
