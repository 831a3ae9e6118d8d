#!/bin/sh
# A city-profile RabbitMQ node (docker-compose.yml, docs/scale.md): writes where its
# HTTP auth backend asks who a device is, with the shared secret that RabbitMQ 3.10's
# rabbitmq.conf cannot read from the environment, then starts the node as the image does.
set -eu
: "${SMARTCITY_BROKER_AUTH_SECRET:?set SMARTCITY_BROKER_AUTH_SECRET in .env}"
base="${SMARTCITY_BROKER_AUTH_URL:-http://console:8080}/broker/auth/${SMARTCITY_BROKER_AUTH_SECRET}"
mkdir -p /etc/rabbitmq/conf.d
for k in user vhost resource topic; do
  echo "auth_http.${k}_path = ${base}/${k}"
done > /etc/rabbitmq/conf.d/20-auth-http.conf
exec docker-entrypoint.sh rabbitmq-server
