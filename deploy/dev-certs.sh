#!/bin/sh
# A self-signed certificate for development (the `dev` profile of docker-compose.yml runs this in a
# container; or run it here): deploy/certs/fullchain.pem and privkey.pem, or in the directory given,
# for localhost. Browsers warn about it; production mounts real certificates there instead
# (TLS_CERT_DIR). An existing pair is kept. Never committed (.gitignore).
#   sh deploy/dev-certs.sh [dir]
set -eu
DIR=${1:-$(dirname "$0")/certs}
command -v openssl > /dev/null || apk add --no-cache openssl > /dev/null
umask 077
mkdir -p "$DIR"
if [ -s "$DIR/fullchain.pem" ] && [ -s "$DIR/privkey.pem" ]; then
	echo "certificate kept in $DIR"
	exit 0
fi
openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=localhost" \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
	-keyout "$DIR/privkey.pem" -out "$DIR/fullchain.pem" 2> /dev/null
# nginx's workers read the key as the image's nginx user.
chmod 644 "$DIR/fullchain.pem" "$DIR/privkey.pem"
echo "self-signed certificate for localhost in $DIR"
