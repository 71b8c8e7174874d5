"""The live lab: a local web app (``inertia lab``) where every change of a control retrains the whole momentum
comparison on the population engine and streams it to the page epoch by epoch.

:mod:`~inertia.lab.settings` reads and checks the page's settings (the same ones the URL carries);
:mod:`~inertia.lab.session` trains a comparison for them and turns it into events; :mod:`~inertia.lab.server`
is the Starlette app (the page, the event stream, uploads, export); ``page.html`` is the page.
"""
