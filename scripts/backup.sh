#!/usr/bin/env bash
# Back up a whole Kreide deployment: the database and the file store, with checksums.
#
#   scripts/backup.sh [BACKUP_ROOT]
#
# Reads the deployment's own settings from the environment: KREIDE_DATABASE_URL
# (PostgreSQL; without it the embedded SQLite database KREIDE_DATA_DIR/kreide.sqlite3),
# KREIDE_DATA_DIR (default: var/ in the checkout) and KREIDE_STORAGE_DIR (default:
# KREIDE_DATA_DIR/blobs). BACKUP_ROOT defaults to KREIDE_BACKUP_DIR, else
# KREIDE_DATA_DIR/backups. Writes BACKUP_ROOT/kreide-YYYYmmddTHHMMSSZ/:
#   database.dump    pg_dump -Fc (PostgreSQL)   or   kreide.sqlite3 (SQLite .backup)
#   blobs/           the content-addressed file store (hard links to the previous
#                    backup's copies where unchanged: files never change under a hash)
#   mail/            the school e-mail's mailboxes (KREIDE_MAIL_DIR/mailboxes, Maildir), if
#                    Kreide runs mail here; unchanged mails are hard links as for blobs
#   secret_key       the generated secret key, if the deployment uses one
#   INFO, SHA256SUMS what was backed up, and a checksum of every file
# The database is dumped before the files are copied, under the lock `kreide purge-blobs`
# takes: between the two, files are only added, so every file the dump refers to is in the
# copy. Runs while the school is in use.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
data_dir="${KREIDE_DATA_DIR:-$here/var}"
storage_dir="${KREIDE_STORAGE_DIR:-$data_dir/blobs}"
mailboxes="${KREIDE_MAIL_DIR:-$data_dir/mail}/mailboxes"
root="${1:-${KREIDE_BACKUP_DIR:-$data_dir/backups}}"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
target="$root/kreide-$stamp"
partial="$target.partial"

fail() { echo "backup: $*" >&2; exit 1; }
[ -e "$target" ] && fail "$target exists already."
mkdir -p "$root"
previous="$(find "$root" -maxdepth 1 -type d -name 'kreide-*Z' | sort | tail -n 1)"
rm -rf "$partial"
mkdir -p "$partial/blobs"
trap 'rm -rf "$partial"' EXIT

# `kreide purge-blobs` removes files nothing refers to; it takes this lock exclusively, so
# it never removes a file between the database dump (which may still refer to it) and the
# copy. Shared: backups and exports may run side by side.
mkdir -p "$storage_dir"
exec 9>>"$storage_dir/collect.lock"
flock -s 9 || fail "could not lock $storage_dir/collect.lock."

if [ -n "${KREIDE_DATABASE_URL:-}" ]; then
  case "$KREIDE_DATABASE_URL" in
    postgres://*|postgresql://*) ;;
    *) fail "KREIDE_DATABASE_URL is not a PostgreSQL URL." ;;
  esac
  # -Fc: compressed, restorable table by table; a dump is one consistent snapshot.
  pg_dump --format=custom --no-owner --no-privileges --file="$partial/database.dump" \
    --dbname="$KREIDE_DATABASE_URL" || fail "pg_dump failed."
  database="postgresql"
else
  sqlite_db="$data_dir/kreide.sqlite3"
  [ -f "$sqlite_db" ] || fail "no KREIDE_DATABASE_URL and no SQLite database at $sqlite_db."
  # SQLite's online backup copies a consistent state while others keep writing (WAL).
  sqlite3 "$sqlite_db" ".timeout 20000" ".backup '$partial/kreide.sqlite3'" \
    || fail "sqlite3 .backup failed."
  database="sqlite"
fi

if [ -d "$storage_dir" ]; then
  link=()
  [ -n "$previous" ] && [ -d "$previous/blobs" ] && link=(--link-dest="$previous/blobs")
  rsync -a "${link[@]}" --exclude=/staging/ --exclude=/collect.lock "$storage_dir/" "$partial/blobs/" \
    || fail "copying the file store failed."
fi
if [ -d "$mailboxes" ]; then
  # Maildir: a mail is a file that is only ever renamed (flags) or deleted, never changed.
  # A mail renamed during the copy vanishes from rsync's list (exit 24); the second pass
  # picks it up under its new name.
  link=()
  [ -n "$previous" ] && [ -d "$previous/mail" ] && link=(--link-dest="$previous/mail")
  for pass in 1 2; do
    status=0
    rsync -a "${link[@]}" --exclude=tmp/ "$mailboxes/" "$partial/mail/" || status=$?
    [ "$status" -eq 0 ] || [ "$status" -eq 24 ] || fail "copying the mailboxes failed."
  done
fi
[ -f "$data_dir/secret_key" ] && cp -p "$data_dir/secret_key" "$partial/secret_key"

cat > "$partial/INFO" <<INFO
kreide-backup 1
created $stamp
database $database
files $(find "$partial/blobs" -type f | wc -l)
mails $( [ -d "$partial/mail" ] && find "$partial/mail" -type f -path '*/cur/*' -o -type f -path '*/new/*' | wc -l || echo 0)
INFO
(cd "$partial" && find . -type f ! -name SHA256SUMS -print0 | sort -z \
  | xargs -0 -r sha256sum > SHA256SUMS)
mv "$partial" "$target"
trap - EXIT
echo "$target"
