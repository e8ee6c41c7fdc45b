#!/bin/sh
# The `mongo-restore` service of docker-compose.yml (profile `restore`): every database as it was at
# the end of one archive of deploy/mongo/backup.sh (--oplogReplay: the same single point in time),
# replacing what is there (--drop). Stop the nodes first, so that nothing writes meanwhile:
#   docker compose stop api customers products orders alerts analytics
#   docker compose --profile restore run --rm mongo-restore shop-<time>.archive.gz
#   docker compose start api customers products orders alerts analytics
# A node started on the restored data settles what was half done at that instant, as after a crash.
set -eu
[ $# -eq 1 ] || { echo "usage: mongo-restore <archive file in BACKUP_DIR>" >&2; exit 2; }
ARCHIVE="/backup/$(basename "$1")"
[ -s "$ARCHIVE" ] || { echo "no archive $ARCHIVE" >&2; exit 1; }
mongorestore --config /run/secrets/mongo_restore_config --archive="$ARCHIVE" --gzip --oplogReplay --drop
echo "restored: $ARCHIVE"
