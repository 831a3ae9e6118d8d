#!/bin/sh
# Builds Mosquitto's password file from the environment and the device list (so no
# password is baked into an image or committed), then runs the broker.
#   MQTT_SERVICE_PASSWORD        required: user smartcity-service
#   MQTT_SIM_PASSWORD            optional: users sim-tags and sim-cameras
#   MQTT_ALERTS_READER_PASSWORD  optional: user alerts-reader
#   devices file                 optional: one "device_id:password" a line (# comments)
#   tag password file            optional: tags activated in the web portal, already hashed:
#                                `smartcity-iot users tag-passwords > deploy/mosquitto/tags.passwd`
set -eu
CONF=${MOSQUITTO_CONF:-/mosquitto/config/mosquitto.conf}
PASSWD=${MOSQUITTO_PASSWD_FILE:-/mosquitto/data/passwd}
DEVICES=${MOSQUITTO_DEVICES_FILE:-/mosquitto/devices/devices.txt}
TAGS=${MOSQUITTO_TAG_PASSWD_FILE:-/mosquitto/devices/tags.passwd}

umask 077
plain="$PASSWD.plain"
: > "$plain"
echo "smartcity-service:${MQTT_SERVICE_PASSWORD:?set MQTT_SERVICE_PASSWORD}" >> "$plain"
if [ -n "${MQTT_SIM_PASSWORD:-}" ]; then
  echo "sim-tags:$MQTT_SIM_PASSWORD" >> "$plain"
  echo "sim-cameras:$MQTT_SIM_PASSWORD" >> "$plain"
fi
if [ -n "${MQTT_ALERTS_READER_PASSWORD:-}" ]; then
  echo "alerts-reader:$MQTT_ALERTS_READER_PASSWORD" >> "$plain"
fi
if [ -f "$DEVICES" ]; then
  grep -v '^[[:space:]]*#' "$DEVICES" | grep ':' >> "$plain" || true
fi
mosquitto_passwd -U "$plain"   # hashes every line in place (sha512-pbkdf2 on 2.0)
if [ -f "$TAGS" ]; then
  grep -v '^[[:space:]]*#' "$TAGS" | grep ':' >> "$plain" || true   # hashed by the portal already
fi
mv "$plain" "$PASSWD"
if [ "$(id -u)" = 0 ] && id mosquitto >/dev/null 2>&1; then
  chown mosquitto:mosquitto "$PASSWD"   # the broker drops to this user before reading it
fi
[ "${1:-}" = "--passwd-only" ] && exit 0
exec mosquitto -c "$CONF"
