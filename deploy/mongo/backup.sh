#!/bin/sh
# The `mongo-backup` service of docker-compose.yml (profile `backup`): one consistent archive of every
# service database, taken from the running replica set (mongodump --oplog: the copy is of one point
# in time even while orders are placed), gzipped, in /backup (BACKUP_DIR on the host). Archives older
# than BACKUP_KEEP_DAYS (default 14) are removed. The credentials come from the mongo_backup_config
# secret (--config), so no password is on a command line.
#   docker compose --profile backup run --rm mongo-backup
# Restore: deploy/mongo/restore.sh (the mongo-restore service).
set -eu
ARCHIVE="/backup/shop-$(date -u +%Y%m%dT%H%M%SZ).archive.gz"
mongodump --config /run/secrets/mongo_backup_config --oplog --gzip --archive="$ARCHIVE.part"
mv "$ARCHIVE.part" "$ARCHIVE"
find /backup -name 'shop-*.archive.gz' -mtime +"${BACKUP_KEEP_DAYS:-14}" -delete
echo "backup: $ARCHIVE"
