#!/bin/sh
# Builds Mosquitto's password file from the environment and the device list (so no
# password is baked into an image or committed), then runs the broker.
#   MQTT_SERVICE_PASSWORD        required: user smartcity-service
#   MQTT_SIM_PASSWORD            optional: users sim-tags and sim-cameras
#   MQTT_ALERTS_READER_PASSWORD  optional: user alerts-reader
#   devices file                 optional: one "device_id:password" a line (# comments)
#   tag password file            optional: tags activated in the web portal, already hashed:
#                                `smartcity-iot users tag-passwords > deploy/mosquitto/tags.passwd`
# One line per user: the accounts above are reserved (a device or tag line naming one,
# or a second line for a user, is skipped with a warning), because Mosquitto takes the
# later of two lines and a device would log in as the service.
#   entrypoint.sh                 build the file, then run the broker
#   entrypoint.sh --passwd-only   build the file only
#   entrypoint.sh --reload        rebuild it, then SIGHUP the running broker (MOSQUITTO_PID,
#                                 default 1 in the container): a deactivated tag's login stops
#                                 working and its open connection is closed; others stay
set -eu
CONF=${MOSQUITTO_CONF:-/mosquitto/config/mosquitto.conf}
PASSWD=${MOSQUITTO_PASSWD_FILE:-/mosquitto/data/passwd}
DEVICES=${MOSQUITTO_DEVICES_FILE:-/mosquitto/devices/devices.txt}
TAGS=${MOSQUITTO_TAG_PASSWD_FILE:-/mosquitto/devices/tags.passwd}
RESERVED="smartcity-service alerts-reader sim-tags sim-cameras"  # = store/broker_users.py

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

# Device lines (from FILE) that may be added: not a reserved or already listed user, not a
# name with topic characters or a leading $. Warnings go to stderr, never the password.
devices_of() {
  grep -v '^[[:space:]]*#' "$1" | grep ':' | awk -F: -v reserved="$RESERVED" -v listed="$2" -v from="$1" '
    BEGIN {
      n = split(reserved, r, " "); for (i = 1; i <= n; i++) taken[r[i]] = 1
      while ((getline line < listed) > 0) { split(line, f, ":"); taken[f[1]] = 1 }
    }
    {
      user = $1
      if (user == "" || user ~ /^\$/ || user ~ /[\/+#]/) why = "is not a valid device username"
      else if (user in taken) why = "is reserved or already listed (one line per user)"
      else { taken[user] = 1; print; next }
      printf "entrypoint: skipped user %s from %s: %s\n", user, from, why > "/dev/stderr"
    }'
}

if [ -f "$DEVICES" ]; then
  devices_of "$DEVICES" "$plain" > "$plain.new"
  cat "$plain.new" >> "$plain" && rm -f "$plain.new"
fi
mosquitto_passwd -U "$plain"   # hashes every line in place (sha512-pbkdf2 on 2.0)
if [ -f "$TAGS" ]; then
  devices_of "$TAGS" "$plain" > "$plain.new"   # hashed by the portal already
  cat "$plain.new" >> "$plain" && rm -f "$plain.new"
fi
mv "$plain" "$PASSWD"
if [ "$(id -u)" = 0 ] && id mosquitto >/dev/null 2>&1; then
  chown mosquitto:mosquitto "$PASSWD"   # the broker drops to this user before reading it
fi
case "${1:-}" in
  --passwd-only) exit 0 ;;
  --reload) kill -HUP "${MOSQUITTO_PID:-1}"; exit 0 ;;  # Mosquitto 2.0 rereads password_file and acl_file
esac
exec mosquitto -c "$CONF"
