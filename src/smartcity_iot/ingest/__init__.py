"""Everything that touches MQTT or decodes device payloads lives here."""
