"""The town's back office: a Django project where clerks work the cases the kiosks deliver.

Layout follows Django's contrib apps: one app per concern (accounts, kiosks, cases, api), each
with its models, templates and migrations; every state change lives in the app's ``actions``
module so views stay thin and the history is written in one place.
"""
