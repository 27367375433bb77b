"""The OpenAPI schema fuzzed with schemathesis: no input may cause a 5xx (bounded examples).

Schemathesis' pytest plugin does not work with this pytest, so the test walks the operations
itself and runs each one's Hypothesis strategy, valid (positive) and invalid (negative) inputs,
against the app under uvicorn.
"""

from __future__ import annotations

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from tests.api.helpers import ApiUser

schemathesis = pytest.importorskip(
    "schemathesis", reason="FUZZ TEST NOT RUN: schemathesis missing (pip install schemathesis)"
)
from schemathesis import GenerationMode  # noqa: E402

EXAMPLES = 12  # per operation and mode: ~20 operations, a few hundred requests in all


@pytest.fixture(scope="module")
def fuzzer(store) -> ApiUser:
    user, token = store.create_user("fuzzer")
    return ApiUser(id=user.id, token=token)


def _problem(response) -> str | None:
    if response.status_code >= 500:
        return f"HTTP {response.status_code}: {response.text[:300]}"
    if 400 <= response.status_code < 500:
        try:
            body = response.json()
        except ValueError:
            return f"HTTP {response.status_code} without a JSON body: {response.text[:200]}"
        if not ("detail" in body and "field" in body):
            return f"HTTP {response.status_code} body lacks detail/field: {body}"
    return None


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_input_causes_a_server_error(live_server, fuzzer, mode):
    document = httpx.get(f"{live_server}/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(document)
    problems: list[str] = []
    calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,  # the same few hundred requests every run
            suppress_health_check=list(HealthCheck),
        )
        def run(case) -> None:
            nonlocal calls
            calls += 1
            response = case.call(base_url=live_server, headers=fuzzer.headers, timeout=30)
            problem = _problem(response)
            if problem:
                problems.append(f"{case.method} {case.formatted_path}: {problem}")

        try:
            run()
        except Unsatisfiable:  # nothing to get wrong (e.g. no parameters in negative mode)
            continue
    assert calls > 20
    assert not problems, "\n".join(problems[:20])
