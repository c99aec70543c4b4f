# bench/lib.sh - helpers shared by bench/run.sh and bench/faults.sh
# (sourced, not run).

# free_ports N: N distinct free 127.0.0.1 ports on one line (all held open
# together while they are picked, so they differ).
free_ports() {
    perl -MIO::Socket::INET -e '
        my @s = map { IO::Socket::INET->new(Listen => 1, ReuseAddr => 1,
                LocalAddr => "127.0.0.1", LocalPort => 0) or die "$!\n" } 1..$ARGV[0];
        print join(" ", map { $_->sockport } @s), "\n"' "$1"
}

# httpd_user_lines: the User/Group lines an httpd started as root needs.
httpd_user_lines() {
    if [ "$(id -u)" = 0 ]; then
        if getent passwd www-data >/dev/null; then
            echo "User www-data"; echo "Group www-data"
        else
            echo "User nobody"; echo "Group nogroup"
        fi
    fi
}

# log_trouble FILE: the lines of an error_log that mean trouble (error
# level and above, crashes).
log_trouble() {
    grep -E '\[[a-z_]*:(emerg|alert|crit|error)\]|exit signal|Segmentation fault|pool concurrency check' "$1" || true
}
