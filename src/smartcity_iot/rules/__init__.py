"""Decision logic as pure functions over small state objects: no broker, database or clock."""
