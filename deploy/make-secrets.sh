#!/bin/sh
# Makes the secrets docker-compose.yml mounts (Docker secrets), in deploy/secrets/ or the directory
# given: random passwords, the URIs that carry them, RabbitMQ's and Redis' credentials, MongoDB's
# keyFile. A file that exists is kept, so running it again changes nothing; delete a file to renew it
# (then recreate the containers that read it). Nothing here is ever committed (.gitignore).
#   sh deploy/make-secrets.sh [dir]
set -eu
DIR=${1:-$(dirname "$0")/secrets}
# The services that own a database: one MongoDB user and URI each (a new service with a store joins this list).
STORE_SERVICES="customers products orders alerts analytics payments carts notifications"
# The directory is the owner's alone; its files are readable by all, since compose (without Swarm) mounts
# each as it is, and the containers read them as their own users (node, rabbitmq, redis, mongodb).
mkdir -p "$DIR"
chmod 700 "$DIR"
umask 022

password() { openssl rand -hex 24; }
# Writes $2 into $DIR/$1 unless the file exists.
keep() { [ -s "$DIR/$1" ] || printf '%s\n' "$2" > "$DIR/$1"; }
# The password inside an existing URI secret (user:password@), else a new one.
password_of() { if [ -s "$DIR/$1" ]; then sed -n 's|^[a-z+]*://[^:]*:\([^@]*\)@.*|\1|p' "$DIR/$1"; else password; fi; }

keep jwt_secret "$(password)"
keep admin_password "$(password)"

RABBIT=$(password_of transporter)
keep transporter "amqp://shop:$RABBIT@rabbitmq:5672"
keep rabbitmq.conf "$(printf 'default_user = shop\ndefault_pass = %s\n' "$RABBIT")"

REDIS=$(password_of cacher)
keep cacher "redis://shop:$REDIS@redis:6379"
# The default user can do nothing; the shop's user everything (keys, channels, commands).
keep redis-users.acl "$(printf 'user default off\nuser shop on >%s ~* &* +@all\n' "$REDIS")"

keep mongo_root_password "$(password)"
[ -s "$DIR/mongo_keyfile" ] || openssl rand -base64 756 > "$DIR/mongo_keyfile"
keep mongo_backup.yaml "uri: mongodb://backup:$(password)@mongo:27017/?replicaSet=rs0&authSource=admin"
keep mongo_restore.yaml "uri: mongodb://restore:$(password)@mongo:27017/?replicaSet=rs0&authSource=admin"
for service in $STORE_SERVICES; do
	keep "mongo_uri_$service" "mongodb://$service:$(password)@mongo:27017/$service?replicaSet=rs0&authSource=$service"
done
echo "secrets in $DIR"
