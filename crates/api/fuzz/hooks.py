"""schemathesis hooks for run.py (loaded through SCHEMATHESIS_HOOKS).

Every POST takes an optional `Idempotency-Key`, and the api answers a repeated key and body with
the first answer again, as it must. Generated keys repeat often ("0", "A"), so a stateful run
would create a record, delete it, create "it" again with the same key and get the first answer,
naming the deleted record: right for the api, a failure for the fuzzer's "created resource
exists" check. So each valid generated key gets a suffix unique to the run; keys the api refuses
(empty, too long, not visible ASCII) are sent as generated. Replays are tested by the api's own
tests (crates/api/tests/api/idempotency.rs).
"""

import itertools

import schemathesis

HEADER = "idempotency-key"
MAX_LEN = 255
_calls = itertools.count()


def _valid(key: str) -> bool:
    return 0 < len(key) <= MAX_LEN and all("!" <= c <= "~" for c in key)


@schemathesis.hook
def map_headers(context, headers):
    # At generation, so the case is sent and judged as it was made.
    if not headers:
        return headers
    for name, key in list(headers.items()):
        if name.lower() == HEADER and isinstance(key, str) and _valid(key):
            suffix = f"-{next(_calls)}"
            headers[name] = key[: MAX_LEN - len(suffix)] + suffix
    return headers
