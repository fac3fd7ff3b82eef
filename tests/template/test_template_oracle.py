"""Chat templates against Python's jinja2, byte for byte.

Every template of llama.cpp's corpus (models/templates/, `make templates`)
is rendered with several message lists through our engine (the
template_render helper) and through jinja2 set up as Hugging Face
transformers sets it up (transformers/utils/chat_template_utils.py,
_compile_jinja_template): an ImmutableSandboxedEnvironment with
trim_blocks, lstrip_blocks, the loopcontrols extension and the
{% generation %} tag, tojson = json.dumps(ensure_ascii=False, ...),
raise_exception and strftime_now; rendered with messages, tools=None,
documents=None, add_generation_prompt, bos_token and eos_token (and, for
two of the lists, enable_thinking=False or a tool definition with a tool
call and its result).

A case agrees when both outputs are identical, or both fail (and when the
template called raise_exception, both with the same message). Templates
listed in out_of_reach.txt are expected to disagree somewhere; one that
agrees everywhere must be taken off the list.
"""
import json
import os
import pathlib
import subprocess
import time
from datetime import datetime

import pytest

jinja2 = pytest.importorskip("jinja2")
from jinja2.ext import Extension, loopcontrols  # noqa: E402
from jinja2.sandbox import ImmutableSandboxedEnvironment  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
TEMPLATE_DIR = pathlib.Path(os.environ.get("QLM_TEMPLATE_DIR", HERE.parents[1] / "models" / "templates"))
RENDER = os.environ.get("QLM_TEMPLATE_RENDER", "")
NOW = 1700000000  # strftime_now's clock in both engines (TZ=UTC)

os.environ["TZ"] = "UTC"
time.tzset()

MESSAGE_SETS = {
    "user": ([{"role": "user", "content": "Hello!"}], True),
    "system_user": (
        [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "What is 2+2?"}],
        True,
    ),
    "multi_turn": (
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi there"},
            {"role": "assistant", "content": "Hello! How can I help?"},
            {"role": "user", "content": "Tell me a joke."},
        ],
        True,
    ),
    "multi_turn_no_system": (
        [
            {"role": "user", "content": "First question"},
            {"role": "assistant", "content": "First answer"},
            {"role": "user", "content": "Second question"},
        ],
        True,
    ),
    "assistant_last": (
        [{"role": "user", "content": "Say hi"}, {"role": "assistant", "content": "Hi!"}],
        False,
    ),
    "multi_turn_no_prompt": (
        [
            {"role": "system", "content": "System text\nwith two lines."},
            {"role": "user", "content": "  padded  "},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "again"},
        ],
        False,
    ),
    "empty_content": ([{"role": "user", "content": ""}], True),
    "reasoning": (
        [
            {"role": "user", "content": "Why is the sky blue?"},
            {"role": "assistant", "content": "Rayleigh scattering.", "reasoning_content": "Short wavelengths scatter more."},
            {"role": "user", "content": "And sunsets?"},
        ],
        True,
    ),
    "content_parts": (
        [
            {"role": "system", "content": [{"type": "text", "text": "Be terse."}]},
            {"role": "user", "content": [{"type": "text", "text": "Part one."}, {"type": "text", "text": "Part two."}]},
        ],
        True,
    ),
    "template_like_text": (
        [
            {"role": "system", "content": "  leading spaces and trailing newlines\n\n"},
            {"role": "user", "content": "{{ not a variable }} {% if %} <|im_end|> </s> [INST]"},
            {"role": "assistant", "content": "<think>thinking</think>\n\nanswer"},
            {"role": "user", "content": "\n"},
        ],
        True,
    ),
    "two_systems": (
        [
            {"role": "system", "content": "First system."},
            {"role": "system", "content": "Second system."},
            {"role": "user", "content": "Hello"},
        ],
        True,
    ),
    "thinking_off": (
        [{"role": "user", "content": "Quick one"}, {"role": "assistant", "content": "Sure"},
         {"role": "user", "content": "Thanks"}],
        True,
        {"enable_thinking": False},
    ),
    "tools": (
        [
            {"role": "system", "content": "Use tools when needed."},
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}]},
            {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "{\"temp\": 21.5}"},
        ],
        True,
        {"tools": [{"type": "function", "function": {
            "name": "get_weather", "description": "Current weather for a city.",
            "parameters": {"type": "object", "required": ["city"], "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}}}}]},
    ),
    "unicode": (
        [
            {"role": "user", "content": "héllo wörld — 日本語 🙂 \"quotes\" 'single' <tag> & \\ back"},
            {"role": "assistant", "content": "Ответ: ✓ ß Ω"},
            {"role": "user", "content": "ça va?\ttab"},
        ],
        True,
    ),
}


class RaisedByTemplate(jinja2.exceptions.TemplateError):
    pass


class AssistantTracker(Extension):
    # transformers' {% generation %} ... {% endgeneration %}: renders its body.
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_env():
    def raise_exception(message):
        raise RaisedByTemplate(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.fromtimestamp(NOW).strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


_compiled = {}


def jinja_render(env, source, messages, agp, extra=None):
    try:
        if source not in _compiled:
            _compiled[source] = env.from_string(source)
        tmpl = _compiled[source]
    except Exception as e:  # noqa: BLE001
        return {"error": f"parse: {type(e).__name__}: {e}", "raised": False}
    try:
        variables = {"messages": messages, "tools": None, "documents": None, "add_generation_prompt": agp,
                     "bos_token": "<s>", "eos_token": "</s>", **(extra or {})}
        out = tmpl.render(**variables)
        return {"output": out}
    except RaisedByTemplate as e:
        return {"error": str(e), "raised": True}
    except Exception as e:  # noqa: BLE001
        return {"error": f"{type(e).__name__}: {e}", "raised": False}


def templates():
    return sorted(TEMPLATE_DIR.glob("*.jinja")) if TEMPLATE_DIR.is_dir() else []


def out_of_reach():
    table = {}
    for line in (HERE / "out_of_reach.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, reason = line.partition(" ")
            table[name] = reason.strip()
    return table


@pytest.fixture(scope="session")
def results(tmp_path_factory):
    if not templates():
        pytest.skip(f"no templates in {TEMPLATE_DIR} (run 'make templates')")
    if not RENDER or not os.access(RENDER, os.X_OK):
        pytest.skip("QLM_TEMPLATE_RENDER does not name the template_render helper")
    cases = []
    for path in templates():
        for name, (messages, agp, *extra) in MESSAGE_SETS.items():
            cases.append({"template": str(path), "set": name, "messages": messages, "add_generation_prompt": agp,
                          "bos_token": "<s>", "eos_token": "</s>", "now": NOW, "extra": extra[0] if extra else {}})
    case_file = tmp_path_factory.mktemp("tmpl") / "cases.json"
    case_file.write_text(json.dumps(cases, ensure_ascii=False))
    proc = subprocess.run([RENDER, str(case_file)], capture_output=True, timeout=600,
                          env={**os.environ, "TZ": "UTC"})
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    ours = json.loads(proc.stdout)
    env = make_env()
    table = {}
    for case, mine in zip(cases, ours):
        source = pathlib.Path(case["template"]).read_text(encoding="utf-8")
        theirs = jinja_render(env, source, case["messages"], case["add_generation_prompt"], case["extra"])
        table.setdefault(pathlib.Path(case["template"]).name, []).append((case["set"], mine, theirs))
    return table


def disagreements(rows):
    bad = []
    for name, mine, theirs in rows:
        if "output" in theirs:
            if mine.get("output") != theirs["output"]:
                bad.append((name, mine, theirs))
        elif "output" in mine or (theirs["raised"] and (not mine.get("raised") or mine["error"] != theirs["error"])):
            bad.append((name, mine, theirs))
    return bad


def describe(bad):
    lines = []
    for name, mine, theirs in bad[:3]:
        lines.append(f"--- {name}\n  jinja2: {json.dumps(theirs, ensure_ascii=False)[:600]}\n"
                     f"  qlm:    {json.dumps(mine, ensure_ascii=False)[:600]}")
    return "\n".join(lines)


@pytest.mark.parametrize("template", [p.name for p in templates()] or ["(none)"])
def test_template_matches_jinja2(results, template):
    rows = results[template]
    bad = disagreements(rows)
    reach = out_of_reach()
    if template in reach:
        assert bad, f"{template} now agrees with jinja2 on every case: remove it from out_of_reach.txt"
        return
    assert not bad, f"{template}: {len(bad)} of {len(rows)} cases differ from jinja2\n{describe(bad)}"


def test_corpus_summary(results):
    # The figures the README quotes.
    agree = [t for t, rows in results.items() if not disagreements(rows)]
    cases = [theirs for rows in results.values() for _, _, theirs in rows]
    rendered = sum("output" in c for c in cases)
    raised = sum("error" in c and c["raised"] for c in cases)
    print(f"\ntemplate corpus: {len(agree)} of {len(results)} templates agree with jinja2 on all "
          f"{len(MESSAGE_SETS)} message lists; of {len(cases)} cases {rendered} render (byte-identical), "
          f"{raised} raise_exception (same message), {len(cases) - rendered - raised} fail in both engines")
    listed = set(out_of_reach())
    assert listed <= set(results), f"out_of_reach.txt names templates not in the corpus: {listed - set(results)}"


# The gpt-oss chat template (Harmony format) reads fields the common message
# lists above do not carry: an assistant's "thinking", tool calls followed by
# a final answer, the developer role, reasoning_effort, model_identity,
# builtin_tools, and tool parameter schemas of every shape its TypeScript
# rendering handles. These cases run on that template only.
GPT_OSS = "openai-gpt-oss-120b.jinja"
_WEATHER_CALL = {"id": "c1", "type": "function",
                 "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}}
_TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather.\nSecond line of description.",
        "parameters": {"type": "object", "required": ["city"], "properties": {
            "city": {"type": "string", "description": "City name"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
            "days": {"type": "integer", "description": "How many days", "default": 1},
            "detail": {"type": "boolean"},
            "ratio": {"type": "number", "nullable": True},
            "tags": {"type": "array", "items": {"type": "string"}},
            "scores": {"type": "array", "items": {"type": "number"}, "nullable": True},
            "flags": {"type": "array", "items": {"type": "boolean"}},
            "ids": {"type": "array", "items": {"type": "integer"}},
            "points": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "number"}}}},
            "any_list": {"type": "array"},
            "either": {"type": ["string", "null"]},
            "single": {"type": ["integer"]},
            "choice": {"oneOf": [{"type": "string"}, {"type": "integer", "default": 2}]},
            "mixed": {"oneOf": [{"type": "object"}, {"type": "string"}]},
            "opts": {"type": "object", "properties": {"verbose": {"type": "boolean"}}, "required": ["verbose"]},
            "free": {},
        }}}},
    {"type": "function", "function": {"name": "no_params", "description": "Takes nothing."}},
    {"type": "function", "function": {"name": "empty_params", "description": "", "parameters": {"type": "object", "properties": {}}}},
]
GPT_OSS_SETS = {
    "thinking": ([{"role": "user", "content": "Why is the sky blue?"},
                  {"role": "assistant", "content": "Rayleigh scattering.", "thinking": "Short waves scatter."},
                  {"role": "user", "content": "And sunsets?"}], True, {}),
    "final_last": ([{"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Hello!", "thinking": "Greet back."}], False, {}),
    "developer_effort": ([{"role": "developer", "content": "Answer in French."},
                          {"role": "user", "content": "Bonjour"}], True,
                         {"reasoning_effort": "high", "model_identity": "You are a test model."}),
    "system_low": ([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}], True,
                   {"reasoning_effort": "low", "builtin_tools": ["browser", "python"]}),
    "builtin_python": ([{"role": "user", "content": "Run code"}], True, {"builtin_tools": ["python"]}),
    "tool_round_trip": ([
        {"role": "system", "content": "Use tools."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "thinking": "I should call the tool.", "tool_calls": [_WEATHER_CALL]},
        {"role": "tool", "tool_call_id": "c1", "content": "{\"temp\": 21.5}"},
        {"role": "assistant", "content": "It is 21.5 °C.", "thinking": "Report it."},
        {"role": "user", "content": "Thanks"},
    ], True, {"tools": _TOOLS}),
    "tool_pending": ([
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": "Calling twice.", "tool_calls": [_WEATHER_CALL]},
        {"role": "tool", "content": "sunny"},
        {"role": "assistant", "thinking": "Now Rome.", "tool_calls": [
            {"function": {"name": "get_weather", "arguments": {"city": "Rome"}}}]},
        {"role": "tool", "content": "{\"temp\": 25}"},
    ], True, {"tools": _TOOLS, "builtin_tools": ["browser"]}),
    "tools_only": ([{"role": "user", "content": "hi"}], True, {"tools": _TOOLS}),
    "channel_in_content": ([{"role": "assistant", "content": "x<|channel|>final<|message|>y"}], True, {}),
    "channel_in_thinking": ([{"role": "assistant", "content": "ok", "thinking": "<|channel|>analysis<|message|>"}],
                            True, {}),
    "content_and_thinking_call": ([{"role": "user", "content": "q"},
                                   {"role": "assistant", "content": "a", "thinking": "b",
                                    "tool_calls": [_WEATHER_CALL]}], True, {"tools": _TOOLS}),
    "tool_without_call": ([{"role": "user", "content": "q"}, {"role": "tool", "content": "r"}], True, {}),
    "unicode": ([{"role": "user", "content": "日本語 🙂 \"q\" <tag> & \\ ça"},
                 {"role": "assistant", "content": "Ответ ✓", "thinking": "ß Ω\n\nnew para"}], True, {}),
}


def test_gpt_oss_harmony_cases(tmp_path):
    path = TEMPLATE_DIR / GPT_OSS
    if not path.is_file():
        pytest.skip(f"no {GPT_OSS} in {TEMPLATE_DIR} (run 'make templates')")
    if not RENDER or not os.access(RENDER, os.X_OK):
        pytest.skip("QLM_TEMPLATE_RENDER does not name the template_render helper")
    cases = [{"template": str(path), "set": name, "messages": messages, "add_generation_prompt": agp,
              "bos_token": "<s>", "eos_token": "</s>", "now": NOW, "extra": extra}
             for name, (messages, agp, extra) in GPT_OSS_SETS.items()]
    case_file = tmp_path / "cases.json"
    case_file.write_text(json.dumps(cases, ensure_ascii=False))
    proc = subprocess.run([RENDER, str(case_file)], capture_output=True, timeout=120, env={**os.environ, "TZ": "UTC"})
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    ours = json.loads(proc.stdout)
    env, source = make_env(), path.read_text(encoding="utf-8")
    rows = [(case["set"], mine, jinja_render(env, source, case["messages"], case["add_generation_prompt"], case["extra"]))
            for case, mine in zip(cases, ours)]
    # the cases reach the template's branches: most render, the four misuse cases raise
    assert sum("output" in theirs for _, _, theirs in rows) == len(rows) - 4, describe(rows)
    assert sum(theirs.get("raised", False) for _, _, theirs in rows) == 4, describe(rows)
    bad = disagreements(rows)
    assert not bad, f"{GPT_OSS}: {len(bad)} of {len(rows)} Harmony cases differ from jinja2\n{describe(bad)}"
