"""Which database errors mean "unreachable" (tell people to try again) and which mean a bad value."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from irbot.store.db import is_unreachable


def _wrapped(kind: type[DBAPIError], *, invalidated: bool = False) -> DBAPIError:
    return kind("INSERT …", {}, Exception("driver said no"), connection_invalidated=invalidated)


@pytest.mark.parametrize("error", [
    _wrapped(OperationalError), _wrapped(InterfaceError), _wrapped(DBAPIError, invalidated=True),
    PoolTimeout("QueuePool limit reached"), ConnectionRefusedError(), TimeoutError(), OSError("no route"),
])
def test_connection_failures_are_outages(error: BaseException) -> None:
    assert is_unreachable(error)


@pytest.mark.parametrize("error", [
    _wrapped(DataError), _wrapped(IntegrityError), _wrapped(ProgrammingError), _wrapped(DBAPIError),
    ValueError("bad"), KeyError("x"),
])
def test_bad_values_and_bugs_are_not_outages(error: BaseException) -> None:
    assert not is_unreachable(error)
