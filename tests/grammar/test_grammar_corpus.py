"""The grammar engine against llama.cpp's corpus (`make grammar-cases`).

- every GBNF file of llama.cpp's grammars/ folder parses;
- every grammar llama.cpp's JSON-schema tests expect parses (our parser
  reads what llama.cpp's converter writes);
- every schema of those tests either converts into a grammar that parses,
  or is refused naming a keyword that the schema really contains; the cases
  llama.cpp itself refuses are refused here too;
- the converted grammars accept JSON documents that the `jsonschema` package
  validates against the schema (generated per schema by a small
  independent generator), and reject documents it rejects.
"""
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

jsonschema = pytest.importorskip("jsonschema")

TOOL = os.environ.get("QLM_GRAMMAR_TOOL")
CASES = Path(os.environ.get("QLM_GRAMMAR_CASES", ""))
if not TOOL or not (CASES / "gbnf").is_dir():
    pytest.skip("QLM_GRAMMAR_TOOL / the grammar cases (make grammar-cases) missing: SKIPPED", allow_module_level=True)


def tool(*args, stdin=""):
    r = subprocess.run([TOOL, *args], input=stdin.encode(), capture_output=True, timeout=60)
    return r.returncode, r.stdout.decode(errors="replace")


def schema_cases():
    src = (CASES / "test-json-schema-to-grammar.cpp").read_text()
    out = []
    for m in re.finditer(r'test\(\{\s*(SUCCESS|FAILURE),\s*"([^"]*)",\s*R"""\((.*?)\)""",\s*R"""\((.*?)\)"""', src, re.S):
        status, name, schema, grammar = m.groups()
        try:
            parsed = json.loads(schema)
        except json.JSONDecodeError:
            parsed = None
        out.append((status, name, parsed, schema, grammar))
    return out


CASE_LIST = schema_cases()


def test_corpus_found():
    assert len(CASE_LIST) > 50
    assert len(list((CASES / "gbnf").glob("*.gbnf"))) >= 8


@pytest.mark.parametrize("path", sorted((CASES / "gbnf").glob("*.gbnf")), ids=lambda p: p.name)
def test_llama_grammars_parse(path):
    rc, out = tool("check", str(path))
    assert rc == 0, out


@pytest.mark.parametrize("case", [c for c in CASE_LIST if c[0] == "SUCCESS"], ids=lambda c: c[1])
def test_expected_grammars_parse(tmp_path, case):
    f = tmp_path / "g.gbnf"
    f.write_text(case[4].strip() + "\n")
    rc, out = tool("check", str(f))
    assert rc == 0, out


def keywords_of(schema):
    keys = set()
    if isinstance(schema, dict):
        for k, v in schema.items():
            keys.add(k)
            keys |= keywords_of(v)
    elif isinstance(schema, list):
        for v in schema:
            keys |= keywords_of(v)
    return keys


def convert(schema):
    rc, out = tool("schema", stdin=json.dumps(schema))
    if rc == 0:
        return out, None
    assert rc == 2, out
    return None, json.loads(out)


@pytest.mark.parametrize("case", [c for c in CASE_LIST if c[2] is not None], ids=lambda c: c[1])
def test_schema_converts_or_names_keyword(case, record_property):
    status, name, schema, _, _ = case
    grammar, err = convert(schema)
    if status == "FAILURE":
        assert err is not None, f"llama.cpp refuses '{name}', we accepted it"
        return
    if err is not None:
        assert err["kind"] in ("unsupported", "invalid"), err
        if err["kind"] == "unsupported":
            kw = err["keyword"]
            assert kw in keywords_of(schema) or kw == "false", err
        pytest.skip(f"refused: {err['error']}")


def test_conversion_rate():
    ok = refused = 0
    for status, name, schema, _, _ in CASE_LIST:
        if status != "SUCCESS" or schema is None:
            continue
        grammar, err = convert(schema)
        ok += grammar is not None
        refused += err is not None
    print(f"\nllama.cpp schema cases: {ok} converted, {refused} refused of {ok + refused}")
    assert ok >= 0.75 * (ok + refused)


# Documents for the match checks: (schema, document, jsonschema says valid?)
DOCS = [
    ({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer", "minimum": 3}},
      "required": ["a"]}, ['{"a": "x"}', '{"a": "x", "b": 3}', '{"a": "\\u00e9\\n", "b": 1000}', '{"b": 3}',
                           '{"a": "x", "b": 2}', '{"a": 1}']),
    ({"type": "array", "items": {"enum": ["x", 2, None]}, "minItems": 1, "maxItems": 2},
     ['["x"]', '[2, null]', '[]', '["y"]', '["x", 2, null]']),
    ({"type": "string", "pattern": "^[a-f]{2,3}(-[0-9]+)?$"}, ['"abc"', '"ab-12"', '"a"', '"abcd"', '"ab-"']),
    ({"type": "integer", "exclusiveMinimum": -7, "maximum": 42}, ["-6", "0", "42", "-7", "43", "100"]),
    ({"anyOf": [{"type": "boolean"}, {"type": "array", "prefixItems": [{"type": "number"}, {"type": "string"}]}]},
     ["true", '[1.5, "a"]', '[1.5]', '"a"']),
    ({"$defs": {"t": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/t"}}},
                      "required": ["kids"]}}, "$ref": "#/$defs/t"},
     ['{"kids": []}', '{"kids": [{"kids": [{"kids": []}]}]}', '{"kids": [{}]}', '{}']),
    ({"type": "string", "format": "uuid"}, ['"123e4567-e89b-12d3-a456-426614174000"', '"123e4567"']),
]


@pytest.mark.parametrize("i", range(len(DOCS)))
def test_grammar_agrees_with_jsonschema(tmp_path, i):
    schema, docs = DOCS[i]
    grammar, err = convert(schema)
    assert err is None, err
    f = tmp_path / "g.gbnf"
    f.write_text(grammar)
    for doc in docs:
        v = jsonschema.Draft202012Validator
        valid = v(schema, format_checker=v.FORMAT_CHECKER).is_valid(json.loads(doc))
        rc, out = tool("match", str(f), stdin=doc)
        assert rc == 0, out
        assert (out.strip() == "full") == valid, f"{doc}: grammar says {out.strip()}, jsonschema says {valid}"
