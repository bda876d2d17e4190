#!/usr/bin/env bash
# Restore a backup written by scripts/backup.sh into this deployment.
#
#   scripts/restore.sh [--force] BACKUP_DIR
#
# Target from the environment, as for the running deployment: KREIDE_DATABASE_URL
# (PostgreSQL) or the embedded SQLite database in KREIDE_DATA_DIR, KREIDE_STORAGE_DIR and
# KREIDE_MAIL_DIR (the mailboxes).
# Every checksum is verified before anything is written. A database that already holds
# Kreide tables is only overwritten with --force. Stop the application servers first.
set -euo pipefail

force=0
if [ "${1:-}" = "--force" ]; then force=1; shift; fi
[ $# -eq 1 ] || { echo "usage: $0 [--force] BACKUP_DIR" >&2; exit 2; }
backup="$(cd "$1" && pwd)"
here="$(cd "$(dirname "$0")/.." && pwd)"
data_dir="${KREIDE_DATA_DIR:-$here/var}"
storage_dir="${KREIDE_STORAGE_DIR:-$data_dir/blobs}"
mailboxes="${KREIDE_MAIL_DIR:-$data_dir/mail}/mailboxes"

fail() { echo "restore: $*" >&2; exit 1; }
[ -f "$backup/SHA256SUMS" ] || fail "$backup has no SHA256SUMS: not a complete backup."
(cd "$backup" && sha256sum --quiet --strict -c SHA256SUMS) \
  || fail "checksums do not match: the backup in $backup is damaged; nothing restored."

if [ -f "$backup/database.dump" ]; then
  [ -n "${KREIDE_DATABASE_URL:-}" ] || fail "a PostgreSQL backup needs KREIDE_DATABASE_URL."
  tables="$(psql --no-psqlrc -tAq --dbname="$KREIDE_DATABASE_URL" \
    -c "select count(*) from information_schema.tables where table_name = 'django_migrations'")" \
    || fail "cannot connect to the target database."
  if [ "$tables" != "0" ] && [ "$force" -ne 1 ]; then
    fail "the target database already holds Kreide tables; pass --force to overwrite it."
  fi
  pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction \
    --exit-on-error --dbname="$KREIDE_DATABASE_URL" "$backup/database.dump" \
    || fail "pg_restore failed; the target database is unchanged."
elif [ -f "$backup/kreide.sqlite3" ]; then
  [ -z "${KREIDE_DATABASE_URL:-}" ] \
    || fail "a SQLite backup restores into the embedded mode (unset KREIDE_DATABASE_URL); to move to PostgreSQL use kreide export / kreide import."
  sqlite_db="$data_dir/kreide.sqlite3"
  if [ -f "$sqlite_db" ] && [ "$force" -ne 1 ]; then
    fail "$sqlite_db exists; pass --force to overwrite it."
  fi
  mkdir -p "$data_dir"
  cp "$backup/kreide.sqlite3" "$sqlite_db.restoring"
  rm -f "$sqlite_db-wal" "$sqlite_db-shm"
  mv "$sqlite_db.restoring" "$sqlite_db"
else
  fail "$backup holds no database."
fi

mkdir -p "$storage_dir"
# Additive: files are content-addressed, existing ones are identical by construction.
[ -d "$backup/blobs" ] && rsync -a "$backup/blobs/" "$storage_dir/"
if [ -d "$backup/mail" ]; then
  # Additive like the blobs: mails deleted since the backup come back, newer ones stay.
  mkdir -p "$mailboxes"
  rsync -a "$backup/mail/" "$mailboxes/" || fail "restoring the mailboxes failed."
fi
if [ -f "$backup/secret_key" ] && { [ ! -f "$data_dir/secret_key" ] || [ "$force" -eq 1 ]; }; then
  install -m 600 "$backup/secret_key" "$data_dir/secret_key"
fi
echo "restored $backup"
