#!/bin/sh
# Compose profile "sim": registers a simulated fleet in the service's database
# (shared volume /data) and streams its fixes to the broker, as real tags would.
set -eu
TAGS=${SIM_TAGS:-50}
SEED=${SIM_SEED:-1}
python -m firmware_sim tags --dry-run --tags "$TAGS" --seed "$SEED" --geofences /app/geofences \
    --fleet /data/sim-fleet.json
python - <<'PY'
import json
from pathlib import Path
from smartcity_iot.store.registry import RegistryError, register_active_tag
from smartcity_iot.store.sqlite import connect

conn = connect(Path("/data/smartcity.db"))
for tag in json.loads(Path("/data/sim-fleet.json").read_text()):
    try:
        register_active_tag(conn, tag["tag_id"], tag["dog"], tag["owner"], tag["phone"])
    except RegistryError:
        pass  # registered by an earlier run
PY
exec python -m firmware_sim tags --mqtt-url "$SIM_MQTT_URL" --client-id sim-tags --tags "$TAGS" --seed "$SEED" \
    --geofences /app/geofences --start -2h --duration 2h --speed "${SIM_SPEED:-60}"
