"""kiosk layer (see docs/architecture.md).

``__version__`` is the one place the version lives: pyproject.toml reads it (dynamic version), the
idle screen shows it, ``kiosk --version`` prints it, the app logs it at start, ``make install``
names the release folder after it and the back-office heartbeat sends it (kiosk.release.version_info).
"""

__version__ = "0.2.0"
