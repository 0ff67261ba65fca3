"""The kiosk's side of the back office: enrolment and the durable, at-least-once delivery of cases.

Why it is built this way (see ``docs/architecture.md``, "Delivery"): the kiosk's SQLite file is the
queue. ``commit_submission`` inserts a ``deliveries`` row in the commit's own transaction, so a
committed case cannot exist without its delivery; ``worker.DeliveryWorker`` works that table off
over HTTPS with the kiosk's own credential and marks a case acknowledged only when the back
office's receipt says it holds everything. Events (collected, result placed, door jammed, …) are
read from the audit log after a cursor: every state change already writes its audit row in its own
transaction, so nothing extra has to be queued for them. Imports the contract, ``locker`` and
``flows.guide``; never Kivy.
"""
