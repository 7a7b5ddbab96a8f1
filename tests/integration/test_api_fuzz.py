"""Schemathesis over each server flavor's ``/openapi.json``: the API does what it documents.

Every HTTP operation gets generated requests, valid (positive) and invalid (negative), against a
real server on a free loopback port; each response must not be a 5xx and must match the
documented status codes, content types, headers and response schemas (schemathesis' default
checks), and an invalid request must be refused. The budget is fixed: examples per operation,
derandomized generation (the same cases every run), no shrinking, no example database.

A server flavor is one entry of :data:`FLAVORS`: the fixture runs the same suite on each.

schemathesis' own ``pytest.from_fixture`` fails under pytest 9.2 (it sets ``Function._nodeid``,
gone there), so each operation is a subtest driving the operation's documented strategy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from schemathesis import Case, GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.schemas import APIOperation, BaseSchema

from pushbench.harness.launcher import ServerProcess
from target_app.settings import FLAVORS as SERVER_FLAVORS
from tests.conftest import ServerFactory, timeout

#: Server flavor → ServerConfig fields.
FLAVORS: dict[str, dict[str, Any]] = {flavor: {"flavor": flavor} for flavor in SERVER_FLAVORS}

#: Bounds the suite's time: long polls and SSE streams end after a fraction of a second.
SERVER_SETTINGS = {"max_wait_s": "0.2", "sse_keepalive_s": "0.05"}
EXAMPLES_PER_OPERATION = 60
REQUEST_TIMEOUT_S = 2.0
SSE = "GET /rooms/{room}/events"
#: An SSE stream never ends: schemathesis reads it this long, then checks what arrived.
SSE_READ_S = 0.1
#: ... so an SSE call costs SSE_READ_S: fewer of them.
EXAMPLES = {(SSE, GenerationMode.POSITIVE): 8}
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
INT64_MAX = 2**63 - 1


def _integers(value: Any) -> Iterator[int]:
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _integers(item)
    elif isinstance(value, list):
        for item in value:
            yield from _integers(item)


def _payload_beyond_64_bits(case: Case) -> bool:
    body = case.body
    return isinstance(body, dict) and any(
        abs(n) > INT64_MAX for n in _integers(body.get("payload"))
    )


#: What the schema cannot say, left out of the fuzzing as narrowly as possible and pinned by a
#: test below: JSON Schema has no "any JSON value whose integers fit in 64 bits", so a positive
#: case may put a larger one in the payload, which the server refuses (422) by design.
SCHEMA_GAPS: dict[tuple[str, GenerationMode], Callable[[Case], bool]] = {
    ("POST /rooms/{room}/messages", GenerationMode.POSITIVE): _payload_beyond_64_bits,
}


def fuzz_config(base_url: str) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "base-url": base_url,
            "request-timeout": timeout(REQUEST_TIMEOUT_S),
            "operations": [
                {"include-path": "/rooms/{room}/events", "request-timeout": timeout(SSE_READ_S)}
            ],
        }
    )


@pytest.fixture(params=list(FLAVORS))
def flavor_server(request: pytest.FixtureRequest, start_server: ServerFactory) -> ServerProcess:
    """A fresh server of each flavor: fuzzed rooms never meet other tests' rooms."""
    fields = FLAVORS[request.param]
    return start_server(**fields, settings={**SERVER_SETTINGS, **fields.get("settings", {})})


@pytest.fixture
def api_schema(flavor_server: ServerProcess) -> BaseSchema:
    url = flavor_server.url
    return schemathesis.openapi.from_url(f"{url}/openapi.json", config=fuzz_config(url))


def fuzz(operation: APIOperation, mode: GenerationMode, session: requests.Session) -> None:
    """Call ``operation`` with generated cases and validate every response."""
    strategy = operation.as_strategy(generation_mode=mode)
    gap = SCHEMA_GAPS.get((operation.label, mode))
    if gap is not None:
        strategy = strategy.filter(lambda case: not gap(case))

    @hypothesis.settings(
        max_examples=EXAMPLES.get((operation.label, mode), EXAMPLES_PER_OPERATION),
        derandomize=True,
        database=None,
        deadline=None,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=strategy)
    def run(case: Case) -> None:
        case.call_and_validate(session=session)

    run()


def takes_input(operation: APIOperation) -> bool:
    """Whether a request to ``operation`` can be wrong at all (else no negative case exists)."""
    raw = operation.definition.raw
    return bool(raw.get("parameters") or raw.get("requestBody"))


def test_every_operation_does_what_its_schema_says(
    api_schema: BaseSchema, subtests: pytest.Subtests
) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 5
    with requests.Session() as session:  # keep-alive: a case costs a request, not a connection
        for operation in operations:
            for mode in MODES if takes_input(operation) else MODES[:1]:
                with subtests.test(msg=f"{operation.label} {mode.value}"):
                    fuzz(operation, mode, session)


@pytest.mark.parametrize("body", [{"seq": 2**70}, {"payload": [1, -(2**70)]}])
def test_a_huge_integer_in_a_publish_is_refused(
    flavor_server: ServerProcess, body: dict[str, Any]
) -> None:
    url = f"{flavor_server.url}/rooms/huge/messages"
    response = requests.post(url, json=body, timeout=timeout(5))
    assert response.status_code == 422


def test_a_boolean_seq_is_refused(flavor_server: ServerProcess) -> None:
    url = f"{flavor_server.url}/rooms/bool/messages"
    response = requests.post(url, json={"seq": True}, timeout=timeout(5))
    assert response.status_code == 422
