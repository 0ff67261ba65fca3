"""Resident, staff, door and results flows as plain state machines (no Kivy, no serial).

Each flow publishes ``flows.view.View``s and takes ``UserEvent``s; see ``flows.machine`` for the
base (per-step time-outs, cancel, one worker thread per blocking device call, ``tick(now)``).
"""
