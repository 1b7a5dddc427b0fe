#!/bin/sh
# Installs the Debian packages that building and testing vmaild need.
# Idempotent: when everything is there it only runs one dpkg-query.
# Daemons that come with the tool packages (mariadb, nsd, dovecot) are
# tools for the tests, never system services: policy-rc.d keeps the
# install from starting them, and any that run anyway are stopped.
set -eu

PKGS="gcc make pkg-config clang libclang-rt-14-dev
libevent-dev libssl-dev openssl libsqlite3-dev sqlite3 libmariadb-dev
libunbound-dev libcrypt-dev libargon2-dev zlib1g-dev libinih-dev
libjansson-dev libcmocka-dev
python3 python3-pytest mariadb-server mariadb-client nsd ldnsutils
dovecot-core dovecot-imapd isync swaks libnet-ssleay-perl libio-socket-ssl-perl libauthen-sasl-perl
valgrind procps dns-root-data postfix"

missing=""
for p in $PKGS; do
	s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$s" = "installed" ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing" >&2
	echo "deps: run 'make deps' as root (or: sudo apt-get install$missing)" >&2
	exit 1
fi

echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
stamp=/var/lib/apt/lists/vmaild-updated
if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440 2>/dev/null)" ]; then
	apt-get update -q
	touch "$stamp"
fi
prc=/usr/sbin/policy-rc.d
had_prc=0
[ -e "$prc" ] && had_prc=1
if [ $had_prc = 0 ]; then
	printf '#!/bin/sh\nexit 101\n' > "$prc"
	chmod 755 "$prc"
fi
# postfix is here for its smtp-source / smtp-sink load tools only: no
# mail system configuration, so it installs without a question and with
# no main.cf it has nothing to run.
if echo "$missing" | grep -qw postfix; then
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
fi
rc=0
apt-get install -y -q --no-install-recommends $missing || rc=$?
[ $had_prc = 0 ] && rm -f "$prc"
[ $rc = 0 ] || exit $rc

# Stop and disable what an install may have started anyway.
for svc in mariadb mysql nsd dovecot postfix; do
	if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
		systemctl disable --now "$svc" >/dev/null 2>&1 || true
	fi
done
for d in mariadbd mysqld nsd dovecot; do
	pkill -x "$d" 2>/dev/null || true
done
if command -v postfix >/dev/null 2>&1 && postfix status >/dev/null 2>&1; then
	postfix stop >/dev/null 2>&1 || true
fi
exit 0
