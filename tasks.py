"""castoff's invoke tasks, pointed at the embedded example (run `inv --list`)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "src"))
from castoff.tasks import collection

ns = collection(project="examples/hello")
