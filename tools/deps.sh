#!/bin/sh
# The Debian packages mod_rproxy needs, by purpose:
#   build   apxs and the httpd headers, a compiler
#   test    + Apache::Test (libapache2-mod-perl2), LWP, openssl,
#           curl (an HTTP/2 client for 83_interop_h2.t),
#           python3-h2 (HTTP/2 WebSocket client, 33_tunnel_faults.t and
#           84_h2_websocket.t)
#   bench   + wrk; nginx and python3-websockets (bench/websockets.sh);
#           haproxy and strace (bench/compare.sh)
#   browser optional: headless Chromium and python3-websockets, for the
#           status page in a real browser (73_status_page.t skips its
#           browser checks without them); "make deps" tries them after
#           test, and a failure there does not fail it
#
#   tools/deps.sh check PURPOSE     exit 1 naming what is missing
#   tools/deps.sh install PURPOSE   apt-get install what is missing (root)
#
# "make -f Makefile.apxs deps" (and deps-bench) run install; building only
# runs check.
set -e
need_build="apache2-bin apache2-dev libssl-dev gcc libc6-dev make"
need_test="$need_build libapache2-mod-perl2 libwww-perl openssl perl curl \
           python3-h2"
need_bench="$need_test wrk nginx haproxy strace python3-websockets"
need_browser="chromium python3-websockets"
usage() {
    echo "usage: $0 check|install build|test|bench|browser" >&2
    exit 2
}
mode=$1
case "$2" in
    build) pkgs=$need_build; target=deps ;;
    test)  pkgs=$need_test; target=deps ;;
    bench) pkgs=$need_bench; target=deps-bench ;;
    browser) pkgs=$need_browser; target=deps ;;
    *) usage ;;
esac
missing=
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
        || missing="$missing $p"
done
case "$mode" in
    check)
        [ -z "$missing" ] && exit 0
        echo "mod_rproxy: missing Debian packages:$missing" >&2
        echo "install them (as root): make -f Makefile.apxs $target" >&2
        exit 1 ;;
    install) ;;
    *) usage ;;
esac
if [ -z "$missing" ]; then
    echo "mod_rproxy: the Debian packages for $2 are installed"
    exit 0
fi
cmd="apt-get install -y -q --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
    echo "mod_rproxy: missing Debian packages:$missing" >&2
    echo "run as root: apt-get update && $cmd" >&2
    exit 1
fi
echo "mod_rproxy: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# the package lists may be stale (or absent, as in a fresh container):
# update them only when the install fails
$cmd </dev/null || { apt-get update -q && $cmd </dev/null; }
