#!/bin/sh
# Runs httpd in the foreground with mod_rproxy balancing three backends that
# live in the same httpd. Called by "make -f Makefile.apxs demo".
#
#   demo/demo.sh [HTTPD]          HTTPD defaults to /usr/sbin/apache2
#
# Environment: DEMO_PORT (first port to try, default 8080), MODDIR (httpd's
# module directory, default from apxs). Everything it generates goes to
# demo/run/. Ctrl-C stops it.
set -e
cd "$(dirname "$0")/.."
top=$PWD
run=$top/demo/run
httpd=${1:-/usr/sbin/apache2}
moddir=${MODDIR:-$(apxs -q LIBEXECDIR 2>/dev/null || true)}
moddir=${moddir:-/usr/lib/apache2/modules}

die() {
    echo "demo: $*" >&2
    exit 1
}

[ -x "$httpd" ] || die "no httpd at $httpd (Debian: apt-get install apache2-bin)"
[ -f "$top/.libs/mod_rproxy.so" ] \
    || die "module not built: run make -f Makefile.apxs first"
for m in mpm_event authz_core mime alias headers; do
    [ -f "$moddir/mod_$m.so" ] || die "$moddir/mod_$m.so is missing"
done

# A demo already running from this checkout?
if [ -f "$run/httpd.pid" ] && kill -0 "$(cat "$run/httpd.pid")" 2>/dev/null
then
    die "already running (PID $(cat "$run/httpd.pid")); stop it first"
fi

# Is 127.0.0.1:$1 free? A bind test, with SO_REUSEADDR as httpd uses it.
port_free() {
    if command -v perl >/dev/null 2>&1; then
        perl -MIO::Socket::INET -e 'exit(IO::Socket::INET->new(
            LocalAddr => "127.0.0.1", LocalPort => $ARGV[0], Proto => "tcp",
            Listen => 1, ReuseAddr => 1) ? 0 : 1)' "$1"
    else
        [ -z "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
    fi
}

# The first free port from $1 on, skipping the ones already taken here.
next_port() {
    p=$1
    while [ "$p" -lt 65535 ]; do
        case " $taken " in
            *" $p "*) ;;
            *) if port_free "$p"; then echo "$p"; return 0; fi ;;
        esac
        p=$((p + 1))
    done
    die "no free port from $1 on"
}

taken=
port=$(next_port "${DEMO_PORT:-8080}"); taken="$port"
b1=$(next_port $((port + 1))); taken="$taken $b1"
b2=$(next_port $((b1 + 1))); taken="$taken $b2"
b3=$(next_port $((b2 + 1)))

# httpd's children drop root for www-data (or nobody): they must be able to
# read the backends' files.
user_lines=
runas=
if [ "$(id -u)" = 0 ]; then
    if getent passwd www-data >/dev/null; then
        runas=www-data
        user_lines="User www-data
Group www-data"
    else
        runas=nobody
        user_lines="User nobody
Group $(getent group nogroup >/dev/null && echo nogroup || echo nobody)"
    fi
fi

rm -rf "$run"
mkdir -p "$run/htdocs"
for b in one two three; do
    echo "ok" > "$run/htdocs/health-$b.txt"
    echo "backend $b" > "$run/htdocs/$b.txt"
done
chmod -R a+rX "$run"
docs=$run/htdocs
tmpdocs=
if [ -n "$runas" ] \
   && ! runuser -u "$runas" -- test -r "$docs/one.txt" 2>/dev/null; then
    # a parent directory is closed to $runas (a checkout under /root, say):
    # serve a copy from /tmp instead of opening up the parents
    tmpdocs=$(mktemp -d /tmp/rproxy-demo.XXXXXX)
    cp "$docs"/*.txt "$tmpdocs/"
    chmod -R a+rX "$tmpdocs"
    docs=$tmpdocs
fi

sed -e "s|@TOP@|$top|g" -e "s|@RUN@|$run|g" -e "s|@DOCS@|$docs|g" \
    -e "s|@MODDIR@|$moddir|g" -e "s|@PORT@|$port|g" \
    -e "s|@B1@|$b1|g" -e "s|@B2@|$b2|g" -e "s|@B3@|$b3|g" \
    demo/httpd.conf.in > "$run/httpd.conf.tmp"
# @USER@ stands alone on its line: replace the line, which may be empty
awk -v u="$user_lines" '$0 == "@USER@" { if (u != "") print u; next } 1' \
    "$run/httpd.conf.tmp" > "$run/httpd.conf"
rm -f "$run/httpd.conf.tmp"

if ! out=$("$httpd" -d "$run" -f "$run/httpd.conf" -t 2>&1); then
    echo "$out" >&2
    die "httpd refused the configuration ($run/httpd.conf)"
fi

url="http://127.0.0.1:$port/"
cat <<EOF

mod_rproxy demo
  open        $url
  pool demo   one   http://127.0.0.1:$b1   weight=1
              two   http://127.0.0.1:$b2   weight=2
              three http://127.0.0.1:$b3   weight=1
              balancer round_robin (smooth weighted)

  watch the rotation (two one three two, then again):
    for i in 1 2 3 4 5 6 7 8; do curl -s $url; done
  see what a backend received (X-Backend, X-Backend-Path headers):
    curl -si ${url}one/hello      (RProxyPass /one/ -> backend one, path /hello)

  the status page (state, in flight, requests, latency per member):
    ${url}rproxy-status      (also ?json and ?prometheus)
  drain a member from the page: press "drain" in backend two's row; new
  requests stop reaching it at once, in every child, and its in-flight
  count goes to zero; "undrain" brings it back. The same with curl:
    nonce=\$(curl -s '${url}rproxy-status?json' | sed 's/.*"nonce":"\([0-9a-f]*\)".*/\1/')
    curl -s -H 'Accept: application/json' -d "nonce=\$nonce&pool=demo" \\
         --data-urlencode "member=http://127.0.0.1:$b2" -d action=drain \\
         ${url}rproxy-status
  take backend three out: its health check (GET /health, every second)
  then fails; two failures and it is out, for every child process at once:
    mv $docs/health-three.txt $docs/health-three.off
  and back (two passes, then its weight ramps up over 10 s of slow start):
    mv $docs/health-three.off $docs/health-three.txt

  The access log below shows pool, member and tries per request.

  config: $run/httpd.conf
  Ctrl-C stops httpd.

EOF

cleanup() {
    [ -z "$tmpdocs" ] || rm -rf "$tmpdocs"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# not exec: the trap removes the /tmp copy, if any, once httpd is gone
"$httpd" -d "$run" -f "$run/httpd.conf" -DFOREGROUND
