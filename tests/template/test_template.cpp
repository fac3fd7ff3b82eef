// Chat-template engine unit tests. The expected outputs of the syntax table
// come from Python's jinja2 3.1.6 set up as transformers does (written by
// tests/template/gen_syntax_table.py, never by hand); the rest checks errors
// (line and column), limits and the API.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "qlm/gguf.h"
#include "qlm/template.h"

namespace {

struct SyntaxCase {
    const char* name;
    const char* source;
    const char* context;  // JSON object
    const char* expected;
};

// clang-format off
const SyntaxCase kSyntax[] = {
    {"print_text",
     "Hello {{ name }}!",
     "{\"name\": \"World\"}",
     "Hello World!"},
    {"comment",
     "a{# note #}b",
     "{}",
     "ab"},
    {"ws_minus",
     "a  {{- 'x' -}}  b",
     "{}",
     "axb"},
    {"ws_block_minus",
     "a\n  {%- if true -%}\n  b  \n{%- endif %}",
     "{}",
     "ab"},
    {"trim_blocks",
     "{% if true %}\nline\n{% endif %}\nafter",
     "{}",
     "line\nafter"},
    {"lstrip_blocks",
     "x\n    {% if true %}\n    y\n    {% endif %}\nz",
     "{}",
     "x\n    y\nz"},
    {"lstrip_plus",
     "x\n    {%+ if true %}y{% endif %}",
     "{}",
     "x\n    y"},
    {"trim_plus",
     "{% if true +%}\ny{% endif %}",
     "{}",
     "\ny"},
    {"comment_trim",
     "a\n  {# c #}\nb",
     "{}",
     "a\nb"},
    {"trailing_newline",
     "a\n",
     "{}",
     "a"},
    {"crlf",
     "a\r\nb\rc",
     "{}",
     "a\nb\nc"},
    {"raw",
     "{% raw %}{{ x }}{% endraw %}",
     "{}",
     "{{ x }}"},
    {"if_elif_else",
     "{% for x in [1, 2, 3] %}{% if x == 1 %}one{% elif x == 2 %}two{% else %}many{% endif %},{% endfor %}",
     "{}",
     "one,two,many,"},
    {"for_loop_vars",
     "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}",
     "{}",
     "1032TrueFalse3|2121FalseFalse3|3210FalseTrue3|"},
    {"for_prev_next",
     "{% for x in [1, 2, 3] %}{{ loop.previtem }}-{{ loop.nextitem }};{% endfor %}",
     "{}",
     "-2;1-3;2-;"},
    {"for_cycle",
     "{% for x in range(5) %}{{ loop.cycle('a', 'b') }}{% endfor %}",
     "{}",
     "ababa"},
    {"for_else",
     "{% for x in [] %}x{% else %}empty{% endfor %}",
     "{}",
     "empty"},
    {"for_filter",
     "{% for x in range(10) if x is odd %}{{ x }}{{ loop.length }} {% endfor %}",
     "{}",
     "15 35 55 75 95 "},
    {"for_unpack",
     "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}",
     "{\"d\": {\"b\": 1, \"a\": 2}}",
     "b=1;a=2;"},
    {"for_dict",
     "{% for k in d %}{{ k }}{% endfor %}",
     "{\"d\": {\"x\": 1, \"y\": 2}}",
     "xy"},
    {"break_continue",
     "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}",
     "{}",
     "0134"},
    {"nested_loop_depth",
     "{% for a in [1, 2] %}{% for b in [3] %}{{ loop.depth }}{{ a }}{{ b }}{% endfor %}{% endfor %}",
     "{}",
     "113123"},
    {"loop_scope",
     "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = 5 %}{{ x }}{% endfor %}{{ x }}",
     "{}",
     "15151"},
    {"namespace",
     "{% set ns = namespace(n=0, items=[]) %}{% for i in range(3) %}{% set ns.n = ns.n + i %}{% set ns.items = ns.items + [i] %}{% endfor %}{{ ns.n }}{{ ns.items }}",
     "{}",
     "3[0, 1, 2]"},
    {"set_block",
     "{% set s %}  inner {{ 1 + 1 }}  {% endset %}[{{ s }}]",
     "{}",
     "[  inner 2  ]"},
    {"set_block_filter",
     "{% set s | trim | upper %}  inner  {% endset %}[{{ s }}]",
     "{}",
     "[INNER]"},
    {"set_tuple",
     "{% set a, b = [1, 2] %}{{ b }}{{ a }}",
     "{}",
     "21"},
    {"macro_defaults",
     "{% macro m(a, b='B', c=none) %}{{ a }}{{ b }}{{ c }}{% endmacro %}{{ m(1) }}|{{ m(1, c=3) }}|{{ m(1, 2, 3) }}",
     "{}",
     "1BNone|1B3|123"},
    {"macro_varargs",
     "{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, x=4) }}",
     "{}",
     "1(2, 3){'x': 4}"},
    {"macro_recursive",
     "{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(4) }}",
     "{}",
     "4321"},
    {"macro_reads_later_global",
     "{% macro m() %}{{ x }}{% endmacro %}{% set x = 7 %}{{ m() }}",
     "{}",
     "7"},
    {"call_block",
     "{% macro wrap(t) %}<{{ t }}>{{ caller() }}</{{ t }}>{% endmacro %}{% call wrap('b') %}bold{% endcall %}",
     "{}",
     "<b>bold</b>"},
    {"call_block_args",
     "{% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}{% call(v) each([1, 2]) %}[{{ v }}]{% endcall %}",
     "{}",
     "[1][2]"},
    {"filter_block",
     "{% filter upper %}abc {{ 'def' }}{% endfilter %}",
     "{}",
     "ABC DEF"},
    {"generation_tag",
     "{% generation %}gen{% endgeneration %}",
     "{}",
     "gen"},
    {"arith",
     "{{ 7 + 3 }} {{ 7 - 3 }} {{ 7 * 3 }} {{ 7 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 1.5 + 1 }}",
     "{}",
     "10 4 21 3.5 3 -4 1 2 1024 0.5 2.5"},
    {"concat",
     "{{ 'a' ~ 1 ~ none ~ true ~ [1] }}",
     "{}",
     "a1NoneTrue[1]"},
    {"str_mul",
     "{{ 'ab' * 3 }}{{ [0] * 3 }}",
     "{}",
     "ababab[0, 0, 0]"},
    {"compare_chain",
     "{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 1 == 1.0 }} {{ 'a' != 'b' }} {{ [1, 2] == [1, 2] }}",
     "{}",
     "True False True True True"},
    {"in_notin",
     "{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 3 not in [1] }}",
     "{}",
     "True True True True"},
    {"and_or_values",
     "{{ 0 or 'x' }} {{ 'a' and 'b' }} {{ none or [] }} {{ not 0 }}",
     "{}",
     "x b [] True"},
    {"ternary",
     "{{ 'y' if true else 'n' }}{{ 'y' if false else 'n' }}[{{ 'y' if false }}]",
     "{}",
     "yn[]"},
    {"precedence",
     "{{ -2 ** 2 }} {{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ not 1 == 2 }} {{ -3 | abs }}",
     "{}",
     "4 7 9 True 3"},
    {"slicing",
     "{{ 'hello'[1:3] }} {{ 'hello'[::-1] }} {{ [1, 2, 3, 4][::2] }} {{ [1, 2, 3][-1] }} {{ 'héllo'[1] }} {{ [1, 2, 3][5:] }}",
     "{}",
     "el olleh [1, 3] 3 é []"},
    {"subscript_attr",
     "{{ d.a }} {{ d['a'] }} {{ d.b.c }} {{ d.l.0 }} {{ d.missing is defined }}",
     "{\"d\": {\"a\": 1, \"b\": {\"c\": 2}, \"l\": [9]}}",
     "1 1 2 9 False"},
    {"python_repr",
     "{{ [1, 'a', none, true, 1.5, {'k': \"it's\"}] }} {{ (1,) }} {{ (1, 2) }} {{ {'a': [1]} }}",
     "{}",
     "[1, 'a', None, True, 1.5, {'k': \"it's\"}] (1,) (1, 2) {'a': [1]}"},
    {"float_repr",
     "{{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1e-5 }} {{ 1/3 }} {{ 2.5e-7 }} {{ 123456789.0 }}",
     "{}",
     "1.0 0.30000000000000004 1e+16 1e-05 0.3333333333333333 2.5e-07 123456789.0"},
    {"string_escapes",
     "{{ 'a\\nb\\tc\\\\d\\'e\\u00e9\\x41' }}",
     "{}",
     "a\nb\tc\\d'eéA"},
    {"string_methods",
     "{{ ' a b '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '  a'.lstrip() }}|{{ 'a  '.rstrip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a b c'.rsplit(' ', 1) }}",
     "{}",
     "a b|a|a|a|['a', 'b', '', 'c']|['a', 'b']|['a', 'b c']|['a b', 'c']"},
    {"string_methods2",
     "{{ 'Hello'.startswith('He') }} {{ 'Hello'.endswith(('x', 'lo')) }} {{ 'hello world'.title() }} {{ 'aXb'.upper() }} {{ 'AxB'.lower() }} {{ 'a-b'.replace('-', '+') }} {{ 'hello'.find('l') }} {{ 'hello'.count('l') }} {{ 'héllo'.find('l') }}",
     "{}",
     "True True Hello World AXB axb a+b 2 2 2"},
    {"string_format",
     "{{ '{}-{}'.format(1, 'b') }} {{ '{1}{0}'.format('a', 'b') }} {{ '{x}!'.format(x=3) }} {{ '%s=%d' % ('k', 4) }} {{ '%05.2f' % 3.14159 }}",
     "{}",
     "1-b ba 3! k=4 03.14"},
    {"dict_methods",
     "{{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 0) }} {{ d.keys() | list }} {{ d.values() | list }} {{ d.items() | list }}",
     "{\"d\": {\"a\": 1, \"b\": 2}}",
     "1 None 0 ['a', 'b'] [1, 2] [('a', 1), ('b', 2)]"},
    {"filters_text",
     "{{ '  x  ' | trim }}|{{ 'hello world' | title }}|{{ 'hELLO' | capitalize }}|{{ 'ab' | upper }}|{{ 'AB' | lower }}|{{ 'aaa' | replace('a', 'b', 2) }}|{{ '<&>' | e }}|{{ 'one two  three' | wordcount }}",
     "{}",
     "x|Hello World|Hello|AB|ab|bba|&lt;&amp;&gt;|3"},
    {"filters_seq",
     "{{ [3, 1, 2] | sort }} {{ [3, 1, 2] | sort(reverse=true) }} {{ ['b', 'A', 'c'] | sort }} {{ [1, 2] | reverse | list }} {{ 'abc' | reverse }} {{ [1, 2, 1] | unique | list }} {{ [1, 2, 3] | first }} {{ [1, 2, 3] | last }} {{ [1, 2, 3] | length }} {{ 'abc' | list }}",
     "{}",
     "[1, 2, 3] [3, 2, 1] ['A', 'b', 'c'] [2, 1] cba [1, 2] 1 3 3 ['a', 'b', 'c']"},
    {"filters_attr",
     "{{ xs | selectattr('ok') | map(attribute='n') | join(',') }} {{ xs | rejectattr('ok') | map(attribute='n') | list }} {{ xs | selectattr('n', 'equalto', 2) | list | length }} {{ xs | sort(attribute='n', reverse=true) | map(attribute='n') | join }} {{ xs | map(attribute='missing', default='d') | join }}",
     "{\"xs\": [{\"n\": 1, \"ok\": true}, {\"n\": 2, \"ok\": false}, {\"n\": 3, \"ok\": true}]}",
     "1,3 [2] 1 321 ddd"},
    {"filters_select",
     "{{ range(6) | select('even') | list }} {{ range(6) | reject('odd') | list }} {{ [0, 1, '', 'a'] | select | list }} {{ ['1', '2'] | map('int') | sum }} {{ [1, 5, 3] | max }} {{ [1, 5, 3] | min }}",
     "{}",
     "[0, 2, 4] [0, 2, 4] [1, 'a'] 3 5 1"},
    {"filters_numbers",
     "{{ '42' | int }} {{ '4.7' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ 3 | float }} {{ '2.5' | float }} {{ -3 | abs }} {{ 2.5 | round }} {{ 3.14159 | round(2) }} {{ 3.7 | round(method='floor') }} {{ 7 | string }}",
     "{}",
     "42 4 0 7 3.0 2.5 3 2.0 3.14 3.0 7"},
    {"filters_default",
     "{{ missing | default('d') }} {{ '' | default('d') }} {{ '' | default('d', true) }} {{ none | d('x') }} {{ missing | default }}|",
     "{}",
     "d  d None |"},
    {"filters_dict",
     "{{ d | dictsort }} {{ d | dictsort(by='value') }} {{ d | items | list }} {{ d | length }}",
     "{\"d\": {\"b\": 1, \"a\": 3, \"C\": 2}}",
     "[('a', 3), ('b', 1), ('C', 2)] [('b', 1), ('C', 2), ('a', 3)] [('b', 1), ('a', 3), ('C', 2)] 3"},
    {"filters_indent",
     "{{ 'a\\nb\\n\\nc' | indent(2) }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent(2, blank=true) }}",
     "{}",
     "a\n  b\n\n  c|  a\n  b|a\n  \n  b"},
    {"filters_batch_slice",
     "{{ range(5) | batch(2) | list }} {{ range(5) | batch(2, 'x') | list }} {{ range(5) | slice(2) | list }}",
     "{}",
     "[[0, 1], [2, 3], [4]] [[0, 1], [2, 3], [4, 'x']] [[0, 1, 2], [3, 4]]"},
    {"tojson",
     "{{ v | tojson }}",
     "{\"v\": {\"a\": [1, 2.0, \"é\\\"\\n\", null, true], \"b\": {}}}",
     "{\"a\": [1, 2.0, \"é\\\"\\n\", null, true], \"b\": {}}"},
    {"tojson_indent",
     "{{ v | tojson(indent=2) }}",
     "{\"v\": {\"a\": [1, {\"b\": []}], \"c\": \"x\"}}",
     "{\n  \"a\": [\n    1,\n    {\n      \"b\": []\n    }\n  ],\n  \"c\": \"x\"\n}"},
    {"tojson_options",
     "{{ v | tojson(sort_keys=true) }} {{ v | tojson(ensure_ascii=true) }} {{ v | tojson(separators=(',', ':')) }}",
     "{\"v\": {\"z\": \"ü\", \"a\": [1, 2]}}",
     "{\"a\": [1, 2], \"z\": \"ü\"} {\"z\": \"\\u00fc\", \"a\": [1, 2]} {\"z\":\"ü\",\"a\":[1,2]}"},
    {"tests",
     "{{ x is defined }}{{ y is undefined }}{{ none is none }}{{ 'a' is string }}{{ 1 is number }}{{ 1 is integer }}{{ 1.0 is float }}{{ {} is mapping }}{{ [] is iterable }}{{ 'a' is sequence }}{{ true is boolean }}{{ true is true }}{{ false is false }}{{ 4 is even }}{{ 3 is odd }}{{ 9 is divisibleby 3 }}{{ 1 is in [1] }}{{ 'a' is eq 'a' }}{{ 2 is gt 1 }}{{ 'ab' is lower }}{{ x is not none }}",
     "{\"x\": 1}",
     "TrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrue"},
    {"undefined_semantics",
     "[{{ missing }}]{{ missing | length }}{{ missing is iterable }}{% for x in missing %}no{% endfor %}{{ missing == missing2 }}{{ d.nope is defined }}{{ none.attr is defined }}",
     "{\"d\": {}}",
     "[]0TrueTrueFalseFalse"},
    {"strftime_now",
     "{{ strftime_now('%Y-%m-%d %d %b %Y') }}",
     "{}",
     "2023-11-14 14 Nov 2023"},
    {"globals",
     "{{ range(3) | list }} {{ range(1, 7, 2) | list }} {{ dict(a=1, b=2) }} {{ namespace(a=1).a }}",
     "{}",
     "[0, 1, 2] [1, 3, 5] {'a': 1, 'b': 2} 1"},
    {"unicode_case",
     "{{ 'ÉCOLE Ωμέγα Привет' | lower }} {{ 'école ωμέγα привет' | upper }} {{ 'ß' | upper }}",
     "{}",
     "école ωμέγα привет ÉCOLE ΩΜΈΓΑ ПРИВЕТ SS"},
    {"print_tuple",
     "{{ 1, 2 }}",
     "{}",
     "(1, 2)"},
    {"adjacent_strings",
     "{{ 'a' 'b' \"c\" }}",
     "{}",
     "abc"},
    {"generators",
     "{{ [1, 2] | map('string') | list }} {{ ([] | select) is iterable }} {% if [] | select %}T{% endif %} {{ d.items() | list }} {{ [1, 2] | reverse | list }} {{ (d.keys() | list)[0] }} {{ d.values() | length }} {% set g = [1, 2] | select %}{{ g | list }}{{ g | list }}",
     "{\"d\": {\"k\": 1}}",
     "['1', '2'] True T [('k', 1)] [2, 1] k 1 [1, 2][]"},
    {"markup",
     "{{ 'a<' | safe + '<b>' }}|{{ '<x>' + 'y' | safe }}|{{ '<' | e | e }}|{{ ('<' | safe) ~ '<' }}|{{ ('a' | safe).upper() + '&' }}|{{ ('<' | safe) * 2 + '>' }}",
     "{}",
     "a<&lt;b&gt;|&lt;x&gt;y|&lt;|<<|A&amp;|<<&gt;"},
    {"ws_var_no_lstrip",
     "a\n  {{ x }}\n  b",
     "{\"x\": 1}",
     "a\n  1\n  b"},
    {"ws_minus_end_blank_lines",
     "{% if true -%}\n\n  x{%- endif %}|",
     "{}",
     "x|"},
    {"ws_comment_both",
     "a  {#- c -#}  x",
     "{}",
     "ax"},
    {"ws_loop_lines",
     "{% for i in [1, 2] %}\n  {{ i }}\n{% endfor %}\nend",
     "{}",
     "  1\n  2\nend"},
    {"ws_plus_both",
     "x {%+ if true +%}\n y{% endif %}",
     "{}",
     "x \n y"},
    {"ws_raw_minus",
     "a {%- raw -%}  {{ a }}  {%- endraw -%} b",
     "{}",
     "a{{ a }}b"},
    {"ws_multiline_tag",
     "{% if\n true\n %}y{% endif %}",
     "{}",
     "y"},
    {"ws_tab_lstrip",
     "\t{% if true %}\ttab{% endif %}",
     "{}",
     "\ttab"},
    {"ws_var_then_block",
     "{{ x }}\n{% if true %}\n  a\n{% endif %}\n",
     "{\"x\": 1}",
     "1\n  a\n"},
    {"ws_crlf_trim",
     "{% if true %}\r\nA\r\n{% endif %}\r\nB",
     "{}",
     "A\nB"},
    {"string_with_braces",
     "{{ '}}' }}{{ {'a': {'b': 1}} }}{{ \"%}\" }}",
     "{}",
     "}}{'a': {'b': 1}}%}"},
    {"repr_undefined_markup",
     "{{ [missing, 'a<' | e, ('b' | safe).split()] }}",
     "{}",
     "[Undefined, Markup('a&lt;'), [Markup('b')]]"},
    {"lazy_generator_errors",
     "{% set g = 2.5 | select %}{{ g is defined }}{{ (x | items) is iterable }}{{ not (x | batch(2)) }}",
     "{\"x\": 3}",
     "TrueTrueFalse"},
    {"even_odd_float",
     "{{ 4.0 is even }}{{ 3.0 is odd }}{{ 2.5 is odd }}",
     "{}",
     "TrueTrueFalse"},
    {"percent_undefined_and_lower_test",
     "{{ 'plain' % missing }}|{{ none is lower }}{{ [1, 'a'] is lower }}{{ 'A1' is upper }}",
     "{}",
     "plain|FalseTrueTrue"},
    {"is_test_no_parens",
     "{{ 'x' if none is none else 'y' }}{{ 5 is divisibleby(5) }}",
     "{}",
     "xTrue"},
};
// clang-format on

std::string render(const std::string& src, const nlohmann::ordered_json& ctx = nlohmann::ordered_json::object(),
                   const qlm::TemplateOptions& opt = {}) {
    return qlm::ChatTemplate::parse(src).render(ctx, opt);
}

TEST(Template, SyntaxMatchesJinja2) {
    qlm::TemplateOptions opt;
    opt.now = 1700000000;  // 2023-11-14 22:13:20 UTC
    setenv("TZ", "UTC", 1);
    tzset();
    for (const auto& c : kSyntax) {
        SCOPED_TRACE(c.name);
        std::string out;
        ASSERT_NO_THROW(out = render(c.source, nlohmann::ordered_json::parse(c.context), opt)) << c.source;
        EXPECT_EQ(out, c.expected) << c.source;
    }
}

// The error of parsing src, with its position.
qlm::TemplateError parse_error(const std::string& src) {
    try {
        qlm::ChatTemplate::parse(src);
    } catch (const qlm::TemplateError& e) {
        return e;
    }
    ADD_FAILURE() << "no error for: " << src;
    return qlm::TemplateError("", 0, 0, false);
}

qlm::TemplateError render_error(const std::string& src, const nlohmann::ordered_json& ctx = nlohmann::ordered_json::object(),
                                const qlm::TemplateOptions& opt = {}) {
    const auto t = qlm::ChatTemplate::parse(src);
    try {
        t.render(ctx, opt);
    } catch (const qlm::TemplateError& e) {
        return e;
    }
    ADD_FAILURE() << "no error for: " << src;
    return qlm::TemplateError("", 0, 0, false);
}

TEST(Template, SyntaxErrorsNameLineAndColumn) {
    struct Case {
        const char* src;
        int line, col;
        const char* needle;
    } cases[] = {
        {"abc {{ x ", 1, 5, "expected '}}'"},
        {"line1\n{% if x %}\nno end", 3, 7, "'endif'"},
        {"{% endfor %}", 1, 4, "unexpected 'endfor'"},
        {"a\n  {% frobnicate %}", 2, 6, "unknown tag 'frobnicate'"},
        {"{{ 1 + }}", 1, 8, "unexpected token"},
        {"{{ x $ y }}", 1, 6, "unexpected char '$'"},
        {"{# never closed", 1, 1, "missing end of comment tag"},
        {"{{ 'abc }}", 1, 4, "unexpected end of string"},
        {"{{ (1, 2 }}", 1, 10, "unexpected '}', expected ')'"},
        {"{% for x in y %}{% endif %}", 1, 20, "unexpected 'endif', expected 'endfor' or 'else'"},
        {"\n\n   {% break %}", 3, 7, "'break' outside a for loop"},
        {"{% set = 1 %}", 1, 8, "expected an assignment target"},
        {"{% include 'x' %}", 1, 4, "not supported"},
        {"{{ x is }}", 1, 9, "expected a name"},
        {"{{ '\\x4' }}", 1, 4, "truncated"},
        {"{{ 99999999999999999999 }}", 1, 4, "too large"},
        {"{% macro m(a=1, b) %}{% endmacro %}", 1, 17, "non-default argument"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.src);
        const auto e = parse_error(c.src);
        EXPECT_EQ(e.line(), c.line) << e.what();
        EXPECT_EQ(e.column(), c.col) << e.what();
        EXPECT_NE(std::string(e.what()).find(c.needle), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).rfind("line " + std::to_string(c.line) + ", column ", 0), 0u) << e.what();
        EXPECT_FALSE(e.raised());
    }
}

TEST(Template, RuntimeErrorsNameLineAndColumn) {
    struct Case {
        const char* src;
        int line, col;
        const char* needle;
    } cases[] = {
        {"ok\n{{ missing.attr }}", 2, 4, "'missing' is undefined"},
        {"{{ 1 + 'a' }}", 1, 6, "unsupported operand type(s) for +: 'int' and 'str'"},
        {"{{ 1 / 0 }}", 1, 6, "division by zero"},
        {"{{ x | nosuchfilter }}", 1, 8, "no filter named 'nosuchfilter'"},
        {"{% if x is nosuchtest %}{% endif %}", 1, 9, "no test named 'nosuchtest'"},
        {"{% for x in none %}{% endfor %}", 1, 4, "'NoneType' object is not iterable"},
        {"{% set l = [1] %}{{ l.append(2) }}", 1, 21, "access to attribute 'append' of 'list' object is unsafe."},
        {"{% set d = {} %}{{ d.update({'a': 1}) }}", 1, 20, "unsafe"},
        {"{% set x = 1 %}{% set x.y = 2 %}", 1, 19, "non-namespace"},
        {"{{ 'a' < 1 }}", 1, 4, "'<' not supported between instances of 'str' and 'int'"},
        {"{{ x | tojson }}", 1, 8, "Object of type Undefined is not JSON serializable"},
        {"{{ 2 ** 64 }}", 1, 6, "integer overflow"},
        {"{{ 'x'.split('') }}", 1, 4, "empty separator"},
        {"{% set a, b = [1] %}", 1, 4, "not enough values to unpack"},
        {"{{ range(1000000) }}", 1, 4, "MAX_RANGE"},
        {"{{ 'x'() }}", 1, 4, "'str' object is not callable"},
        {"{{ missing | int }}", 1, 14, "'missing' is undefined"},
        {"{% set n = 7 %}{{ n[1:] }}", 1, 19, "'int' object is not subscriptable"},
        {"{% set g = 2.5 | select %}{{ g | list }}", 1, 34, "'float' object is not iterable"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.src);
        const auto e = render_error(c.src);
        EXPECT_EQ(e.line(), c.line) << e.what();
        EXPECT_EQ(e.column(), c.col) << e.what();
        EXPECT_NE(std::string(e.what()).find(c.needle), std::string::npos) << e.what();
        EXPECT_FALSE(e.raised());
    }
}

TEST(Template, RaiseExceptionCarriesTheTemplatesMessage) {
    const auto e = render_error("\n{{ raise_exception('Conversation roles must alternate user/assistant') }}");
    EXPECT_TRUE(e.raised());
    EXPECT_STREQ(e.what(), "Conversation roles must alternate user/assistant");
    EXPECT_EQ(e.line(), 2);
    // A qlm::Error like every other failure.
    EXPECT_THROW(qlm::ChatTemplate::parse("{{ raise_exception('x') }}").render(nlohmann::ordered_json::object()), qlm::Error);
}

// Found by the fuzz smoke run: an empty list or string repeated 10**9 times
// looped 10**9 times (a stall of the server thread); it is empty at once.
TEST(Template, EmptyRepeatedManyTimesIsEmptyAtOnce) {
    EXPECT_EQ(render("{% set h = [] * 1000000000 %}{{ h | length }}{{ ('' * 1000000000) | length }}"), "00");
}

TEST(Template, LimitsBoundOutputIterationsAndDepth) {
    qlm::TemplateOptions opt;
    opt.max_output_bytes = 1000;
    EXPECT_NE(std::string(render_error("{% for i in range(2000) %}x{% endfor %}", nlohmann::ordered_json::object(), opt).what()).find("output exceeds"),
              std::string::npos);
    EXPECT_NE(std::string(render_error("{{ 'x' * 100000 }}", nlohmann::ordered_json::object(), opt).what()).find("output exceeds"), std::string::npos);
    EXPECT_NE(std::string(render_error("{{ ('x' * 999) ~ ('y' * 999) }}", nlohmann::ordered_json::object(), opt).what()).find("output exceeds"),
              std::string::npos);
    EXPECT_NE(std::string(render_error("{{ 'ab' * 9223372036854775807 }}", nlohmann::ordered_json::object(), opt).what()).find("output exceeds"),
              std::string::npos);

    qlm::TemplateOptions iters;
    iters.max_iterations = 1000;
    EXPECT_NE(std::string(render_error("{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}", nlohmann::ordered_json::object(), iters).what())
                  .find("iteration limit"),
              std::string::npos);
    EXPECT_NE(std::string(render_error("{{ [1] * 100000 }}", nlohmann::ordered_json::object(), iters).what()).find("iteration limit"), std::string::npos);

    // Unbounded macro recursion stops at the depth limit, not the stack.
    EXPECT_NE(std::string(render_error("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}").what()).find("recursion depth"),
              std::string::npos);
    // Nesting in the source is bounded at parse time.
    std::string deep = "{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}";
    EXPECT_NE(std::string(parse_error(deep).what()).find("nested too deeply"), std::string::npos);
    std::string ifs;
    for (int k = 0; k < 1000; ++k) ifs += "{% if true %}";
    EXPECT_NE(std::string(parse_error(ifs).what()).find("nested too deeply"), std::string::npos);
}

TEST(Template, ApplyChatTemplateSetsTheTransformersVariables) {
    const auto t = qlm::ChatTemplate::parse(
        "{{ bos_token }}{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}"
        "{{ tools is none }}{{ documents is none }}{% if add_generation_prompt %}GEN{% endif %}{{ eos_token }}"
        "{{ enable_thinking | default('unset') }}");
    const nlohmann::ordered_json msgs = nlohmann::ordered_json::parse(R"([{"role": "user", "content": "hi"}])");
    EXPECT_EQ(qlm::apply_chat_template(t, msgs, true, "<s>", "</s>"), "<s>[user:hi]TrueTrueGEN</s>unset");
    EXPECT_EQ(qlm::apply_chat_template(t, msgs, false, "", "", {{"enable_thinking", false}, {"tools", {1}}}),
              "[user:hi]FalseTrueFalse");
}

TEST(Template, ChatMLFallback) {
    const auto t = qlm::ChatTemplate::parse(qlm::chatml_template_source());
    const nlohmann::ordered_json msgs = nlohmann::ordered_json::parse(
        R"([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])");
    EXPECT_EQ(qlm::apply_chat_template(t, msgs, true, "", ""),
              "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n");
}

TEST(Template, FromGgufReadsTheTemplateOrFallsBackToChatML) {
    const nlohmann::ordered_json msgs = nlohmann::ordered_json::parse(R"([{"role": "user", "content": "U"}])");
    qlm::GgufWriter with(3);
    with.add("tokenizer.chat_template", qlm::GgufValue::of_string("{{ messages[0].content }}!"));
    const auto bytes = with.to_bytes();
    const auto t = qlm::ChatTemplate::from_gguf(qlm::GgufReader::from_memory(bytes, "with.gguf"));
    EXPECT_EQ(qlm::apply_chat_template(t, msgs, false, "", ""), "U!");

    qlm::GgufWriter without(3);
    const auto bytes2 = without.to_bytes();
    const auto fallback = qlm::ChatTemplate::from_gguf(qlm::GgufReader::from_memory(bytes2, "without.gguf"));
    EXPECT_EQ(fallback.source(), qlm::chatml_template_source());

    qlm::GgufWriter bad(3);
    bad.add("tokenizer.chat_template", qlm::GgufValue::of_string("ok\n{% if %}"));
    const auto bytes3 = bad.to_bytes();
    try {
        qlm::ChatTemplate::from_gguf(qlm::GgufReader::from_memory(bytes3, "bad.gguf"));
        ADD_FAILURE() << "no error";
    } catch (const qlm::TemplateError& e) {
        EXPECT_EQ(std::string(e.what()).rfind("bad.gguf: tokenizer.chat_template: line 2, column 7: ", 0), 0u) << e.what();
        EXPECT_EQ(e.line(), 2);
    }
}

TEST(Template, ContextMustBeAnObject) {
    EXPECT_THROW(qlm::ChatTemplate::parse("x").render(nlohmann::ordered_json::array()), qlm::TemplateError);
}

TEST(Template, InvalidUtf8InDataIsKeptAndNeverCrashes) {
    const std::string bad = "a\xff\xfe{{ x | upper }}{{ x[1:] }}{{ x | length }}";
    EXPECT_NO_THROW(render(bad, {{"x", "\xc3"}}));
}

}  // namespace
