#!/bin/sh
# Run a command (usually `pytest -m janus`) in a private network namespace in which Janus
# can gather ICE candidates: Janus skips loopback interfaces, so a veth pair with
# 127.0.0.2 on jdummy0 carries them, and all traffic stays on 127.0.0.0/8
# (../shared/notes/janus-on-this-machine.md). Needs root (CI runs as root).
#
# PostgreSQL is reached through its Unix socket (TCP on the host's 127.0.0.1 is not
# visible in the namespace), Redis is not used inside (in-process cache).
#   scripts/janus/in-netns.sh .venv/bin/pytest tests/video -m janus
set -eu
if [ -n "${KREIDE_DATABASE_URL:-}" ]; then
  db_name="${KREIDE_DATABASE_URL##*/}"
  KREIDE_DATABASE_URL="postgres://postgres@%2Fvar%2Frun%2Fpostgresql/${db_name}"
  export KREIDE_DATABASE_URL
fi
unset KREIDE_REDIS_URL
exec unshare --net --fork -- sh -c '
  set -e
  ip link set lo up
  ip link add jdummy0 type veth peer name jdummy1
  ip link set jdummy0 up
  ip link set jdummy1 up
  ip addr add 127.0.0.2/32 dev jdummy0
  export KREIDE_JANUS_ICE_INTERFACE=jdummy0
  exec "$@"' sh "$@"
