"""The gpt-4o (o200k_base) pre-tokenizer against independent oracles.

qlm splits text by hand (src/tokenizer/pretokenize.cpp); here Python's `regex`
package runs the regular expressions themselves on the same texts:

- Split::kO200k against the o200k_base pattern as published with the
  tokenizer (tokenizer.json / tiktoken);
- Split::kGpt4o (what tokenizer.ggml.pre = "gpt-4o" selects) against what
  llama.cpp runs for that name: a rewrite of the pattern, matched over its
  "collapsed" text where each non-ASCII codepoint stands for its class. The
  collapse and the rewrite are reproduced below from llama.cpp's unicode.cpp
  and llama-vocab.cpp.

The texts: tests/oracle/natural_text.txt, this repository's tokenizer fixture
generator (multilingual literals), the chat templates in models/templates if
fetched, crafted strings, and seeded random strings over a pool of characters
from every class the pattern distinguishes. Only characters on which
unicodedata (Unicode 14, what our tables come from) and `regex` agree are used.
"""
import glob
import os
import random
import subprocess
import tempfile
import unicodedata

import pytest

regex = pytest.importorskip("regex")

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
HELPER = os.environ.get("QLM_ORACLE_HELPER", os.path.join(ROOT, "build", "tests", "oracle", "oracle_helper"))

O200K = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
         r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
         r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")

# llama.cpp's rewrite: "a letter that is not a-z" / "not A-Z" instead of the
# case classes, and the contractions spelled out in ASCII.
CONTR = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?"
GPT4O_LLAMA = (r"[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+" + CONTR +
               r"|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*" + CONTR +
               r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")

# Collapsed text: ASCII stays, White_Space becomes \v, others the byte of their class.
COLLAPSE = {"N": "\xd1", "L": "\xd2", "P": "\xd3", "M": "\xd4", "S": "\xd5"}
# What each \p{X} becomes in the collapsed regex: its byte plus its ASCII members.
UCAT = {"N": "\xd10-9", "L": "\xd2A-Za-z"}
WHITE_SPACE = {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
               0x2028, 0x2029, 0x202F, 0x205F, 0x3000}


def collapse_regex(expr):
    """\\p{L} and \\p{N} replaced as llama.cpp does: bracketed unless already inside []."""
    out, inside, i = [], False, 0
    while i < len(expr):
        ch = expr[i]
        if ch == "[" and (i == 0 or expr[i - 1] != "\\"):
            inside = True
        elif inside and ch == "]" and expr[i - 1] != "\\":
            inside = False
        elif expr.startswith(r"\p{", i):
            cat = expr[i + 3]
            assert expr[i + 4] == "}", expr[i:]
            out.append(UCAT[cat] if inside else "[" + UCAT[cat] + "]")
            i += 5
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def collapse_text(text):
    out = []
    for ch in text:
        cp = ord(ch)
        if cp < 128:
            out.append(ch)
        elif cp in WHITE_SPACE:
            out.append("\x0b")
        else:
            out.append(COLLAPSE.get(unicodedata.category(ch)[0], "\xd0"))
    return "".join(out)


def pieces(pattern, text, match_text=None):
    """Matches and the gaps between them, as character lengths (gaps are pieces, as in llama.cpp)."""
    lens, gap = [], 0
    for m in pattern.finditer(text if match_text is None else match_text):
        if m.start() > gap:
            lens.append(m.start() - gap)
        lens.append(m.end() - m.start())
        gap = m.end()
    if len(text) > gap:
        lens.append(len(text) - gap)
    return lens


def agrees(ch):
    """unicodedata (Unicode 14) and `regex` (newer Unicode) give ch the same category."""
    cat = unicodedata.category(ch)
    return bool(regex.fullmatch(r"\p{%s}" % cat, ch)) and cat != "Cn"


# Characters for random strings: every class the pattern tells apart.
POOL = (
    list("abcxyzABCXYZ0123456789 \t\n\r\v\f'/.,!?-_()[]{}<>\"#$%&*+:;=@\\^`|~")
    + list("stremvldSTREMVLD") * 3  # contraction letters, often
    + ["'"] * 8 + [" "] * 8 + ["\n", "\r\n"] * 3
    + list("àéîõüßÀÉÎÕÜÆæøØſĳĲǅǈǋǲ")  # Latin-1/Extended, long s, Lt digraphs
    + list("ΑβΓδΩωάΆЖжЯяЁё")  # Greek, Cyrillic
    + list("ʰʲˀˆ々ーゝ")  # Lm
    + list("漢字中文日本語가나다한국어あいうアイウ")  # Lo: CJK, Hangul, kana
    + list("हिन्दीதமிழ்ไทยعربيעברית")  # scripts with marks (Mn, Mc)
    + ["\u0301", "\u0308", "\u0327", "\u20dd", "\u0903"]  # combining (Mn, Me, Mc)
    + list("٣٤५६²½Ⅻ〇")  # Nd, No, Nl outside ASCII
    + list("😀👍🏽🇫🇷€£©®™∑√")  # So, Sk (skin tone), Sc, Sm
    + ["\u200d", "\ufe0f", "\u00ad", "\x1c", "\x1f", "\x7f", "\x85"]  # Cf, Cc
    + ["\u00a0", "\u2003", "\u3000", "\u2028", "\u202f"]  # White_Space outside ASCII
    + list("«»¿¡—–…")
)

CRAFTED = [
    "", " ", "a", "'", "''", "'s", "'S", "'ſ", "x'ſ", "'t'", "' s",
    "it's", "It's", "IT'S", "iT'S", "It'S", "they're", "THEY'RE", "They'Re", "we've", "WE'VE", "I'm", "I'M",
    "you'll", "YOU'LL", "You'Ll", "he'd", "HE'D", "don't", "DON'T", "Don'T", "can'tve", "o'clock",
    "rock 'n' roll", "O'Neil's", "the dogs' bones", "'''s", "a's's", "A'S'S",
    "HelloWorld", "helloWorld", "HELLOWorld", "HTTPServer", "iPhone", "eBay", "McDonald's", "XMLHttpRequest",
    "ǅemal ǅEMAL ǈubljana", "ÉCOLE normale", "ÉcoleNormale", "ΑθήναΑΘΗΝΑ", "МоскваРОССИЯ", "straße STRASSE",
    "ſtraße", "ʰello", "Xʰ", "ʰX", "々々", "ーー",
    "日本語のテキスト", "中文文本，标点。", "한국어 텍스트", "日本語ABCabc漢字",
    "हिन्दी भाषा", "नमस्ते दुनिया", "தமிழ் மொழி", "ภาษาไทย", "العربية", "עברית", "e\u0301cole", "E\u0301COLE",
    "\u0301", " \u0301", "\u0301a", "a\u0301\u0301b", "1\u0301", "\n\u0301", "'\u0301s",
    "1", "12", "123", "1234", "12345678901", "3.14159", "1,000,000", "٣٤٥٦٧", "²³", "Ⅻ", "a1b2c3", "x123y",
    "\n", "\n\n", "\r\n", "\r\n\r\n", "a\nb", "a\r\nb", " \n ", "a \n b", "\t\n", "  \n\n  x",
    "end   ", "end\n", "end \n", "x  ", "x   y", "x \t y", "\t\tx", "  leading", "a\u00a0b", "a\u3000\u3000b",
    "!!!", " !!!", "!!!\n", "a/b/c", "http://example.com/path/", "//\n//", "!\n/", ".\r\n/x", " /\n/",
    "😀", "😀😀 😀", "👍🏽", "🇫🇷", "a😀b", "👨\u200d👩\u200d👧",
    "def f(x):\n    return x  # comment\n", "{\"key\": [1, 2, 3]}", "<|start|>assistant<|channel|>final",
    "x\x1cy", "a\x7fb", "\x85x", "\u00adsoft",
]


def corpus():
    texts = list(CRAFTED)
    with open(os.path.join(ROOT, "tests", "oracle", "natural_text.txt"), encoding="utf-8") as f:
        natural = f.read()
    texts.append(natural)
    texts += natural.split("\n")
    with open(os.path.join(ROOT, "tests", "oracle", "gen_tokenizer_fixtures.py"), encoding="utf-8") as f:
        src = f.read()
    texts.append(src)
    # its string literals, escapes decoded: multilingual text, odd spaces, emoji
    for m in regex.finditer(r'"((?:[^"\\\n]|\\.)*)"', src):
        try:
            texts.append(m.group(1).encode("latin-1", "backslashreplace").decode("unicode_escape"))
        except UnicodeDecodeError:
            pass
    for path in sorted(glob.glob(os.path.join(ROOT, "models", "templates", "*.jinja"))):
        with open(path, encoding="utf-8", errors="replace") as f:
            texts.append(f.read())
    rng = random.Random(200)
    pool = [ch for ch in POOL if all(agrees(c) for c in ch)]
    for _ in range(4000):
        texts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 24))))
    # runs that stress the case classes and the backtracking into them
    upper, lower, both = "AÉΩЖǅ", "aéωжſ", "ʰ々漢\u0301"
    for _ in range(2000):
        texts.append("".join(rng.choice(upper + lower + both + "' s1") for _ in range(rng.randint(1, 12))))
    # no NUL (the helper's separator), only characters both Unicode versions agree on
    texts = ["".join(ch for ch in t if ch != "\0" and (ord(ch) < 128 or agrees(ch))) for t in texts]
    return texts


@pytest.fixture(scope="module")
def texts():
    t = corpus()
    assert len(t) > 6000 and sum(len(x) for x in t) > 100000
    return t


def run_helper(split, texts):
    if not os.path.exists(HELPER):
        pytest.fail(f"oracle_helper not built: {HELPER}")
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = os.path.join(tmp, "in"), os.path.join(tmp, "out")
        with open(inp, "wb") as f:
            f.write(b"\0".join(t.encode("utf-8") for t in texts))
        subprocess.run([HELPER, "pretok", split, inp, out], check=True)
        with open(out, encoding="ascii") as f:
            lines = f.read().split("\n")
    assert lines[-1] == "" and len(lines) - 1 == len(texts)
    result = []
    for t, line in zip(texts, lines):
        data, off, chars = t.encode("utf-8"), 0, []
        for n in map(int, line.split()):
            chars.append(len(data[off:off + n].decode("utf-8")))
            off += n
        assert off == len(data)
        result.append(chars)
    return result


def check(ours, theirs, texts, what):
    bad = [(t, o, e) for t, o, e in zip(texts, ours, theirs) if o != e]
    if bad:
        t, o, e = bad[0]
        cut = lambda lens: [t[sum(lens[:i]):sum(lens[:i + 1])] for i in range(len(lens))]
        pytest.fail(f"{len(bad)} of {len(texts)} texts split differently from {what}; first: {t!r}\n"
                    f"  qlm:    {cut(o)!r}\n  oracle: {cut(e)!r}")


def test_o200k_matches_the_pattern(texts):
    pat = regex.compile(O200K)
    expected = [pieces(pat, t) for t in texts]
    # the pattern matches every character, so the matches are the pieces
    for t in texts:
        assert "".join(pat.findall(t)) == t
    check(run_helper("o200k", texts), expected, texts, "the o200k_base pattern")


def test_gpt4o_matches_llama_cpp(texts):
    pat = regex.compile(collapse_regex(GPT4O_LLAMA))
    expected = [pieces(pat, t, collapse_text(t)) for t in texts]
    check(run_helper("gpt4o", texts), expected, texts, "llama.cpp's collapsed gpt-4o regex")


def test_the_two_differ_only_outside_ascii(texts):
    """A check on the oracles: on ASCII text llama.cpp's rewrite is the pattern."""
    exact, rewrite = regex.compile(O200K), regex.compile(collapse_regex(GPT4O_LLAMA))
    ascii_texts = [t for t in texts if t.isascii()]
    assert len(ascii_texts) > 500
    for t in ascii_texts:
        assert pieces(exact, t) == pieces(rewrite, t, collapse_text(t)), t
    differ = [t for t in texts if pieces(exact, t) != pieces(rewrite, t, collapse_text(t))]
    assert "हिन्दी भाषा" in differ and "МоскваРОССИЯ" in differ and "x'ſ" in differ
