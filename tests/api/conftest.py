from __future__ import annotations

import pytest

from tests.support.seeded import seeded_server


@pytest.fixture(scope="package")
def seeded(engine_dsn, tmp_path_factory):
    yield from seeded_server(engine_dsn, tmp_path_factory.mktemp("seeded-api"))
