"""The control surface every simulator shares: actions are ``ctl_<name>`` methods.

The simulator panel, ``kiosk simctl`` and the tests list and run them by name, whatever kind of
port the simulator sits behind (pty, vpcd, HTTP).
"""

from __future__ import annotations

import inspect
from typing import Any


class SimulatorActions:
    """Mixin: ``actions()`` lists the ``ctl_*`` methods, ``control(name, **args)`` runs one."""

    name = "device"

    def actions(self) -> dict[str, str]:
        """Action names with their one-line descriptions, for the panel and ``--help``."""
        out = {}
        for attr in sorted(dir(self)):
            if attr.startswith("ctl_"):
                doc = inspect.getdoc(getattr(self, attr)) or ""
                out[attr[4:]] = doc.splitlines()[0] if doc else ""
        return out

    def control(self, action: str, **args: Any) -> Any:
        """Run a named action; unknown actions raise KeyError with the list of known ones."""
        fn = getattr(self, f"ctl_{action.replace('-', '_')}", None)
        if fn is None:
            raise KeyError(f"{self.name} simulator has no action {action!r}; known: {sorted(self.actions())}")
        return fn(**args)
