#!/usr/bin/env bash
# Installs the Debian packages Kreide needs, only those missing.
#   scripts/system-packages.sh run    what `make run` needs (gettext for translations)
#   scripts/system-packages.sh test   plus what the tests drive: chromium, janus, litmus, nginx,
#                                      postfix, dovecot and apache2 with mod_auth_openidc
set -euo pipefail
want=(gettext)
if [ "${1:-run}" = "test" ]; then
  want+=(chromium janus libjs-janus-gateway libjs-webrtc-adapter litmus nginx libnginx-mod-http-brotli-static iproute2 util-linux)
  want+=(postgresql-client-15 sqlite3 rsync)  # scripts/backup.sh and its restore drill
  want+=(haproxy postgresql-15)  # tests/deploy: several nodes behind HAProxy, a streaming replica
  want+=(postfix dovecot-imapd dovecot-lmtpd dovecot-auth-lua lua-socket opendkim opendkim-tools)  # school e-mail
  want+=(apache2 libapache2-mod-auth-openidc)  # a real OpenID Connect relying party
  want+=(glusterfs-server glusterfs-client)  # tests/deploy/test_shared_store.py: the shared store on a network file system
fi
missing=()
for package in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "Kreide needs these Debian packages: ${missing[*]}" >&2
  echo "Install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "Installing Debian packages: ${missing[*]}"
# Wait for another apt run (a second checkout installing at the same time) instead of failing.
apt-get -o DPkg::Lock::Timeout=900 update -q >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends "${missing[@]}" >/dev/null
