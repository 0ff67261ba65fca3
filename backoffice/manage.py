#!/usr/bin/env python
"""Django's manage.py; the same as ``python -m backoffice``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backoffice.__main__ import main  # noqa: E402

if __name__ == "__main__":
    main()
