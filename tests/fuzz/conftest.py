"""How many inputs each fuzz test generates: a few hundred in the test suite, as many
as FUZZ_EXAMPLES says in the reliability run (scripts/reliability.sh)."""

from __future__ import annotations

import os

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
