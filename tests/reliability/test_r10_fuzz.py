"""R10: property-based fuzzing (hypothesis) of the context loader, highlight
re-anchoring and every route's request body: no crash, no 500.

Deterministic (``derandomize=True``, no example database), so CI runs the same
examples every time. Request bodies mix six kinds: a valid body of the route
with one or two values changed for others of the same type (so many pass
validation and reach the operations), mutations of it (a field replaced by any
JSON value, deleted, or added; huge strings; wrong types; NaN and infinities),
arbitrary JSON, arbitrary bytes, truncations of a valid body, and hand-picked
nasties (deep nesting, BOM, NUL, 5000-digit integers).
Every route the running server has is fuzzed: a test checks the list of fuzz
targets against the routes enumerated from the server.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_collab.core.context_format import context_to_jsonable, parse_context, serialize_context
from jupyter_collab.core.context_model import (
    Amendment,
    CollabContext,
    Highlight,
    TextPositionSelector,
)
from jupyter_collab.core.errors import ContextFileError
from jupyter_collab.core.notebook import reconcile
from jupyter_collab.core.operations import entries
from jupyter_collab.core.operations.anchoring import (
    MIN_FUZZY_SIMILARITY,
    _ratio,
    anchor,
    make_quote,
)
from tests.reliability.helpers import collab_routes, sample_bodies, ws_send

COUNTS: dict[str, int] = {}
STATUSES: dict[str, dict[int, int]] = {}
FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)

# -- strategies ----------------------------------------------------------------------

TEXT = st.text(
    st.characters(blacklist_categories=()),  # every code point, lone surrogates included
    max_size=40,
)
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()  # NaN and infinities too (json.dumps writes them; json.loads reads them)
    | TEXT
)
JSON = st.recursive(
    LEAVES,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=15,
)
NASTY = [
    b"",
    b"null",
    b"[]",
    b'""',
    b"\xef\xbb\xbf{}",
    b"{\x00}",
    b"[" * 50_000 + b"]" * 50_000,
    b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
    b'{"revision": ' + b"9" * 5000 + b"}",
    b'{"prompt": "' + b"x" * 300_000 + b'"}',
    b'{"prompt": "\\ud800"}',
    b"\xff\xfe\x00\x00",
]


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated(draw, base: dict) -> Any:
    body: Any = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(body)))
        operation = draw(st.sampled_from(["replace", "delete", "add", "huge", "retype"]))
        if not path:
            if operation == "replace":
                body = draw(JSON)
            continue
        parent = body
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        if operation == "replace":
            parent[key] = draw(JSON)
        elif operation == "delete":
            del parent[key]
        elif operation == "add" and isinstance(parent, dict):
            parent[draw(TEXT)] = draw(JSON)
        elif operation == "huge":
            parent[key] = "y" * draw(st.sampled_from([10_000, 250_000]))
        elif operation == "retype":
            value = parent[key]
            parent[key] = [value] if not isinstance(value, list) else {"0": value}
    return body


@st.composite
def tweaked(draw, base: Any) -> Any:
    """One or two leaves replaced by values of the same type: bodies that mostly
    validate, so the fuzz reaches the operations behind validation."""
    body = copy.deepcopy(base)
    leaves = [p for p in _paths(body) if p and not isinstance(_at(body, p), (dict, list))]
    for path in draw(st.lists(st.sampled_from(leaves), min_size=1, max_size=2)):
        parent = _at(body, path[:-1])
        parent[path[-1]] = draw(_like(parent[path[-1]]))
    return body


def _at(node: Any, path: tuple) -> Any:
    for key in path:
        node = node[key]
    return node


def _like(value: Any) -> st.SearchStrategy:
    if isinstance(value, bool) or value is None:
        return st.booleans() | st.none()
    if isinstance(value, int):
        return st.sampled_from([0, 1, 2, 5, 50, 10**6]) | st.integers(-5, 10**9)
    if value in ("fact", "process", "user", "replace"):
        return st.sampled_from(["fact", "process", "user", "original", "should_change", "comment"])
    return st.sampled_from(["", " ", "x" * 5000, "\u202e\u0000", "{x}"]) | st.text(max_size=60)


def encode(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


def bodies(route: str, method: str) -> st.SearchStrategy[bytes]:
    base = sample_bodies("nb.ipynb")[(route, method)]
    valid = encode(base)
    return st.one_of(
        tweaked(base).map(encode),
        tweaked(base).map(encode),
        mutated(base).map(encode),
        mutated(base).map(encode),
        JSON.map(encode),
        st.binary(max_size=120),
        st.integers(0, len(valid) - 1).map(lambda n: valid[:n]),
        st.sampled_from(NASTY),
    )


QUERY_PATHS = st.one_of(
    st.just(b"nb.ipynb"),
    st.binary(max_size=40),
    TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")),
)

# Every route of the server and what is fuzzed on it.
TARGETS = {
    ("version", "GET"): "query",
    ("models", "GET"): "query",
    ("context", "GET"): "query",
    ("context", "PUT"): "body",
    ("context", "PATCH"): "body",
    ("context/accept", "POST"): "body",
    ("cell", "POST"): "body",
    ("complete", "POST"): "body",
    ("suggest", "POST"): "body",
    ("propose", "POST"): "body",
    ("probes", "POST"): "body",
    ("preview", "POST"): "body",
    ("finalize", "POST"): "body",
    ("anchors", "POST"): "body",
    ("check", "POST"): "body",
    ("layers", "GET"): "query",
    ("layers/importable", "GET"): "query",
    ("layers/contradictions", "POST"): "body",
    ("layers/preview", "POST"): "body",
    ("layers/effect", "POST"): "body",
    ("layers/move", "POST"): "body",
    ("layers/import", "POST"): "body",
    ("layers/import/effect", "POST"): "body",
    ("stream", "GET"): "websocket messages",
}


TRACEBACK = "Traceback (most recent call last)"


def check_reply(route: str, code: int, reply: Any) -> None:
    """No 500, no internal_error reason, no traceback. The reason is read from the
    reply's own field: a 400 may quote the fuzzed input, which can contain any word."""
    assert code != 500 and code < 600, (route, code, reply)
    events = reply if isinstance(reply, list) else [reply]  # a list: server-sent events
    for event in events:
        if isinstance(event, dict):
            assert event.get("status") != 500, (route, event)
            assert event.get("reason") != "internal_error", (route, event)
    assert TRACEBACK not in json.dumps(reply), (route, json.dumps(reply)[:500])


@pytest.fixture
def fuzz_setup(make_notebook, jp_root_dir, anthropic_env):
    """A notebook with a valid context; model calls answered fast and small."""
    make_notebook("nb.ipynb")
    (jp_root_dir / "nb.collab.json").write_text(
        serialize_context(CollabContext(revision=1, amendments=[Amendment(kind="fact", text="F.")]))
    )
    return jp_root_dir


def test_r10_every_route_has_a_fuzz_target(jp_serverapp, jp_base_url):
    from tests.reliability.helpers import implemented_verbs

    routes = collab_routes(jp_serverapp.web_app, jp_base_url)
    prefix = f"{jp_base_url}jupyter-collab/"
    served = {
        (path[len(prefix) :], verb)
        for path, handler in routes
        for verb in implemented_verbs(handler)
    }
    served = {(r, v) for r, v in served if v != "HEAD"}
    assert served == set(TARGETS), served ^ set(TARGETS)


@pytest.mark.parametrize(
    "route,method", [key for key, kind in TARGETS.items() if kind == "body"], ids=str
)
@pytest.mark.timeout(240)
@FUZZ
@given(data=st.data())
async def test_r10_request_bodies(route, method, data, collab_api, fuzz_setup, caplog):
    caplog.set_level(logging.ERROR)
    raw = data.draw(bodies(route, method))
    params = {"path": "nb.ipynb"} if route.startswith("context") else None
    code, reply = await collab_api(route, method=method, body=raw, params=params)
    check_reply(route, code, reply)
    assert not [r for r in caplog.records if "unexpected error" in r.getMessage()]
    STATUSES.setdefault(f"{method} {route}", {}).setdefault(code, 0)
    STATUSES[f"{method} {route}"][code] += 1
    COUNTS[f"{method} {route}"] = COUNTS.get(f"{method} {route}", 0) + 1


@pytest.mark.parametrize("route", ["version", "models", "context", "layers", "layers/importable"])
@pytest.mark.timeout(240)
@FUZZ
@given(path=QUERY_PATHS, extra=st.dictionaries(TEXT, TEXT, max_size=2))
async def test_r10_query_strings(
    route, path, extra, http_server, jp_http_port, jp_base_url, jp_auth_header, fuzz_setup
):
    from tests.reliability.helpers import raw_fetch

    query = (
        "path="
        + quote_from_bytes(path)
        + "".join(
            f"&{quote_from_bytes(k.encode('utf-8', 'surrogatepass'))}="
            f"{quote_from_bytes(v.encode('utf-8', 'surrogatepass'))}"
            for k, v in extra.items()
        )
    )
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}jupyter-collab/{route}?{query}"
    response = await raw_fetch(url, headers=jp_auth_header)
    body = response.body.decode("utf-8", "replace")
    check_reply(route, response.code, body)
    COUNTS[f"GET {route}"] = COUNTS.get(f"GET {route}", 0) + 1


@pytest.mark.timeout(240)
@settings(FUZZ, max_examples=300)
@given(data=st.data())
async def test_r10_websocket_messages(data, jp_ws_fetch, fuzz_setup):
    kind = data.draw(st.sampled_from(["complete", "preview", "cancel", "other", "raw"]))
    expect: str | None = None  # a request id the server must answer
    if kind == "raw":
        message: str | bytes = data.draw(st.binary(max_size=100) | TEXT.filter(_encodable))
    else:
        route = "preview" if kind == "preview" else "complete"
        body = data.draw(mutated(sample_bodies("nb.ipynb")[(route, "POST")]) | JSON)
        if not isinstance(body, dict):
            body = {"body": body}
        kind = data.draw(st.sampled_from(["dance", None, 3, "cancel"])) if kind == "other" else kind
        request_id = data.draw(st.sampled_from(["1", "2", ""]) | JSON)
        body.update(type=kind, id=request_id)
        message = json.dumps(body, allow_nan=True)
        if kind in ("complete", "preview") and isinstance(request_id, str) and request_id:
            expect = request_id if len(request_id) <= 100 else None
    ws = await jp_ws_fetch("jupyter-collab", "stream")
    try:
        await ws.write_message(message, binary=isinstance(message, bytes))
        # A request that fails at once marks the end of the immediate replies.
        await ws_send(ws, {"type": "complete", "id": "sentinel"})
        sentinel = False
        while not sentinel or expect is not None:
            raw = await asyncio.wait_for(ws.read_message(), timeout=20)
            assert raw is not None, "the server closed the socket"
            reply = json.loads(raw)
            assert reply.get("status") != 500, reply
            assert reply.get("reason") != "internal_error", reply
            assert TRACEBACK not in raw
            if reply.get("id") == "sentinel" and reply["type"] == "error":
                sentinel = True
            elif reply.get("id") == expect and (
                reply["type"] in ("result", "error", "cancelled")
                or (reply["type"] == "progress" and reply.get("event") == "finished")
            ):
                expect = None
    finally:
        ws.close()
    COUNTS["WebSocket stream"] = COUNTS.get("WebSocket stream", 0) + 1


# -- the context loader ----------------------------------------------------------------


def _valid_context(data) -> CollabContext:
    texts = data.draw(st.lists(st.text(min_size=1, max_size=30).filter(str.strip), max_size=4))
    context = CollabContext(revision=data.draw(st.integers(0, 50)))
    for text in texts:
        try:
            context, _ = entries.add_amendment(
                context, data.draw(st.sampled_from(["fact", "process"])), text
            )
        except Exception:
            pass
    return context


@settings(FUZZ, max_examples=400)
@given(data=st.data())
def test_r10_context_loader(data):
    kind = data.draw(st.sampled_from(["bytes", "json", "mutated"]))
    if kind == "bytes":
        raw: Any = data.draw(st.binary(max_size=300))
    elif kind == "json":
        raw = encode(data.draw(JSON))
    else:
        base = context_to_jsonable(_valid_context(data))
        raw = encode(data.draw(mutated(base)))
    try:
        context = parse_context(raw, "fuzz.collab.json")
    except ContextFileError as err:
        assert str(err).startswith("fuzz.collab.json: ")
    else:  # whatever loads, saves and loads back the same
        assert parse_context(serialize_context(context), "again") == context
    COUNTS["context loader"] = COUNTS.get("context loader", 0) + 1


@settings(FUZZ, max_examples=200)
@given(data=st.data())
def test_r10_reconcile_never_resurrects(data):
    sidecar = _valid_context(data)
    embedded = sidecar.model_copy(deep=True)
    for amendment in list(sidecar.amendments):
        if data.draw(st.booleans()):
            sidecar, _, _ = entries.remove_amendment(sidecar, amendment.id)
    for text in data.draw(st.lists(st.text(min_size=1, max_size=10).filter(str.strip), max_size=2)):
        try:
            embedded, _ = entries.add_amendment(embedded, "fact", text + " (embedded)")
        except Exception:
            pass
    result = reconcile(sidecar, embedded)
    ids = {a.id for a in result.context.amendments}
    assert not ids & set(sidecar.removed)
    assert {a.id for a in sidecar.amendments} <= ids
    COUNTS["reconcile"] = COUNTS.get("reconcile", 0) + 1


# -- highlight re-anchoring -----------------------------------------------------------


@settings(FUZZ, max_examples=400)
@given(data=st.data())
def test_r10_reanchoring(data):
    text = data.draw(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=300))
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    quote = make_quote(text, start, end)
    position = TextPositionSelector(start=start, end=end)
    assert anchor(text, position, quote).status == "exact"  # unchanged text

    edited = text
    for _ in range(data.draw(st.integers(0, 4))):
        at = data.draw(st.integers(0, len(edited)))
        cut = data.draw(st.integers(0, 10))
        edited = edited[:at] + data.draw(st.text(max_size=20)) + edited[at + cut :]
    # Stored selectors may also be stale or inconsistent.
    if data.draw(st.booleans()):
        position = TextPositionSelector(
            start=data.draw(st.integers(0, 400)), end=data.draw(st.integers(400, 900))
        )
    result = anchor(edited, position if data.draw(st.booleans()) else None, quote)
    if result.placed:
        assert 0 <= result.start < result.end <= len(edited)
        span = edited[result.start : result.end]
        if result.status == "exact":
            assert span == quote.exact
        else:  # moved: the quote itself or a near match of it, never a look-alike
            assert span == quote.exact or _ratio(span, quote.exact) >= MIN_FUZZY_SIMILARITY
    highlight = Highlight(position=TextPositionSelector(start=start, end=end), quote=quote)
    assert highlight.quote.exact == text[start:end]
    COUNTS["re-anchoring"] = COUNTS.get("re-anchoring", 0) + 1


def test_r10_summary(figures):
    """Runs last in this module: records what was fuzzed."""
    codes: dict[int, int] = {}
    for per_route in STATUSES.values():
        for code, count in per_route.items():
            codes[code] = codes.get(code, 0) + count
    requests = sum(v for k, v in COUNTS.items() if k.split()[0] in ("GET", "POST", "PUT", "PATCH"))
    ws = COUNTS.get("WebSocket stream", 0)
    routes = len({k for k in COUNTS if k.split()[0] in ("GET", "POST", "PUT", "PATCH")})
    figures.add(
        "R10",
        f"fuzzed {requests + ws:,} requests across {routes} route-methods + the WebSocket "
        f"({ws} messages): 0 x 500 (bodies: "
        + ", ".join(f"{n} x {c}" for c, n in sorted(codes.items()))
        + f"); {COUNTS.get('context loader', 0)} context files, "
        f"{COUNTS.get('reconcile', 0)} reconciles, {COUNTS.get('re-anchoring', 0)} "
        "re-anchorings: 0 crashes",
    )
    if set(COUNTS) >= {
        f"{m} {r}" for (r, m), kind in TARGETS.items() if kind != "websocket messages"
    }:
        assert requests + ws >= 2400


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
