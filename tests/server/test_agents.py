"""qlm serve for agents, against the official `openai` client on 127.0.0.1,
with a real instruct model (Qwen2.5-Coder-0.5B-Instruct, `make qwen-coder`;
its chat template has Hermes-style tools). One server for the module.

Structured output: a corpus of JSON schemas (llama.cpp's schema-to-grammar
cases that we convert, `make grammar-cases`, plus our own), several samples
each at temperature 1; every answer that ends (finish_reason "stop") must
parse and validate with the `jsonschema` package; GBNF grammars constrain
/v1/completions; unsupported schemas and malformed grammars are 400s naming
the keyword or the position.

Tool calls: get_weather / add-numbers tools, streamed and not; tool_choice
auto / required / named / none; a full tool loop (call, result, answer).

The same engine through Anthropic's Messages API (the `anthropic` client:
tools, streaming, tool results, count_tokens, its error envelope) and
OpenAI's Responses API (create, previous_response_id, function calls and
their outputs, typed stream events, text.format).
"""
import concurrent.futures as cf
import json
import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

openai = pytest.importorskip("openai")
jsonschema = pytest.importorskip("jsonschema")

QLM = os.environ.get("QLM_BIN")
MODEL = os.environ.get("QLM_QWEN_MODEL")
CASES = Path(os.environ.get("QLM_GRAMMAR_CASES", "/nonexistent"))

if not QLM or not MODEL or not Path(MODEL).exists():
    pytest.skip("QLM_BIN / QLM_QWEN_MODEL (make qwen-coder) missing: SKIPPED", allow_module_level=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, *extra):
        self.port = free_port()
        self.log = open(f"/tmp/qlm-agents-test-{self.port}.log", "w")
        self.proc = subprocess.Popen([QLM, "serve", "-m", MODEL, "--host", "127.0.0.1", "--port", str(self.port),
                                      "-t", "2", "-c", "2048", *extra], stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 120
        while time.time() < deadline:
            assert self.proc.poll() is None, Path(self.log.name).read_text()
            try:
                if self.raw("GET", "/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError("qlm serve did not become healthy")

    def raw(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=300) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def client(self):
        return openai.OpenAI(base_url=self.url + "/v1", api_key="none", max_retries=0, timeout=300)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:  # idle keep-alive connections: as test_server.py does
            self.proc.kill()


@pytest.fixture(scope="module")
def srv():
    s = Server()
    yield s
    s.stop()


# ---------------------------------------------------------------- structured output

OWN_SCHEMAS = [
    {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0, "maximum": 130},
                                      "email": {"type": "string", "format": "uuid"}}, "required": ["name", "age"]},
    {"type": "array", "items": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 20},
                                                                 "temp_c": {"type": "number"}},
                                "required": ["city", "temp_c"]}, "minItems": 1, "maxItems": 3},
    {"type": "object", "properties": {"status": {"enum": ["ok", "error", "pending"]}, "code": {"type": "integer", "exclusiveMinimum": 99, "maximum": 599},
                                      "tags": {"type": "array", "items": {"type": "string", "pattern": "^[a-z]{1,8}$"}, "maxItems": 4}},
     "required": ["status", "code"], "additionalProperties": False},
    {"$defs": {"item": {"type": "object", "properties": {"id": {"type": "integer"}, "children": {"type": "array", "maxItems": 2, "items": {"$ref": "#/$defs/item"}}}, "required": ["id"]}},
     "$ref": "#/$defs/item"},
    {"anyOf": [{"type": "null"}, {"type": "object", "properties": {"date": {"type": "string", "format": "date"}}, "required": ["date"]}]},
    {"type": "object", "properties": {"point": {"type": "array", "prefixItems": [{"type": "number"}, {"type": "number"}], "items": False, "minItems": 2}},
     "required": ["point"], "additionalProperties": {"type": "boolean"}},
]


def corpus_schemas():
    out = []
    f = CASES / "test-json-schema-to-grammar.cpp"
    if f.exists():
        src = f.read_text()
        for m in re.finditer(r'test\(\{\s*SUCCESS,\s*"([^"]*)",\s*R"""\((.*?)\)"""', src, re.S):
            try:
                out.append((m.group(1), json.loads(m.group(2))))
            except json.JSONDecodeError:
                pass
    return out


def schema_corpus():
    cases = [(f"own-{i}", s) for i, s in enumerate(OWN_SCHEMAS)]
    # every 4th llama.cpp case keeps the run short; they vary widely
    cases += corpus_schemas()[::4]
    return cases


def test_schema_corpus_validity(srv):
    cases = schema_corpus()
    assert len(cases) >= 20, "the grammar cases are missing: make grammar-cases"
    v = jsonschema.Draft202012Validator

    def run(case):
        name, schema = case
        st, body = srv.raw("POST", "/v1/chat/completions", {
            "messages": [{"role": "user", "content": "Reply with a short JSON value for this schema: " + json.dumps(schema)[:600]}],
            "temperature": 1.0, "max_tokens": 96, "n": 2, "seed": 7,
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema, "strict": True}}})
        return name, schema, st, body

    stats = {"stop": 0, "length": 0, "refused": 0, "invalid": []}
    with cf.ThreadPoolExecutor(6) as ex:
        for name, schema, st, body in ex.map(run, cases):
            if st == 400:
                assert body["error"]["code"] in ("unsupported_schema_keyword", "invalid_schema"), body
                stats["refused"] += 1
                continue
            assert st == 200, body
            for ch in body["choices"]:
                if ch["finish_reason"] != "stop":
                    stats["length"] += 1
                    continue
                stats["stop"] += 1
                text = ch["message"]["content"]
                try:
                    doc = json.loads(text)
                    errs = list(v(schema, format_checker=v.FORMAT_CHECKER).iter_errors(doc))
                except json.JSONDecodeError as e:
                    errs = [e]
                if errs:
                    stats["invalid"].append((name, text, str(errs[0])[:200]))
    print(f"\nschema corpus: {len(cases)} schemas, {stats['stop']} answers ended, "
          f"{stats['stop'] - len(stats['invalid'])} valid, {stats['length']} cut by max_tokens, {stats['refused']} schemas refused")
    assert stats["stop"] >= 20
    assert not stats["invalid"], stats["invalid"][:5]


def test_json_object_and_gbnf(srv):
    c = srv.client()
    r = c.chat.completions.create(model="x", messages=[{"role": "user", "content": "A JSON object about cats."}],
                                  response_format={"type": "json_object"}, temperature=0, max_tokens=80)
    if r.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(r.choices[0].message.content), dict)
    g = 'root ::= "answer: " ("yes" | "no") "."\n'
    r = c.completions.create(model="x", prompt="Is the sky blue?", temperature=1.0, max_tokens=20, n=3,
                             extra_body={"grammar": g})
    for ch in r.choices:
        assert re.fullmatch(r"answer: (yes|no)\.", ch.text), ch.text
        assert ch.finish_reason == "stop"


def test_structured_output_streams_the_same(srv):
    c = srv.client()
    schema = OWN_SCHEMAS[0]
    kw = dict(model="x", messages=[{"role": "user", "content": "A person."}], temperature=0, max_tokens=80,
              response_format={"type": "json_schema", "json_schema": {"name": "p", "schema": schema}})
    whole = c.chat.completions.create(**kw).choices[0].message.content
    streamed = "".join(ch.choices[0].delta.content or "" for ch in c.chat.completions.create(stream=True, **kw) if ch.choices)
    assert whole == streamed
    jsonschema.validate(json.loads(whole), schema)


@pytest.mark.parametrize("body,code", [
    ({"response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "string", "not": {"const": "a"}}}}}, "unsupported_schema_keyword"),
    ({"response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "array", "uniqueItems": True}}}}, "unsupported_schema_keyword"),
    ({"response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "nonsense"}}}}, "invalid_schema"),
    ({"response_format": {"type": "json_schema", "json_schema": {"schema": 12}}}, "invalid_schema"),
    ({"response_format": {"type": "yaml"}}, None),
    ({"grammar": "root ::= \"a\" undefined-rule"}, "invalid_grammar"),
    ({"grammar": "root ::= root \"a\""}, "invalid_grammar"),
    ({"grammar": "root ::= [a-"}, "invalid_grammar"),
    ({"grammar": 5}, None),
])
def test_bad_structured_requests(srv, body, code):
    for route, base in (("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
                        ("/v1/completions", {"prompt": "hi"})):
        st, err = srv.raw("POST", route, {**base, "max_tokens": 4, **body})
        assert st == 400, err
        if code:
            assert err["error"]["code"] == code, err
        if code == "unsupported_schema_keyword":
            kw = "not" if "not" in json.dumps(body) else "uniqueItems"
            assert f"'{kw}'" in err["error"]["message"], err
    assert srv.raw("GET", "/health")[0] == 200


# ---------------------------------------------------------------- tool calls

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                    "unit": {"enum": ["celsius", "fahrenheit"]}},
                   "required": ["city"]}}}
ADD = {"type": "function", "function": {
    "name": "add", "description": "Add two numbers and return the sum",
    "parameters": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                   "required": ["a", "b"]}}}


def check_call(call, tool):
    assert call.type == "function"
    assert call.id
    assert call.function.name == tool["function"]["name"]
    args = json.loads(call.function.arguments)
    jsonschema.validate(args, tool["function"]["parameters"])
    return args


def test_server_prints_tool_format(srv):
    assert "tool-call format: hermes" in Path(srv.log.name).read_text()


@pytest.mark.parametrize("choice", ["required", {"type": "function", "function": {"name": "get_weather"}}])
def test_tool_choice_constrains_from_the_first_token(srv, choice):
    c = srv.client()
    r = c.chat.completions.create(model="x", messages=[{"role": "user", "content": "How warm is it in Paris today?"}],
                                  tools=[WEATHER, ADD], tool_choice=choice, temperature=1.0, max_tokens=80, seed=3)
    ch = r.choices[0]
    assert ch.finish_reason == "tool_calls", ch
    assert ch.message.tool_calls
    for call in ch.message.tool_calls:
        if isinstance(choice, dict):
            assert call.function.name == "get_weather"
        check_call(call, WEATHER if call.function.name == "get_weather" else ADD)
    assert not ch.message.content


def test_tool_call_streamed_equals_whole(srv):
    c = srv.client()
    kw = dict(model="x", messages=[{"role": "user", "content": "Add 17 and 25 with the tool."}],
              tools=[WEATHER, ADD], tool_choice="required", temperature=0, max_tokens=80)
    whole = c.chat.completions.create(**kw).choices[0]
    assert whole.finish_reason == "tool_calls"
    calls, content, finish, firsts = {}, "", None, 0
    for chunk in c.chat.completions.create(stream=True, **kw):
        if not chunk.choices:
            continue
        d = chunk.choices[0].delta
        content += d.content or ""
        for tc in d.tool_calls or []:
            if tc.id:
                firsts += 1
                assert tc.type == "function" and tc.function.name
                calls[tc.index] = {"id": tc.id, "name": tc.function.name, "arguments": tc.function.arguments or ""}
            else:
                assert tc.index in calls, "arguments before the call's first delta"
                calls[tc.index]["arguments"] += tc.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert "<tool_call>" not in content and "tool_call" not in content
    assert firsts == len(whole.message.tool_calls)
    for i, call in enumerate(whole.message.tool_calls):
        assert calls[i]["name"] == call.function.name
        assert json.loads(calls[i]["arguments"]) == json.loads(call.function.arguments)
        check_call(call, ADD if call.function.name == "add" else WEATHER)


def test_tool_loop_uses_the_result(srv):
    """A full agent turn: the model calls add, the tool's result goes back as
    a tool message, the model answers with it."""
    c = srv.client()
    msgs = [{"role": "user", "content": "What is 1234 plus 4321? Use the add tool."}]
    r = c.chat.completions.create(model="x", messages=msgs, tools=[ADD], tool_choice="required", temperature=0, max_tokens=80)
    call = r.choices[0].message.tool_calls[0]
    args = check_call(call, ADD)
    result = args["a"] + args["b"]
    msgs.append({"role": "assistant", "content": None, "tool_calls": [
        {"id": call.id, "type": "function", "function": {"name": "add", "arguments": call.function.arguments}}]})
    msgs.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps({"sum": result})})
    r2 = c.chat.completions.create(model="x", messages=msgs, tools=[ADD], temperature=0, max_tokens=60)
    ch = r2.choices[0]
    assert ch.finish_reason in ("stop", "tool_calls")
    if ch.finish_reason == "stop":
        assert ch.message.content
        assert "<tool_call>" not in ch.message.content


def test_tool_choice_none_and_plain_answers(srv):
    c = srv.client()
    r = c.chat.completions.create(model="x", messages=[{"role": "user", "content": "Say hello in French."}],
                                  tools=[WEATHER], tool_choice="none", temperature=0, max_tokens=20)
    assert r.choices[0].finish_reason in ("stop", "length")
    assert not r.choices[0].message.tool_calls
    r = c.chat.completions.create(model="x", messages=[{"role": "user", "content": "Write a haiku about the sea."}],
                                  tools=[WEATHER], temperature=0, max_tokens=40)
    ch = r.choices[0]
    if ch.finish_reason != "tool_calls":
        assert "<tool_call>" not in (ch.message.content or "")


@pytest.mark.parametrize("body,param", [
    ({"tools": [{"type": "function"}]}, "tools[0].function"),
    ({"tools": [{"type": "retrieval", "function": {"name": "x"}}]}, "tools[0].type"),
    ({"tools": [{"type": "function", "function": {"name": "bad name!"}}]}, "tools[0].function.name"),
    ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
    ({"tools": [WEATHER], "tool_choice": "sometimes"}, "tool_choice"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {
        "x": {"type": "string", "not": {"const": "a"}}}}}}]}, "tools[0].function.parameters"),
    ({"messages": [{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "call_nothing", "content": "1"}]},
     "messages[1].tool_call_id"),
    ({"messages": [{"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{not json"}}]}]},
     "messages[0].tool_calls[0].function.arguments"),
])
def test_bad_tool_requests(srv, body, param):
    req = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, **body}
    st, err = srv.raw("POST", "/v1/chat/completions", req)
    assert st == 400, err
    assert err["error"]["param"] == param, err
    assert srv.raw("GET", "/health")[0] == 200


# ---------------------------------------------------------------- Anthropic Messages and OpenAI Responses

def test_anthropic_messages_with_tools(srv):
    anthropic = pytest.importorskip("anthropic")
    c = anthropic.Anthropic(base_url=srv.url, api_key="none", max_retries=0, timeout=300)
    tools = [{"name": "get_weather", "description": "Weather in a city",
              "input_schema": WEATHER["function"]["parameters"]}]
    r = c.messages.create(model="x", max_tokens=30, messages=[{"role": "user", "content": "Say hi."}],
                          extra_body={"temperature": 0})
    assert r.type == "message" and r.role == "assistant" and r.stop_reason in ("end_turn", "max_tokens")
    assert r.content[0].type == "text" and r.content[0].text and r.usage.input_tokens > 0
    r = c.messages.create(model="x", max_tokens=80, messages=[{"role": "user", "content": "Weather in Paris?"}],
                          tools=tools, tool_choice={"type": "any"}, extra_body={"temperature": 0})
    assert r.stop_reason == "tool_use"
    tu = [b for b in r.content if b.type == "tool_use"][0]
    jsonschema.validate(tu.input, tools[0]["input_schema"])
    # the same call streamed: input_json_delta fragments assemble into the same input
    with c.messages.stream(model="x", max_tokens=80, messages=[{"role": "user", "content": "Weather in Paris?"}],
                           tools=tools, tool_choice={"type": "tool", "name": "get_weather"},
                           extra_body={"temperature": 0}) as s:
        m = s.get_final_message()
    assert m.stop_reason == "tool_use"
    assert [b.input for b in m.content if b.type == "tool_use"] == [tu.input]
    # the tool's result goes back; the model answers
    r = c.messages.create(model="x", max_tokens=40, tools=tools, extra_body={"temperature": 0}, messages=[
        {"role": "user", "content": "Weather in Paris?"}, {"role": "assistant", "content": [tu.model_dump()]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tu.id, "content": "18C and sunny"}]}])
    assert r.stop_reason in ("end_turn", "max_tokens", "tool_use")
    n = c.messages.count_tokens(model="x", messages=[{"role": "user", "content": "Weather in Paris?"}], tools=tools)
    assert n.input_tokens > 20
    st, err = srv.raw("POST", "/v1/messages", {"max_tokens": 5, "messages": []})
    assert st == 400 and err["type"] == "error" and err["error"]["type"] == "invalid_request_error"


def test_openai_responses_api(srv):
    c = srv.client()
    r = c.responses.create(model="x", input="Say hi in one word.", instructions="Be brief.", max_output_tokens=20,
                           temperature=0)
    assert r.status in ("completed", "incomplete") and r.output_text
    r2 = c.responses.create(model="x", input="And in French?", previous_response_id=r.id, max_output_tokens=20,
                            temperature=0)
    assert r2.output_text
    tools = [{"type": "function", "name": "add", "description": "Add two numbers",
              "parameters": ADD["function"]["parameters"]}]
    r3 = c.responses.create(model="x", input="What is 2+40? Use the tool.", tools=tools, tool_choice="required",
                            temperature=0, max_output_tokens=60)
    fc = [o for o in r3.output if o.type == "function_call"][0]
    args = json.loads(fc.arguments)
    jsonschema.validate(args, tools[0]["parameters"])
    r4 = c.responses.create(model="x", previous_response_id=r3.id, tools=tools, temperature=0, max_output_tokens=40,
                            input=[{"type": "function_call_output", "call_id": fc.call_id, "output": str(args["a"] + args["b"])}])
    assert r4.status in ("completed", "incomplete")
    with c.responses.stream(model="x", input="What is 2+40?", tools=tools, tool_choice="required", temperature=0,
                            max_output_tokens=60) as s:
        kinds = {e.type for e in s}
        f = s.get_final_response()
    assert {"response.created", "response.output_item.added", "response.function_call_arguments.delta",
            "response.completed"} <= kinds
    assert [json.loads(o.arguments) for o in f.output if o.type == "function_call"] == [args]
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    r5 = c.responses.create(model="x", input="A person", max_output_tokens=40,
                            text={"format": {"type": "json_schema", "name": "p", "schema": schema, "strict": True}})
    if r5.status == "completed":
        jsonschema.validate(json.loads(r5.output_text), schema)
    st, err = srv.raw("POST", "/v1/responses", {"input": "x", "previous_response_id": "resp_nothing"})
    assert st == 400 and err["error"]["code"] == "previous_response_not_found"


def test_openai_agents_sdk_tool_loop(srv):
    """The openai-agents SDK runs a real tool loop (a tool that adds numbers is
    called with the user's numbers and its result goes back), through chat
    completions and through the Responses API."""
    agents = pytest.importorskip("agents")
    import asyncio

    agents.set_tracing_disabled(True)
    calls = []

    @agents.function_tool
    def add(a: float, b: float) -> float:
        """Add two numbers and return the sum."""
        calls.append((a, b))
        return a + b

    async def run_all():
        client = openai.AsyncOpenAI(base_url=srv.url + "/v1", api_key="none", max_retries=0, timeout=300)
        out = []
        for model in (agents.OpenAIChatCompletionsModel(model="x", openai_client=client),
                      agents.OpenAIResponsesModel(model="x", openai_client=client)):
            calls.clear()
            agent = agents.Agent(name="calc", instructions="Use the add tool to add numbers, then answer with the sum.",
                                 tools=[add], model=model, reset_tool_choice=True,
                                 model_settings=agents.ModelSettings(temperature=0, max_tokens=80, tool_choice="required"))
            r = await agents.Runner.run(agent, "What is 1234 plus 4321?", max_turns=4)
            out.append((type(model).__name__, list(calls), r.final_output))
        await client.close()
        return out

    for name, got, final in asyncio.run(run_all()):
        assert got and got[0] == (1234, 4321), (name, got)
        assert isinstance(final, str) and final, name
