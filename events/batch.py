"""Validating many events at once, for a large import: the same rules as the models,
producing the stored records directly."""

from __future__ import annotations

from functools import lru_cache
from operator import countOf
from typing import Any

from pydantic_core import SchemaValidator

from events.models import ALWAYS_SHOWN, event_adapter

# Validating many events at once ------------------------------------------------------
#
# A large import validates events by the million. Building a model instance per event
# and dumping it back to a dict costs more than the checks themselves, so the import
# validates with a second pydantic-core schema derived from the models above: the same
# fields, constraints and validators, producing the stored record (`to_record`'s dict)
# directly. It is derived, not written, so a field is still defined once. Its errors
# are not meant for people: on failure, validate the events one by one with
# `validate_event` to find the first bad one and `explain` it.

class _Fields:
    """Attribute access to a validated dict, so model validators written for instances run on it.

    Optional fields left out of the dict read as None through class attributes, as
    they would on the model.
    """

    __slots__ = ("__dict__",)


def _after_model(check, view: type[_Fields]):
    """A model validator (mode="after") run on the dict the derived schema produces."""

    def run(data: dict[str, Any]) -> dict[str, Any]:
        fields = view()
        fields.__dict__ = data
        if check(fields) is not fields:
            raise ValueError("a model validator replaced the event")  # not supported: use the models
        return data

    return run


def _model_chain(node: dict[str, Any]) -> bool:
    """Whether a schema node is a model, possibly under its after-validators."""
    while node.get("type") == "function-after":
        node = node["schema"]
    return node.get("type") == "model"


def _as_record_fields(node: dict[str, Any], event: bool) -> tuple[dict[str, Any], type[_Fields]]:
    """A model's schema as a typed-dict schema, plus the view its validators read it through.

    For an event (not a nested Source, Value or Location) optional fields that default
    to None are simply left out when absent, as `to_record` leaves them out.
    """
    inner = node["schema"]
    if (
        inner.get("type") != "model-fields"
        or inner.get("computed_fields")
        or node.get("custom_init")
        or node.get("post_init")
        or node.get("root_model")
    ):
        raise NotImplementedError(f"cannot derive a record schema from {node.get('cls')}")
    fields: dict[str, Any] = {}
    omitted: dict[str, None] = {}
    # Fields in sorted order, so records come out with their keys in canonical order.
    for name, field in sorted(inner["fields"].items()):
        if field.get("type") != "model-field" or set(field) - {"type", "schema", "metadata"}:
            raise NotImplementedError(f"cannot derive a record schema for field {name!r}")
        schema = field["schema"]
        optional = schema.get("type") == "default"
        if event and optional and name not in ALWAYS_SHOWN and "default" in schema and schema["default"] is None:
            schema = schema["schema"]
            omitted[name] = None
        fields[name] = {
            "type": "typed-dict-field",
            "schema": _record_schema(schema, False),
            "required": not optional,
        }
    config = node.get("config", {})
    derived = {
        "type": "typed-dict",
        "fields": fields,
        "config": config,
        "extra_behavior": config.get("extra_fields_behavior", "ignore"),
    }
    if "ref" in node:
        derived["ref"] = node["ref"]
    return derived, type("Fields", (_Fields,), {"__slots__": (), **omitted})


def _record_schema(node: Any, event: bool) -> Any:
    """The record-producing counterpart of a core schema node (see above)."""
    if isinstance(node, list):
        return [_record_schema(item, event) for item in node]
    if not isinstance(node, dict):
        return node
    kind = node.get("type")
    if kind in ("model", "function-after") and _model_chain(node):
        checks = []
        while node["type"] == "function-after":
            if node["function"].get("type") != "no-info":
                raise NotImplementedError("model validators that take info are not supported")
            checks.append((node["function"]["function"], node.get("ref")))
            node = node["schema"]
        derived, view = _as_record_fields(node, event)
        for check, ref in reversed(checks):
            derived = {"type": "function-after", "function": {"type": "no-info", "function": _after_model(check, view)}, "schema": derived}
            if ref is not None:
                derived["ref"] = ref
        return derived
    if isinstance(kind, str) and kind.startswith("function-") and _contains_model(node):
        raise NotImplementedError(f"{kind} validators around a model are not supported")
    if kind == "tagged-union":
        out = {key: value for key, value in node.items() if key not in ("metadata", "serialization", "choices")}
        out["choices"] = {tag: _record_schema(choice, True) for tag, choice in node["choices"].items()}
        return out
    out = {key: _record_schema(value, False) for key, value in node.items() if key not in ("metadata", "serialization")}
    serializer = node.get("serialization")
    if serializer is not None:
        # What model_dump(mode="json") would write, e.g. an amount as a normalised string.
        if (
            serializer.get("type") != "function-plain"
            or serializer.get("info_arg")
            or serializer.get("when_used", "always") != "always"
        ):
            raise NotImplementedError(f"serializer {serializer.get('type')} is not supported")
        out = {"type": "function-after", "function": {"type": "no-info", "function": serializer["function"]}, "schema": out}
    return out


def _contains_model(node: Any) -> bool:
    if isinstance(node, list):
        return any(_contains_model(item) for item in node)
    if isinstance(node, dict):
        return node.get("type") == "model" or any(_contains_model(v) for v in node.values())
    return False


def _free_form(node: Any, definitions: dict[str, Any], seen: set[str]) -> bool:
    """Whether a schema can produce a dict whose keys are not in sorted order (dict, any)."""
    if isinstance(node, list):
        return any(_free_form(item, definitions, seen) for item in node)
    if not isinstance(node, dict):
        return False
    if node.get("type") in ("dict", "any"):
        return True
    if node.get("type") == "definition-ref":
        ref = node["schema_ref"]
        if ref in seen:
            return False
        seen.add(ref)
        return _free_form(definitions[ref], definitions, seen)
    return any(_free_form(value, definitions, seen) for key, value in node.items() if key != "metadata")


@lru_cache(maxsize=4)
def _records_validator(passthrough: tuple[str, ...]) -> SchemaValidator:
    schema = _record_schema(event_adapter().core_schema, False)
    if passthrough:
        union = schema["schema"] if schema.get("type") == "definitions" else schema
        for choice in union["choices"].values():
            while choice["type"] == "function-after":
                choice = choice["schema"]
            extra = {name: {"type": "typed-dict-field", "schema": {"type": "any"}, "required": False} for name in passthrough}
            choice["fields"] = dict(sorted({**choice["fields"], **extra}.items()))
    return SchemaValidator({"type": "list", "items_schema": schema})


@lru_cache(maxsize=1)
def key_ordered_kinds() -> frozenset[str]:
    """Kinds whose records `validate_records` returns with every key in sorted order.

    Their canonical JSON needs no key sorting (sorting is most of what it costs);
    kinds with free-form dicts, such as a correction's `changes`, still need it.
    """
    schema = event_adapter().core_schema
    definitions = {d["ref"]: d for d in schema.get("definitions", [])}
    union = schema["schema"] if schema.get("type") == "definitions" else schema
    if union.get("type") != "tagged-union":
        return frozenset()
    return frozenset(
        tag for tag, choice in union["choices"].items() if not _free_form(choice, definitions, set())
    )


def validate_records(items: list[Any], passthrough: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Validate many events (dicts) in one call: the same as `to_record(validate_event(item))` for each.

    Fields named in `passthrough` are let through unchecked, whatever their value,
    for the caller to take out (the log's own fields in an exported file). Raises
    ValidationError when any item is not a valid event; its message is not meant for
    people (see above).
    """
    records = _records_validator(passthrough).validate_python(items)
    for position, record in enumerate(records):
        if countOf(record.values(), None) > (record["project"] is None) + (record["status"] is None):
            records[position] = {
                key: value
                for key, value in record.items()
                if value is not None or key in ALWAYS_SHOWN or key in passthrough
            }
    return records
