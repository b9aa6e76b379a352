"""metadata.yml is read by YAML, which lets a key given twice silently replace the first:
a table described twice would lose one description without a word. This test reads it
strictly."""

from __future__ import annotations

import yaml

from tracker.publish.site import metadata_text


class StrictLoader(yaml.SafeLoader):
    """A YAML loader that refuses a mapping naming a key twice."""


def _mapping(loader: StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"{key!r} is given twice (lines {seen[key] + 1} and {key_node.start_mark.line + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def test_metadata_names_no_key_twice():
    assert yaml.load(metadata_text(), Loader=StrictLoader)["databases"]


def test_the_strict_reading_catches_a_key_given_twice():
    import pytest

    with pytest.raises(yaml.constructor.ConstructorError, match="'events' is given twice"):
        yaml.load("tables:\n  events: 1\n  events: 2\n", Loader=StrictLoader)
