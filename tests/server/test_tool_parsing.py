"""Tool-call parsing per template family of llama.cpp's template corpus
(`make templates`), through tool_parse (the server's parser).

For each family's templates: the format qlm serve picks from the template;
model outputs written here as the family's format prescribes (one and several
calls, nested JSON and unicode in the arguments, text before the calls) parse
into the expected calls, whole and fed in chunks of 1, 2, 5 and 11 bytes
(markers split across tokens), with the streamed deltas assembling into the
same calls and no marker in the content; plain answers, also ones that look
a little like calls, are never mistaken for calls, for every template.
"""
import json
import os
import subprocess
from pathlib import Path

import pytest

TOOL = os.environ.get("QLM_TOOL_PARSE")
TEMPLATES = Path(os.environ.get("QLM_TEMPLATE_DIR", "/nonexistent"))
if not TOOL or not TEMPLATES.is_dir():
    pytest.skip("QLM_TOOL_PARSE / the template corpus (make templates) missing: SKIPPED", allow_module_level=True)

FAMILIES = {
    "hermes": ["Qwen-Qwen2.5-7B-Instruct", "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use",
               "NousResearch-Hermes-3-Llama-3.1-8B-tool_use", "Qwen-QwQ-32B", "Qwen-Qwen3-0.6B",
               "ibm-granite-granite-4.0"],
    "qwen3-coder": ["Qwen3-Coder", "Qwen3.5-4B", "NVIDIA-Nemotron-3-Nano-30B-A3B-BF16"],
    "llama": ["meta-llama-Llama-3.1-8B-Instruct", "meta-llama-Llama-3.2-3B-Instruct",
              "meta-llama-Llama-3.3-70B-Instruct"],
    "mistral": ["mistralai-Mistral-Nemo-Instruct-2407", "Mistral-Small-3.2-24B-Instruct-2506",
                "unsloth-mistral-Devstral-Small-2507"],
    "harmony": ["openai-gpt-oss-120b"],
}

CALLS = [
    ("get_weather", {"city": "Zürich", "unit": "celsius"}),
    ("add", {"a": 12.5, "b": -3, "meta": {"tags": ["x", "y"], "nested": {"deep": [1, {"k": None}]}}}),
    ("get_weather", {"city": "東京 \"quoted\" \\ back"}),
]


def hermes(content, calls):
    return content + "".join("<tool_call>\n" + json.dumps({"name": n, "arguments": a}, ensure_ascii=False) + "\n</tool_call>\n"
                             for n, a in calls)


def qwen_xml(content, calls):
    def val(v):
        return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
    return content + "".join(
        "<tool_call>\n<function=" + n + ">\n" +
        "".join(f"<parameter={k}>\n{val(v)}\n</parameter>\n" for k, v in a.items()) +
        "</function>\n</tool_call>\n" for n, a in calls)


def llama(content, calls):
    assert not content
    return "<|python_tag|>" + "; ".join(json.dumps({"name": n, "parameters": a}, ensure_ascii=False) for n, a in calls)


def mistral(content, calls):
    return content + "[TOOL_CALLS]" + json.dumps([{"name": n, "arguments": a, "id": f"abc{i:06d}"}
                                                  for i, (n, a) in enumerate(calls)], ensure_ascii=False)


def harmony(content, calls):
    out = ""
    if content:
        out += "<|start|>assistant<|channel|>final<|message|>" + content + "<|end|>"
    for n, a in calls:
        out += f"<|start|>assistant<|channel|>commentary to=functions.{n} <|constrain|>json<|message|>" + \
               json.dumps(a, ensure_ascii=False) + "<|call|>"
    return out


WRITERS = {"hermes": hermes, "qwen3-coder": qwen_xml, "llama": llama, "mistral": mistral, "harmony": harmony}
NAMES = ["get_weather", "add"]


def parse(template, text, chunk=None, inside=False):
    args = [TOOL, str(template), str(chunk or len(text.encode()) + 1), *(["--inside"] if inside else []), *NAMES]
    r = subprocess.run(args, input=text.encode(), capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr.decode()
    return json.loads(r.stdout)


def family_cases():
    for fam, names in FAMILIES.items():
        for n in names:
            yield pytest.param(fam, TEMPLATES / f"{n}.jinja", id=f"{fam}-{n}")


@pytest.mark.parametrize("fam,template", list(family_cases()))
def test_family_detected_and_parsed(fam, template):
    assert template.exists(), template
    assert parse(template, "")["format"] == fam
    for calls in (CALLS[:1], CALLS):
        content = "" if fam == "llama" else "Let me check."
        text = WRITERS[fam](content, calls)
        results = [parse(template, text, c) for c in (None, 1, 2, 5, 11)]
        for r in results:
            got = [(c["name"], json.loads(c["arguments"])) for c in r["calls"]]
            assert got == calls, (text, r)
            assert r["content"].strip() == content.strip(), r
            for marker in ("<tool_call>", "</tool_call>", "<function=", "[TOOL_CALLS]", "<|python_tag|>", "<|call|>",
                           "to=functions", "<|channel|>", "<|start|>", "<|message|>"):
                assert marker not in r["content"], r
            streamed = [(c["name"], json.loads(c["arguments"])) for c in r["streamed"]]
            assert streamed == calls, r
            assert len({c["id"] for c in r["calls"]}) == len(calls)


PLAIN = [
    "The weather in Paris is sunny.",
    "Use <tool_call> tags? No, here is a plain answer: 3 < 4 and 5 > 2.",
    '{"answer": 42, "name": "not_a_tool"}',
    "```json\n{\"name\": \"unknown_tool\", \"arguments\": {}}\n```",
    "```python\nprint('hi')\n```",
    "[TOOL] calls are not [TOOL_CALL here",
]


@pytest.mark.parametrize("template", sorted(TEMPLATES.glob("*.jinja")), ids=lambda p: p.stem)
def test_plain_answers_are_not_calls(template):
    for text in PLAIN:
        for chunk in (None, 3):
            r = parse(template, text, chunk)
            assert r["calls"] == [], (text, r)
            assert r["content"] == text, (text, r)


@pytest.mark.parametrize("chunk", [None, 1, 3, 8])
def test_reasoning_split_from_answer_and_calls(chunk):
    qwen3 = TEMPLATES / "Qwen-Qwen3-0.6B.jinja"
    text = "<think>\nThe user wants Paris. I should not write <tool_call> here, </thin k> is no end.\n</think>\n\n" + \
        hermes("", CALLS[:1])
    r = parse(qwen3, text, chunk)
    assert r["reasoning"] == "\nThe user wants Paris. I should not write <tool_call> here, </thin k> is no end.\n", r
    assert [(c["name"], json.loads(c["arguments"])) for c in r["calls"]] == CALLS[:1]
    assert r["content"].strip() == ""
    # no think block: everything is the answer
    r = parse(qwen3, "Just an answer <think> in the middle.", chunk)
    assert r["reasoning"] == "" and r["content"] == "Just an answer <think> in the middle."
    # DeepSeek-R1: the prompt opened the block
    r1 = TEMPLATES / "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja"
    r = parse(r1, "Let me think: 2+2=4.\n</think>\n\nThe answer is 4.", chunk, inside=True)
    assert r["reasoning"] == "Let me think: 2+2=4.\n" and r["content"] == "The answer is 4.", r
