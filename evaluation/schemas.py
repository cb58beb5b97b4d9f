"""The ``json_schema`` expectation: a schema checked and resolved when the test set loads, then applied to answers
within a time bound.

When the file loads (``prepare``), each problem is refused with its fix, so a run never starts with a schema that
cannot be applied:

- at most MAX_SCHEMA_NODES values (every mapping, list and scalar counts) and MAX_SCHEMA_DEPTH levels, counted
  after references are resolved: a schema of many references to references grows as fast as a YAML alias bomb;
- every ``$ref`` points into the same schema (``#`` or a JSON pointer ``#/...``) and is resolved by writing the
  target in its place: nothing is fetched (a ``file://`` or remote reference is refused), no recursion (``$ref: "#"``
  loops for ever on the same answer; an answer's depth is finite, so write the levels out). ``$dynamicRef``,
  ``$recursiveRef``, anchors and ``$id`` below the root are refused;
- every pattern compiles with the ``regex`` package (evaluation/patterns.py), which answers use too.

When an answer is checked (``validate``), every keyword first checks the Deadline, and ``pattern``,
``patternProperties`` and ``additionalProperties`` (which applies the ``patternProperties`` regexes) match with the
time-bounded engine; ``unevaluatedProperties`` in a schema with ``patternProperties`` would run them with ``re``
again, so that pair is refused when the file loads, as is draft-03.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any
from urllib.parse import unquote

import jsonschema
import regex

from evaluation.patterns import Deadline, compile_pattern, search

MAX_SCHEMA_NODES = 2_000  # an answer's schema is rarely 200; the meta-schema check takes ~0.2 s per 1,000
MAX_SCHEMA_DEPTH = 64

# Keywords whose value is a schema, a list of schemas, or a mapping of names to schemas (drafts 4 to 2020-12).
ONE_SCHEMA = frozenset(
    {
        "additionalItems",
        "additionalProperties",
        "contains",
        "contentSchema",
        "else",
        "if",
        "not",
        "propertyNames",
        "then",
        "unevaluatedItems",
        "unevaluatedProperties",
    }
)
SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
SCHEMA_MAPS = frozenset({"dependentSchemas", "patternProperties", "properties"})
DEFINITIONS = frozenset({"$defs", "definitions"})  # reached through $ref only: resolved where they are used
REFUSED = {
    "$dynamicRef": "dynamic references are not supported: use $ref with a JSON pointer ('#/$defs/NAME')",
    "$recursiveRef": "recursive references are not supported: write the levels out",
    "$anchor": "anchors are not supported: point at the schema with '#/$defs/NAME'",
    "$dynamicAnchor": "anchors are not supported: point at the schema with '#/$defs/NAME'",
}
LEGACY_DRAFTS = (
    jsonschema.Draft3Validator,
    jsonschema.Draft4Validator,
    jsonschema.Draft6Validator,
    jsonschema.Draft7Validator,
)  # where $ref makes its siblings ignored


class SchemaRefused(ValueError):
    """A schema the harness does not apply: ``problem`` at ``where`` (a JSON pointer), and the fix."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"at {where or '/'}: {problem}")


def prepare(schema: dict[str, Any] | bool) -> dict[str, Any] | bool:
    """The schema, valid against its draft's meta-schema, with every $ref resolved; SchemaRefused or SchemaError."""
    _count(schema)  # before the meta-schema check, which takes as long as the schema is large
    validator = jsonschema.validators.validator_for(schema)
    if validator is jsonschema.Draft3Validator:
        raise SchemaRefused("/$schema", "draft-03 is not supported: use draft 2020-12 (the default without $schema)")
    validator.check_schema(schema)
    resolver = _Resolver(schema, ignore_ref_siblings=validator in LEGACY_DRAFTS)
    resolved: dict[str, Any] | bool = resolver.resolve(schema, "", ())
    if resolver.keywords >= {"unevaluatedProperties", "patternProperties"}:
        # jsonschema would match patternProperties with re again to find what is unevaluated: unbounded.
        raise SchemaRefused("", "unevaluatedProperties with patternProperties is not supported: name the properties")
    if isinstance(schema, dict) and "$schema" in schema:  # the draft stays the same when the top was a reference
        resolved = (
            {**resolved, "$schema": schema["$schema"]}
            if isinstance(resolved, dict)
            else {
                "$schema": schema["$schema"],
                "allOf": [resolved],
            }
        )
    _count(resolved)
    return resolved


def size(schema: Any) -> int:
    """The values in ``schema`` (each mapping, list and scalar), counted up to MAX_SCHEMA_NODES + 1."""
    nodes, stack = 0, [(schema, 1)]
    while stack and nodes <= MAX_SCHEMA_NODES:
        value, depth = stack.pop()
        nodes += 1
        if depth > MAX_SCHEMA_DEPTH:
            raise SchemaRefused("", f"more than {MAX_SCHEMA_DEPTH} levels deep: flatten it")
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        stack += [(child, depth + 1) for child in children]
    return nodes


def _count(schema: Any) -> None:
    if size(schema) > MAX_SCHEMA_NODES:
        raise SchemaRefused("", f"more than {MAX_SCHEMA_NODES:,} values once references are resolved: simplify it")


class _Resolver:
    def __init__(self, root: dict[str, Any] | bool, *, ignore_ref_siblings: bool) -> None:
        self.root = root
        self.ignore_ref_siblings = ignore_ref_siblings
        self.keywords: set[str] = set()  # every keyword of a resolved schema
        self.nodes = 0  # of the resolved schema so far: references to references grow it exponentially

    def resolve(self, schema: Any, where: str, following: tuple[tuple[str, ...], ...]) -> Any:
        """``schema`` with its references written out; ``following``: the references being resolved (a cycle)."""
        if not isinstance(schema, dict):
            return schema
        if len(following) > MAX_SCHEMA_DEPTH:
            raise SchemaRefused(where, f"references nested more than {MAX_SCHEMA_DEPTH} deep: simplify them")
        for keyword, fix in REFUSED.items():
            if keyword in schema:
                raise SchemaRefused(f"{where}/{keyword}", fix)
        if "$id" in schema and schema is not self.root:
            raise SchemaRefused(f"{where}/$id", "$id is allowed at the top only: references are '#/...' into the top")
        self.nodes += 1 + len(schema)
        if self.nodes > MAX_SCHEMA_NODES:
            raise SchemaRefused(where, f"more than {MAX_SCHEMA_NODES:,} values once references are resolved: simplify it")
        self.keywords.update(schema)
        out: dict[str, Any] = {}
        for keyword, value in schema.items():
            here = f"{where}/{keyword}"
            if keyword in DEFINITIONS or keyword == "$ref":
                continue
            if keyword == "pattern" and isinstance(value, str):
                _compiles(value, here)
            if keyword == "patternProperties" and isinstance(value, dict):
                for pattern in value:
                    _compiles(pattern, f"{here}/{pattern}")
            if keyword in ONE_SCHEMA or (keyword == "items" and not isinstance(value, list)):
                out[keyword] = self.resolve(value, here, following)
            elif keyword in SCHEMA_LISTS or keyword == "items":
                out[keyword] = [self.resolve(item, f"{here}/{n}", following) for n, item in enumerate(value)]
            elif keyword in SCHEMA_MAPS or keyword == "dependencies":
                out[keyword] = {
                    name: item if isinstance(item, list) else self.resolve(item, f"{here}/{name}", following)
                    for name, item in value.items()
                }
            else:
                out[keyword] = value  # data (const, enum, default) or an annotation: never a schema
        if "$ref" not in schema:
            return out
        target_path = _pointer(schema["$ref"], f"{where}/$ref")
        if target_path in following:
            raise SchemaRefused(
                f"{where}/$ref", f"{schema['$ref']!r} refers to a schema that contains it (recursion): write the levels out"
            )
        target = self._at(target_path, f"{where}/$ref", schema["$ref"])
        resolved = self.resolve(target, "".join(f"/{part}" for part in target_path), (*following, target_path))
        if self.ignore_ref_siblings or not [k for k in out if k not in ("$comment", "$schema")]:
            return resolved
        out["allOf"] = [*out.get("allOf", []), resolved]  # draft 2019-09 on: $ref applies next to its siblings
        return out

    def _at(self, path: tuple[str, ...], where: str, ref: str) -> Any:
        node: Any = self.root
        for part in path:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise SchemaRefused(where, f"{ref!r} points at nothing in this schema: fix the pointer")
        if not isinstance(node, dict | bool):
            raise SchemaRefused(where, f"{ref!r} points at a value that is not a schema: fix the pointer")
        return node


def _pointer(ref: Any, where: str) -> tuple[str, ...]:
    """The JSON pointer of a local reference, as its unescaped parts."""
    if not isinstance(ref, str) or not ref.startswith("#"):
        raise SchemaRefused(
            where,
            f"{ref!r} is not in this schema: nothing is fetched (files, URLs): copy the schema in and refer to '#/$defs/NAME'",
        )
    fragment = unquote(ref[1:])
    if fragment and not fragment.startswith("/"):
        raise SchemaRefused(where, f"{ref!r}: anchors are not supported: write a JSON pointer such as '#/$defs/NAME'")
    return tuple(part.replace("~1", "/").replace("~0", "~") for part in fragment.split("/")[1:])


def _compiles(pattern: str, where: str) -> None:
    try:
        compile_pattern(pattern)
    except regex.error as error:
        raise SchemaRefused(where, f"not a valid regular expression ({error}): fix the pattern") from None


# --- checking an answer ---------------------------------------------------------------------------------------------

_DEADLINE: ContextVar[Deadline] = ContextVar("schema_deadline")


def validate(schema: dict[str, Any] | bool, document: Any, deadline: Deadline) -> list[jsonschema.ValidationError]:
    """The errors of ``document`` against a prepared schema, by path; TimeoutError once ``deadline`` has passed."""
    validator = _bounded(jsonschema.validators.validator_for(schema))(schema)
    token = _DEADLINE.set(deadline)
    try:
        return sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    finally:
        _DEADLINE.reset(token)


@functools.cache
def _bounded(validator: Any) -> Any:
    """The draft's validator class, each keyword checking the deadline first, its regexes matched with a timeout."""
    keywords = dict(validator.VALIDATORS)
    keywords.update(pattern=_pattern, patternProperties=_pattern_properties, additionalProperties=_additional_properties)
    return jsonschema.validators.extend(validator, {name: _timed(check) for name, check in keywords.items()})


def _timed(keyword: Any) -> Any:
    def check(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[Any]:
        _DEADLINE.get().remaining()
        yield from keyword(validator, value, instance, schema) or ()

    return check


def _matches(pattern: str, text: str) -> bool:
    return search(pattern, text, _DEADLINE.get()) is not None


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    if validator.is_type(instance, "string") and not _matches(pattern, instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, patterns: dict[str, Any], instance: Any, schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for name, value in instance.items():
            if _matches(pattern, name):
                yield from validator.descend(value, subschema, path=name, schema_path=pattern)


def _additional_properties(validator: Any, additional: Any, instance: Any, schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    named, patterns = schema.get("properties", {}), list(schema.get("patternProperties", {}))
    extras = sorted((name for name in instance if name not in named and not any(_matches(p, name) for p in patterns)), key=str)
    if validator.is_type(additional, "object"):
        for name in extras:
            yield from validator.descend(instance[name], additional, path=name)
    elif additional is False and extras:
        yield jsonschema.ValidationError(f"Additional properties are not allowed ({', '.join(map(repr, extras))} unexpected)")
