#!/bin/sh
# Installs the built module; run by "make -f Makefile.apxs install".
#
#   tools/install.sh [APXS]         APXS defaults to apxs on the PATH
#
# DESTDIR (environment) is put in front of every path written, as for any
# "make install". The module goes to httpd's module directory (apxs -i).
# On Debian's layout (a mods-available directory, a2enmod, or Debian's
# apxs) rproxy.load and rproxy.conf go to mods-available, so that
# "a2enmod rproxy" enables it; elsewhere it prints the LoadModule line.
# An rproxy.conf already there that differs from conf/rproxy.conf is
# kept (the new one goes next to it as rproxy.conf.dist).
set -e
cd "$(dirname "$0")/.."
apxs=${1:-apxs}
libexecdir=$("$apxs" -q LIBEXECDIR)
sysconfdir=$("$apxs" -q SYSCONFDIR)
[ -n "$libexecdir" ] || { echo "install: $apxs -q LIBEXECDIR said nothing" >&2; exit 1; }
[ -f mod_rproxy.la ] || { echo "install: not built: run make -f Makefile.apxs" >&2; exit 1; }
loadmodule="LoadModule rproxy_module $libexecdir/mod_rproxy.so"

# apxs -i ignores DESTDIR; it installs into LIBEXECDIR, which -S moves
mkdir -p "$DESTDIR$libexecdir"
"$apxs" -i -S LIBEXECDIR="$DESTDIR$libexecdir" -n rproxy mod_rproxy.la

debian=
if [ -d "$sysconfdir/mods-available" ] || command -v a2enmod >/dev/null 2>&1 \
   || { [ -f /etc/debian_version ] && [ "$sysconfdir" = /etc/apache2 ]; }; then
    debian=yes
fi
if [ -z "$debian" ]; then
    echo
    echo "mod_rproxy installed as $libexecdir/mod_rproxy.so; to load it, add"
    echo "to httpd.conf:"
    echo "    $loadmodule"
    exit 0
fi

avail=$DESTDIR$sysconfdir/mods-available
mkdir -p "$avail"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
echo "$loadmodule" > "$tmp"
install -m 644 "$tmp" "$avail/rproxy.load"
echo "installed $avail/rproxy.load"
if [ -f "$avail/rproxy.conf" ] && ! cmp -s conf/rproxy.conf "$avail/rproxy.conf"
then
    install -m 644 conf/rproxy.conf "$avail/rproxy.conf.dist"
    echo "kept your $avail/rproxy.conf; the new one is rproxy.conf.dist"
else
    install -m 644 conf/rproxy.conf "$avail/rproxy.conf"
    echo "installed $avail/rproxy.conf"
fi
echo
echo "enable it:  a2enmod rproxy && apachectl configtest && systemctl reload apache2"
