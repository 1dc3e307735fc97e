"""Login rate limiting: after N wrong PINs from one address within a window, refuse logins.

A 6-digit PIN has a million values; at 5 guesses per 5 minutes per address a guesser needs
years. While an address is limited even the right PIN is refused, so a guesser learns
nothing from the answers. Pure: the caller passes the monotonic time.
"""

from __future__ import annotations

from collections import deque

MAX_TRACKED = 4096
"""Addresses remembered at once; beyond it the stalest are forgotten (bounded memory)."""


class LoginLimiter:
    def __init__(self, attempts: int, window_s: float) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str, now: float) -> deque[float]:
        failures = self._failures.get(client, deque())
        while failures and now - failures[0] >= self.window_s:
            failures.popleft()
        return failures

    def retry_after(self, client: str, now: float) -> float:
        """Seconds until ``client`` may try again; 0 when it may now."""
        failures = self._recent(client, now)
        if not failures:
            self._failures.pop(client, None)
        if len(failures) < self.attempts:
            return 0.0
        return failures[-self.attempts] + self.window_s - now

    def failed(self, client: str, now: float) -> None:
        failures = self._recent(client, now)
        failures.append(now)
        self._failures.pop(client, None)  # re-inserted last: the dict is ordered by last failure
        self._failures[client] = failures
        while len(self._failures) > MAX_TRACKED:
            del self._failures[next(iter(self._failures))]

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)
