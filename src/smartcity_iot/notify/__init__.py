"""Messages to people outside the command center: text messages to owners' phones
through the bureau's SMS gateway (SPEC 8)."""
