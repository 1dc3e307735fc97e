"""evnet-web: the charger's web client and the HTTP API that apps, Home Assistant or scripts use.

It talks to the other services only over D-Bus and keeps nothing of the charger's state: its
own storage holds the logins, the API tokens and its TLS certificate (``STATE_DIR/web``).
The pure parts (login rate limit, event coalescing, input rules, CSV and bundle shapes) are
tested without a server; the shell is aiohttp (``app.py``, ``api.py``, ``service.py``).
"""
