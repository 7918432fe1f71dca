"""The wire contract: one JSON Schema of every model that crosses the wire.

The pydantic models are the contract; this module only collects them. Bodies
the browser sends are described as pydantic *validates* them (fields with a
default may be left out); bodies the server sends as pydantic *serializes*
them (every field is present). A model used in both directions whose two
shapes differ appears twice: ``X`` as the server sends it and ``XSent`` as the
browser sends it.

The lab extension's TypeScript types (``labextension/src/api/wire.ts``) are
generated from the schema this writes::

    python -m jupyter_collab.server.contract        # write the schema
    npm run contract                                # the schema and wire.ts
    npm run contract:check                          # fail if either is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema

from ..core.operation_models import AnchorsReply, AnchorsRequest, PreviewProgress
from ..core.outputs import CollabDisplayData, CollabOutput
from .completion_request import CellSourceRequest, CompletionRequest, ParsedCell
from .route_models import (
    AcceptReview,
    AmendRequest,
    CheckRequest,
    ContextPatch,
    ContextPut,
    ContextView,
    ErrorReply,
    FinalizeReply,
    FinalizeRequest,
    ModelsInfo,
    OpenedContext,
    PreviewRequest,
    ProbesReply,
    ProbesRequest,
    ProposeReply,
    SuggestReply,
    SuggestRequest,
    VersionInfo,
)
from .route_models_layers import (
    ImportableView,
    LayerContradictionsReply,
    LayerContradictionsRequest,
    LayerImportEffectRequest,
    LayerImportReply,
    LayerImportRequest,
    LayerMovePreview,
    LayerMoveReply,
    LayerMoveRequest,
    LayersView,
)
from .stream_protocol import StreamMessage

SCHEMA_PATH = Path("labextension") / "src" / "api" / "wire.schema.json"
REGENERATE = "npm run contract"

#: Bodies the browser sends (REST request bodies and the stream's requests).
REQUESTS: tuple[type[BaseModel], ...] = (
    ContextPut,
    ContextPatch,
    AcceptReview,
    CellSourceRequest,
    AnchorsRequest,
    CompletionRequest,
    SuggestRequest,
    AmendRequest,
    ProbesRequest,
    PreviewRequest,
    FinalizeRequest,
    CheckRequest,
    LayerMoveRequest,
    LayerImportRequest,
    LayerImportEffectRequest,
    LayerContradictionsRequest,
)

#: Bodies the server sends, and the output it writes into notebooks.
RESPONSES: tuple[type[BaseModel], ...] = (
    VersionInfo,
    ModelsInfo,
    ContextView,
    OpenedContext,
    ParsedCell,
    AnchorsReply,
    SuggestReply,
    ProposeReply,
    ProbesReply,
    FinalizeReply,
    ErrorReply,
    StreamMessage,
    PreviewProgress,
    CollabOutput,
    CollabDisplayData,
    LayersView,
    LayerContradictionsReply,
    LayerMovePreview,
    LayerMoveReply,
    LayerImportReply,
    ImportableView,
)


class WireSchema(GenerateJsonSchema):
    """pydantic's generator, with two changes that make the schema a contract.

    - What the server sends always has every field, so a field with a default
      is required in serialization mode.
    - Fields carry no generated ``title`` ("Cell Id"): titles name types, and
      a title on every field would make a type of every field.
    """

    def field_is_required(self, field: Any, total: bool) -> bool:
        if self.mode == "serialization":
            return not field.get("serialization_exclude")
        return super().field_is_required(field, total)

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def _type_name(key: str) -> str:
    """The type name of a ``$defs`` key: ``X-Output`` is ``X``, ``X-Input`` ``XSent``."""
    if key.endswith("-Output"):
        return key.removesuffix("-Output")
    if key.endswith("-Input"):
        return key.removesuffix("-Input") + "Sent"
    return key


def _rename_refs(node: Any, names: dict[str, str]) -> Any:
    """Point every ``$ref`` at the renamed definition.

    A ``$ref`` with siblings (``default``, ``description``) becomes
    ``allOf: [{$ref}]`` beside them, so a type generator reuses the named
    type instead of copying it under a new name.
    """
    if isinstance(node, dict):
        out = {
            k: (
                "#/$defs/" + names[v.removeprefix("#/$defs/")]
                if k == "$ref" and isinstance(v, str)
                else _rename_refs(v, names)
            )
            for k, v in node.items()
        }
        if "$ref" in out and len(out) > 1:
            out["allOf"] = [{"$ref": out.pop("$ref")}]
        return out
    if isinstance(node, list):
        return [_rename_refs(item, names) for item in node]
    return node


def build_schema() -> dict[str, Any]:
    """The contract's JSON Schema: every wire model under ``$defs``."""
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        *((model, "validation") for model in REQUESTS),
        *((model, "serialization") for model in RESPONSES),
    ]
    refs, top = models_json_schema(models, schema_generator=WireSchema)
    defs: dict[str, Any] = top["$defs"]
    names = {key: _type_name(key) for key in defs}
    if len(set(names.values())) != len(names):
        raise RuntimeError(f"two wire models share a name: {sorted(names.values())}")
    renamed = {names[key]: _rename_refs(value, names) for key, value in defs.items()}
    for name, value in renamed.items():
        value["title"] = name
    roots = sorted({names[ref["$ref"].removeprefix("#/$defs/")] for ref in refs.values()})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "WireBody",
        "description": (
            "Every body that crosses the wire between the jupyter-collab server "
            f"and the lab extension. Generated from the pydantic models by "
            f"`python -m jupyter_collab.server.contract`; regenerate with `{REGENERATE}`."
        ),
        "anyOf": [{"$ref": f"#/$defs/{name}"} for name in roots],
        "$defs": dict(sorted(renamed.items())),
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jupyter_collab.server.contract",
        description="Write the wire contract's JSON Schema (generated from the pydantic models).",
    )
    parser.add_argument(
        "output",
        nargs="?",
        type=Path,
        default=SCHEMA_PATH,
        help=f"where to write it (default: {SCHEMA_PATH}); '-' for stdout",
    )
    args = parser.parse_args(argv)
    text = render(build_schema())
    if str(args.output) == "-":
        sys.stdout.write(text)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
