#!/bin/sh
# Installs the Debian packages a make target needs, when they are missing.
#   scripts/deps.sh build   apxs and the httpd headers, a compiler
#   scripts/deps.sh test    + Apache::Test (libapache2-mod-perl2), LWP, openssl,
#                           curl (an HTTP/2 client for 83_interop_h2.t),
#                           python3-h2 (HTTP/2 WebSocket client, 33_tunnel_faults.t)
#   scripts/deps.sh bench   + wrk
# As root it runs apt-get; otherwise it prints the command to run.
set -e
need_build="apache2-bin apache2-dev libssl-dev gcc libc6-dev make"
need_test="$need_build libapache2-mod-perl2 libwww-perl openssl perl curl \
           python3-h2"
need_bench="$need_test wrk"
case "${1:-build}" in
    build) pkgs=$need_build ;;
    test)  pkgs=$need_test ;;
    bench) pkgs=$need_bench ;;
    *) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac
missing=
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
        || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
    echo "mod_rproxy: missing Debian packages:$missing" >&2
    echo "run as root: apt-get update && $cmd" >&2
    exit 1
fi
echo "mod_rproxy: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
$cmd
