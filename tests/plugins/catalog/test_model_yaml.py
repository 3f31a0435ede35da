"""Descriptor YAML parsing on hostile input, key line numbers, and offline file validation."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from greenroom.plugins.catalog.model import (
    DescriptorError,
    load_descriptor_documents,
    load_single_yaml_value,
    validate_descriptor_files,
)


def load(text: str | bytes, **limits):
    data = text.encode() if isinstance(text, str) else text
    return load_descriptor_documents(data, source="catalog-info.yaml", **limits)


def test_values_and_key_lines():
    [document] = load(
        "apiVersion: backstage.io/v1alpha1\n"
        "kind: Component\n"
        "metadata:\n"
        "  name: petstore\n"
        "  tags: [java, data]\n"
        "spec:\n"
        "  providesApis:\n"
        "    - a\n"
        "    - b\n"
        "  nested:\n"
        "    - x: 1\n"
    )
    assert document.error is None and document.index == 0 and document.line == 1
    assert document.value["spec"] == {"providesApis": ["a", "b"], "nested": [{"x": 1}]}
    assert document.key_lines["metadata.name"] == 4
    assert document.key_lines["metadata.tags.1"] == 5
    assert document.key_lines["spec.providesApis.1"] == 9
    assert document.key_lines["spec.nested.0.x"] == 11


def test_yaml_1_2_core_schema_scalars():
    [document] = load(
        "a: yes\nb: on\nc: 2024-01-02\nd: 0x1F\ne: 0o17\nf: 012\ng: 1.5e3\nh: ~\ni: True\nj: .inf\n"
        "k: '123'\nl: !!str 12\nm: 12:30\nn: 1_000\n<<: merge-is-a-plain-key\n1: numeric key\n"
    )
    assert document.value == {
        "a": "yes",
        "b": "on",
        "c": "2024-01-02",
        "d": 31,
        "e": 15,
        "f": 12,
        "g": 1500.0,
        "h": None,
        "i": True,
        "j": float("inf"),
        "k": "123",
        "l": "12",
        "m": "12:30",
        "n": "1_000",
        "<<": "merge-is-a-plain-key",
        "1": "numeric key",
    }


def test_syntax_error_has_line_and_column():
    [document] = load("a: 1\nb: [1, 2\nc: 3\n")
    assert document.value is None
    error = document.error
    assert isinstance(error, DescriptorError)
    assert (error.line, error.column) == (3, 2)
    assert str(error).startswith("catalog-info.yaml:3: YAML syntax error at column 2:")


@pytest.mark.parametrize(
    ("text", "found"),
    [("- a\n- b\n", "a list"), ("just text\n", "a string"), ("42\n", "a number"), ("true\n", "a boolean")],
)
def test_non_mapping_documents_are_rejected(text, found):
    [document] = load(text)
    assert document.error is not None
    assert document.error.message == f"expected a mapping (an entity), found {found}"


def test_empty_documents_are_skipped_but_counted():
    documents = load("---\n# only a comment\n---\na: 1\n---\n")
    assert [(document.index, document.value) for document in documents] == [(1, {"a": 1})]
    assert load("") == []


def test_billion_laughs_is_stopped_quickly():
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [" + ",".join([f"*{previous}"] * 9) + "]")
    started = time.perf_counter()
    [document] = load("\n".join(lines) + "\n")
    assert time.perf_counter() - started < 2
    assert document.error is not None and "too many aliases/nodes" in document.error.message


def test_aliases_within_budget_are_expanded_into_independent_copies():
    [document] = load("a: &x {k: [1, 2]}\nb: *x\n")
    assert document.value == {"a": {"k": [1, 2]}, "b": {"k": [1, 2]}}
    assert document.value["a"] is not document.value["b"]


def test_unknown_alias_and_recursive_alias_are_errors():
    [unknown] = load("a: *nowhere\n")
    assert unknown.error is not None and "no finished anchor" in unknown.error.message
    [recursive] = load("a: &x [*x]\n")
    assert recursive.error is not None


def test_deep_nesting_is_refused_without_crashing():
    for text in ("a: " + "[" * 100_000 + "\n", "a:\n" + "".join(" " * (i + 1) + "b:\n" for i in range(200))):
        [document] = load(text)
        assert document.error is not None and "nesting is deeper than 64 levels" in document.error.message
    [shallow] = load("a: " + "[" * 10 + "]" * 10 + "\n", max_depth=11)
    assert shallow.error is None


def test_alias_cannot_smuggle_depth():
    text = "a: &a [[[[[[1]]]]]]\nb: &b [*a, *a]\nc: &c [*b]\nd: [*c]\n"
    [document] = load(text, max_depth=8)
    assert document.error is not None and "deeper" in document.error.message


def test_duplicate_keys():
    [document] = load("metadata:\n  name: a\n  name: b\n")
    assert document.error is not None
    assert (document.error.line, document.error.field) == (3, "metadata.name")
    assert "duplicate key 'name' (first at line 2)" in document.error.message


def test_keys_differing_only_in_case():
    [document] = load("spec:\n  owner: a\n  Owner: b\n")
    assert document.error is not None
    assert (document.error.line, document.error.field) == (3, "spec.Owner")
    assert document.error.message == "keys 'owner' and 'Owner' differ only in case"


def test_complex_keys_are_refused():
    [document] = load("? [a, b]\n: c\n")
    assert document.error is not None and "must be a scalar" in document.error.message


def test_non_utf8_bytes_report_the_offset_and_line():
    [document] = load(b"a: 1\nb: caf\xe9\n")
    assert document.error is not None
    assert document.error.line == 2 and document.error.column == 7
    assert "not valid UTF-8" in document.error.message and "offset 11" in document.error.message


def test_utf8_bom_is_accepted():
    [document] = load(b"\xef\xbb\xbfa: 1\n")
    assert document.value == {"a": 1}


def test_control_characters_are_reported_at_their_line():
    documents = load("a: 1\n---\nb: \x07\n---\nc: 3\n")
    assert documents[0].value == {"a": 1}
    assert documents[1].error is not None and (documents[1].error.line, documents[1].error.column) == (3, 4)
    assert "U+0007" in documents[1].error.message
    assert documents[2].value == {"c": 3}


def test_too_big_file():
    [document] = load("a: 1\n" * 100, max_bytes=100)
    assert document.error is not None and "more than the limit of 100" in document.error.message


def test_one_broken_document_does_not_hide_the_others():
    text = (
        "kind: A\n"  # doc 0, lines 1
        "---\n"
        "kind: [unclosed\n"  # doc 1, broken
        "---\n"
        "kind: C\n"  # doc 2
        "---\n"
        "- a list\n"  # doc 3, not an entity
        "---\n"
        "kind: E\n"  # doc 4
        "kind: E\n"  # duplicate
        "---\n"
        "kind: F\n"  # doc 5
    )
    documents = load(text)
    summary = [(d.index, d.line, d.value, d.error.line if d.error else None) for d in documents]
    assert summary == [
        (0, 1, {"kind": "A"}, None),
        (1, 4, None, 4),
        (2, 5, {"kind": "C"}, None),
        (3, 7, None, 7),
        (4, 10, None, 10),
        (5, 12, {"kind": "F"}, None),
    ]


def test_broken_tail_keeps_earlier_documents():
    documents = load("a: 1\n---\nb: 2\nc: : :\n  d\n")
    assert documents[0].value == {"a": 1}
    assert documents[1].error is not None and documents[1].index == 1


def test_descriptor_error_str():
    assert str(DescriptorError("f.yaml", 3, 1, "spec.owner", "bad")) == "f.yaml:3: spec.owner: bad"
    assert str(DescriptorError("f.yaml", 3, 1, "", "bad")) == "f.yaml:3: bad"


def test_single_yaml_value_for_placeholders():
    assert load_single_yaml_value(b"- 1\n- on\n", source="x.yaml") == [1, "on"]
    assert load_single_yaml_value(b"", source="x.yaml") is None
    with pytest.raises(ValueError, match="exactly one YAML document"):
        load_single_yaml_value(b"a: 1\n---\nb: 2\n", source="x.yaml")
    with pytest.raises(ValueError, match=r"x\.yaml:\d+: YAML syntax error"):
        load_single_yaml_value(b"a: [", source="x.yaml")


def test_validate_descriptor_files_reports_lines(tmp_path: Path):
    good = tmp_path / "good.yaml"
    good.write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\n"
        "spec:\n  type: team\n  children: []\n"
    )
    bad = tmp_path / "catalog-info.yaml"
    bad.write_text(
        "apiVersion: backstage.io/v1alpha1\n"
        "kind: Component\n"
        "metadata:\n"
        "  name: -petstore\n"
        "  tags:\n"
        "    - java\n"
        "    - Java\n"
        "spec:\n"
        "  type: service\n"
        "  owner: team-a\n"
        "  dependsOn: [db]\n"
        "---\n"
        "apiVersion: backstage.io/v1alpha1\n"
        "kind: Group\n"
        "metadata:\n"
        "  name: team-a\n"
        "spec: {type: team, children: []}\n"
        "---\n"
        "kind: [\n"
    )
    problems = validate_descriptor_files([good, bad, tmp_path / "missing.yaml"])
    rendered = [(Path(p.source).name, p.line, p.field) for p in problems]
    assert ("catalog-info.yaml", 8, "spec.lifecycle") in rendered  # missing field -> its parent's line
    assert ("catalog-info.yaml", 4, "metadata.name") in rendered
    assert ("catalog-info.yaml", 7, "metadata.tags.1") in rendered
    assert ("catalog-info.yaml", 11, "spec.dependsOn.0") in rendered
    assert ("catalog-info.yaml", 16, "metadata.name") in rendered  # group:default/team-a defined twice
    assert any(p.line in (19, 20) and "YAML syntax error" in p.message for p in problems)  # 20: EOF
    assert any(Path(p.source).name == "missing.yaml" and "cannot read file" in p.message for p in problems)
    assert not any(Path(p.source).name == "good.yaml" for p in problems)
    assert str(next(p for p in problems if p.field == "metadata.tags.1")).startswith(
        f'{bad}:7: metadata.tags.1: "tags.1" is not valid'
    )
