"""Every daemon `evnetd` can run imports and builds its D-Bus interface (fails fast, not by timeout)."""

from __future__ import annotations

import pytest

from evnetd.runtime.config import Config
from evnetd.services import SERVICES


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_builds(name: str) -> None:
    service = SERVICES[name].factory()(Config())
    assert service.name == SERVICES[name].unit
