"""Regenerate the syntax table of tests/template/test_template.cpp from jinja2.

    .venv/bin/python tests/template/gen_syntax_table.py

Each case is (name, template, context); its expected output is whatever
jinja2 renders with the environment of test_template_oracle.py (transformers'
settings), written into the table between the "clang-format off/on" markers.
"""
import json
import os
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("QLM_TEMPLATE_RENDER", "")
import test_template_oracle as oracle  # noqa: E402

# (name, template, context)
CASES = [
 ("print_text", "Hello {{ name }}!", {"name": "World"}),
 ("comment", "a{# note #}b", {}),
 ("ws_minus", "a  {{- 'x' -}}  b", {}),
 ("ws_block_minus", "a\n  {%- if true -%}\n  b  \n{%- endif %}", {}),
 ("trim_blocks", "{% if true %}\nline\n{% endif %}\nafter", {}),
 ("lstrip_blocks", "x\n    {% if true %}\n    y\n    {% endif %}\nz", {}),
 ("lstrip_plus", "x\n    {%+ if true %}y{% endif %}", {}),
 ("trim_plus", "{% if true +%}\ny{% endif %}", {}),
 ("comment_trim", "a\n  {# c #}\nb", {}),
 ("trailing_newline", "a\n", {}),
 ("crlf", "a\r\nb\rc", {}),
 ("raw", "{% raw %}{{ x }}{% endraw %}", {}),
 ("if_elif_else", "{% for x in [1, 2, 3] %}{% if x == 1 %}one{% elif x == 2 %}two{% else %}many{% endif %},{% endfor %}", {}),
 ("for_loop_vars", "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}", {}),
 ("for_prev_next", "{% for x in [1, 2, 3] %}{{ loop.previtem }}-{{ loop.nextitem }};{% endfor %}", {}),
 ("for_cycle", "{% for x in range(5) %}{{ loop.cycle('a', 'b') }}{% endfor %}", {}),
 ("for_else", "{% for x in [] %}x{% else %}empty{% endfor %}", {}),
 ("for_filter", "{% for x in range(10) if x is odd %}{{ x }}{{ loop.length }} {% endfor %}", {}),
 ("for_unpack", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", {"d": {"b": 1, "a": 2}}),
 ("for_dict", "{% for k in d %}{{ k }}{% endfor %}", {"d": {"x": 1, "y": 2}}),
 ("break_continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
 ("nested_loop_depth", "{% for a in [1, 2] %}{% for b in [3] %}{{ loop.depth }}{{ a }}{{ b }}{% endfor %}{% endfor %}", {}),
 ("loop_scope", "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = 5 %}{{ x }}{% endfor %}{{ x }}", {}),
 ("namespace", "{% set ns = namespace(n=0, items=[]) %}{% for i in range(3) %}{% set ns.n = ns.n + i %}{% set ns.items = ns.items + [i] %}{% endfor %}{{ ns.n }}{{ ns.items }}", {}),
 ("set_block", "{% set s %}  inner {{ 1 + 1 }}  {% endset %}[{{ s }}]", {}),
 ("set_block_filter", "{% set s | trim | upper %}  inner  {% endset %}[{{ s }}]", {}),
 ("set_tuple", "{% set a, b = [1, 2] %}{{ b }}{{ a }}", {}),
 ("macro_defaults", "{% macro m(a, b='B', c=none) %}{{ a }}{{ b }}{{ c }}{% endmacro %}{{ m(1) }}|{{ m(1, c=3) }}|{{ m(1, 2, 3) }}", {}),
 ("macro_varargs", "{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, x=4) }}", {}),
 ("macro_recursive", "{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(4) }}", {}),
 ("macro_reads_later_global", "{% macro m() %}{{ x }}{% endmacro %}{% set x = 7 %}{{ m() }}", {}),
 ("call_block", "{% macro wrap(t) %}<{{ t }}>{{ caller() }}</{{ t }}>{% endmacro %}{% call wrap('b') %}bold{% endcall %}", {}),
 ("call_block_args", "{% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}{% call(v) each([1, 2]) %}[{{ v }}]{% endcall %}", {}),
 ("filter_block", "{% filter upper %}abc {{ 'def' }}{% endfilter %}", {}),
 ("generation_tag", "{% generation %}gen{% endgeneration %}", {}),
 ("arith", "{{ 7 + 3 }} {{ 7 - 3 }} {{ 7 * 3 }} {{ 7 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 1.5 + 1 }}", {}),
 ("concat", "{{ 'a' ~ 1 ~ none ~ true ~ [1] }}", {}),
 ("str_mul", "{{ 'ab' * 3 }}{{ [0] * 3 }}", {}),
 ("compare_chain", "{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 1 == 1.0 }} {{ 'a' != 'b' }} {{ [1, 2] == [1, 2] }}", {}),
 ("in_notin", "{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 3 not in [1] }}", {}),
 ("and_or_values", "{{ 0 or 'x' }} {{ 'a' and 'b' }} {{ none or [] }} {{ not 0 }}", {}),
 ("ternary", "{{ 'y' if true else 'n' }}{{ 'y' if false else 'n' }}[{{ 'y' if false }}]", {}),
 ("precedence", "{{ -2 ** 2 }} {{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ not 1 == 2 }} {{ -3 | abs }}", {}),
 ("slicing", "{{ 'hello'[1:3] }} {{ 'hello'[::-1] }} {{ [1, 2, 3, 4][::2] }} {{ [1, 2, 3][-1] }} {{ 'héllo'[1] }} {{ [1, 2, 3][5:] }}", {}),
 ("subscript_attr", "{{ d.a }} {{ d['a'] }} {{ d.b.c }} {{ d.l.0 }} {{ d.missing is defined }}", {"d": {"a": 1, "b": {"c": 2}, "l": [9]}}),
 ("python_repr", "{{ [1, 'a', none, true, 1.5, {'k': \"it's\"}] }} {{ (1,) }} {{ (1, 2) }} {{ {'a': [1]} }}", {}),
 ("float_repr", "{{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1e-5 }} {{ 1/3 }} {{ 2.5e-7 }} {{ 123456789.0 }}", {}),
 ("string_escapes", "{{ 'a\\nb\\tc\\\\d\\'e\\u00e9\\x41' }}", {}),
 ("string_methods", "{{ ' a b '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '  a'.lstrip() }}|{{ 'a  '.rstrip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a b c'.rsplit(' ', 1) }}", {}),
 ("string_methods2", "{{ 'Hello'.startswith('He') }} {{ 'Hello'.endswith(('x', 'lo')) }} {{ 'hello world'.title() }} {{ 'aXb'.upper() }} {{ 'AxB'.lower() }} {{ 'a-b'.replace('-', '+') }} {{ 'hello'.find('l') }} {{ 'hello'.count('l') }} {{ 'héllo'.find('l') }}", {}),
 ("string_format", "{{ '{}-{}'.format(1, 'b') }} {{ '{1}{0}'.format('a', 'b') }} {{ '{x}!'.format(x=3) }} {{ '%s=%d' % ('k', 4) }} {{ '%05.2f' % 3.14159 }}", {}),
 ("dict_methods", "{{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 0) }} {{ d.keys() | list }} {{ d.values() | list }} {{ d.items() | list }}", {"d": {"a": 1, "b": 2}}),
 ("filters_text", "{{ '  x  ' | trim }}|{{ 'hello world' | title }}|{{ 'hELLO' | capitalize }}|{{ 'ab' | upper }}|{{ 'AB' | lower }}|{{ 'aaa' | replace('a', 'b', 2) }}|{{ '<&>' | e }}|{{ 'one two  three' | wordcount }}", {}),
 ("filters_seq", "{{ [3, 1, 2] | sort }} {{ [3, 1, 2] | sort(reverse=true) }} {{ ['b', 'A', 'c'] | sort }} {{ [1, 2] | reverse | list }} {{ 'abc' | reverse }} {{ [1, 2, 1] | unique | list }} {{ [1, 2, 3] | first }} {{ [1, 2, 3] | last }} {{ [1, 2, 3] | length }} {{ 'abc' | list }}", {}),
 ("filters_attr", "{{ xs | selectattr('ok') | map(attribute='n') | join(',') }} {{ xs | rejectattr('ok') | map(attribute='n') | list }} {{ xs | selectattr('n', 'equalto', 2) | list | length }} {{ xs | sort(attribute='n', reverse=true) | map(attribute='n') | join }} {{ xs | map(attribute='missing', default='d') | join }}", {"xs": [{"n": 1, "ok": True}, {"n": 2, "ok": False}, {"n": 3, "ok": True}]}),
 ("filters_select", "{{ range(6) | select('even') | list }} {{ range(6) | reject('odd') | list }} {{ [0, 1, '', 'a'] | select | list }} {{ ['1', '2'] | map('int') | sum }} {{ [1, 5, 3] | max }} {{ [1, 5, 3] | min }}", {}),
 ("filters_numbers", "{{ '42' | int }} {{ '4.7' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ 3 | float }} {{ '2.5' | float }} {{ -3 | abs }} {{ 2.5 | round }} {{ 3.14159 | round(2) }} {{ 3.7 | round(method='floor') }} {{ 7 | string }}", {}),
 ("filters_default", "{{ missing | default('d') }} {{ '' | default('d') }} {{ '' | default('d', true) }} {{ none | d('x') }} {{ missing | default }}|", {}),
 ("filters_dict", "{{ d | dictsort }} {{ d | dictsort(by='value') }} {{ d | items | list }} {{ d | length }}", {"d": {"b": 1, "a": 3, "C": 2}}),
 ("filters_indent", "{{ 'a\\nb\\n\\nc' | indent(2) }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent(2, blank=true) }}", {}),
 ("filters_batch_slice", "{{ range(5) | batch(2) | list }} {{ range(5) | batch(2, 'x') | list }} {{ range(5) | slice(2) | list }}", {}),
 ("tojson", "{{ v | tojson }}", {"v": {"a": [1, 2.0, "é\"\n", None, True], "b": {}}}),
 ("tojson_indent", "{{ v | tojson(indent=2) }}", {"v": {"a": [1, {"b": []}], "c": "x"}}),
 ("tojson_options", "{{ v | tojson(sort_keys=true) }} {{ v | tojson(ensure_ascii=true) }} {{ v | tojson(separators=(',', ':')) }}", {"v": {"z": "ü", "a": [1, 2]}}),
 ("tests", "{{ x is defined }}{{ y is undefined }}{{ none is none }}{{ 'a' is string }}{{ 1 is number }}{{ 1 is integer }}{{ 1.0 is float }}{{ {} is mapping }}{{ [] is iterable }}{{ 'a' is sequence }}{{ true is boolean }}{{ true is true }}{{ false is false }}{{ 4 is even }}{{ 3 is odd }}{{ 9 is divisibleby 3 }}{{ 1 is in [1] }}{{ 'a' is eq 'a' }}{{ 2 is gt 1 }}{{ 'ab' is lower }}{{ x is not none }}", {"x": 1}),
 ("undefined_semantics", "[{{ missing }}]{{ missing | length }}{{ missing is iterable }}{% for x in missing %}no{% endfor %}{{ missing == missing2 }}{{ d.nope is defined }}{{ none.attr is defined }}", {"d": {}}),
 ("strftime_now", "{{ strftime_now('%Y-%m-%d %d %b %Y') }}", {}),
 ("globals", "{{ range(3) | list }} {{ range(1, 7, 2) | list }} {{ dict(a=1, b=2) }} {{ namespace(a=1).a }}", {}),
 ("unicode_case", "{{ 'ÉCOLE Ωμέγα Привет' | lower }} {{ 'école ωμέγα привет' | upper }} {{ 'ß' | upper }}", {}),
 ("print_tuple", "{{ 1, 2 }}", {}),
 ("adjacent_strings", "{{ 'a' 'b' \"c\" }}", {}),
 ("generators", "{{ [1, 2] | map('string') | list }} {{ ([] | select) is iterable }} {% if [] | select %}T{% endif %} {{ d.items() | list }} {{ [1, 2] | reverse | list }} {{ (d.keys() | list)[0] }} {{ d.values() | length }} {% set g = [1, 2] | select %}{{ g | list }}{{ g | list }}", {"d": {"k": 1}}),
 ("markup", "{{ 'a<' | safe + '<b>' }}|{{ '<x>' + 'y' | safe }}|{{ '<' | e | e }}|{{ ('<' | safe) ~ '<' }}|{{ ('a' | safe).upper() + '&' }}|{{ ('<' | safe) * 2 + '>' }}", {}),
 ("ws_var_no_lstrip", "a\n  {{ x }}\n  b", {"x": 1}),
 ("ws_minus_end_blank_lines", "{% if true -%}\n\n  x{%- endif %}|", {}),
 ("ws_comment_both", "a  {#- c -#}  x", {}),
 ("ws_loop_lines", "{% for i in [1, 2] %}\n  {{ i }}\n{% endfor %}\nend", {}),
 ("ws_plus_both", "x {%+ if true +%}\n y{% endif %}", {}),
 ("ws_raw_minus", "a {%- raw -%}  {{ a }}  {%- endraw -%} b", {}),
 ("ws_multiline_tag", "{% if\n true\n %}y{% endif %}", {}),
 ("ws_tab_lstrip", "\t{% if true %}\ttab{% endif %}", {}),
 ("ws_var_then_block", "{{ x }}\n{% if true %}\n  a\n{% endif %}\n", {"x": 1}),
 ("ws_crlf_trim", "{% if true %}\r\nA\r\n{% endif %}\r\nB", {}),
 ("string_with_braces", "{{ '}}' }}{{ {'a': {'b': 1}} }}{{ \"%}\" }}", {}),
 ("repr_undefined_markup", "{{ [missing, 'a<' | e, ('b' | safe).split()] }}", {}),
 ("lazy_generator_errors", "{% set g = 2.5 | select %}{{ g is defined }}{{ (x | items) is iterable }}{{ not (x | batch(2)) }}", {"x": 3}),
 ("even_odd_float", "{{ 4.0 is even }}{{ 3.0 is odd }}{{ 2.5 is odd }}", {}),
 ("percent_undefined_and_lower_test", "{{ 'plain' % missing }}|{{ none is lower }}{{ [1, 'a'] is lower }}{{ 'A1' is upper }}", {}),
 ("is_test_no_parens", "{{ 'x' if none is none else 'y' }}{{ 5 is divisibleby(5) }}", {}),
]


def cstr(s):
    out = '"'
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out += '\\"'
        elif ch == "\\":
            out += "\\\\"
        elif ch == "\n":
            out += "\\n"
        elif ch == "\t":
            out += "\\t"
        elif ch == "\r":
            out += "\\r"
        elif o < 0x20:
            out += '\\x%02x""' % o
        else:
            out += ch
    return out + '"'


def main():
    env = oracle.make_env()
    rows = []
    for name, src, ctx in CASES:
        out = env.from_string(src).render(**ctx)
        rows.append("    {%s,\n     %s,\n     %s,\n     %s}," % (cstr(name), cstr(src), cstr(json.dumps(ctx, ensure_ascii=False)), cstr(out)))
    path = HERE / "test_template.cpp"
    text = path.read_text(encoding="utf-8")
    begin = text.index("const SyntaxCase kSyntax[] = {\n") + len("const SyntaxCase kSyntax[] = {\n")
    end = text.index("};\n// clang-format on")
    path.write_text(text[:begin] + "\n".join(rows) + "\n" + text[end:], encoding="utf-8")
    print(f"{path}: {len(rows)} cases")


if __name__ == "__main__":
    main()
