"""schemathesis against the OpenAPI schema, with valid tokens: no 5xx.

Every operation gets up to ``EXAMPLES`` requests that fit the schema and
that do not (negative mode), sent in turn as an officer and as the
admin, on each database; the test fails unless at least
``MIN_REQUESTS`` were sent per database and none answered 5xx.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

from .conftest import ApiEnv

EXAMPLES = {GenerationMode.POSITIVE: 35, GenerationMode.NEGATIVE: 20}
MIN_REQUESTS = 1000
USERS = ("off_naka1", "admin")


def test_no_server_error_in_generated_requests(api_env: ApiEnv) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api_env.client.app)
    sent = 0
    failures: list[str] = []

    tokens = [api_env.auth(user) for user in USERS]

    def fuzz(operation: schemathesis.APIOperation, mode: GenerationMode) -> None:
        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=EXAMPLES[mode],
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            nonlocal sent
            headers = tokens[sent % len(tokens)]
            response = case.call(headers={**(case.headers or {}), **headers})
            sent += 1
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> "
                    f"{response.status_code}: {response.text[:200]}"
                )

        try:
            run()
        except Unsatisfiable:
            # Nothing in this operation can be made invalid (no parameters, no body).
            assert mode is GenerationMode.NEGATIVE

    for result in schema.get_all_operations():
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(result.ok(), mode)
    assert not failures, "\n".join(failures[:20])
    print(f"schemathesis: {sent} requests on {api_env.backend}, no 5xx")
    assert sent >= MIN_REQUESTS, f"only {sent} requests generated"
