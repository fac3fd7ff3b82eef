#!/usr/bin/env python3
"""Record llama.cpp's tokenization of a fixed set of strings as JSON fixtures.

Run by hand (not in CI) with a Python that has llama-cpp-python installed:

    /tmp/llama-venv/bin/python tests/oracle/gen_tokenizer_fixtures.py

It loads the default model and each vocab in models/vocab/ (scripts/fetch_vocabs.sh)
with llama_cpp.Llama(path, vocab_only=True) and writes
tests/fixtures/tokenizer/<name>.json with, per string, the token ids for every
(add_special, parse_special) pair, and llama_detokenize of the ids; plus
token_to_piece for a sample of ids, the end-of-generation ids and the special
ids. tests/tokenizer/test_tokenizer_oracle.cpp checks qlm against these.

DERIVED vocabularies stand in for ones we cannot fetch: a fetched vocab with
metadata changed (another tokenizer.ggml.pre, some tokens renamed), written
with gguf-py to a temporary file for llama.cpp; the fixture records the source
file and the changes ("derive"), which the C++ test applies in memory. The
o200k ("gpt-4o") pre-tokenizer is checked that way on Llama 3's byte-level BPE
vocabulary, with gpt-oss's Harmony tokens in place of reserved ones.
"""
import ctypes
import hashlib
import json
import os
import random
import sys
import tempfile

import gguf
import llama_cpp

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT_DIR = os.path.join(ROOT, "tests", "fixtures", "tokenizer")

VOCABS = {
    "gemma3": "models/gemma-3-270m-q4_k_m.gguf",
    "llama-spm": "models/vocab/ggml-vocab-llama-spm.gguf",
    "phi-3": "models/vocab/ggml-vocab-phi-3.gguf",
    "llama-bpe": "models/vocab/ggml-vocab-llama-bpe.gguf",
    "qwen2": "models/vocab/ggml-vocab-qwen2.gguf",
    "gpt-2": "models/vocab/ggml-vocab-gpt-2.gguf",
    "gpt-neox": "models/vocab/ggml-vocab-gpt-neox.gguf",
    "starcoder": "models/vocab/ggml-vocab-starcoder.gguf",
    "falcon": "models/vocab/ggml-vocab-falcon.gguf",
    "deepseek-coder": "models/vocab/ggml-vocab-deepseek-coder.gguf",
}

HARMONY = ["<|start|>", "<|channel|>", "<|message|>", "<|end|>", "<|return|>", "<|call|>", "<|constrain|>"]
DERIVED = {
    "llama-bpe-as-gpt-4o": {
        "from": "models/vocab/ggml-vocab-llama-bpe.gguf",
        "pre": "gpt-4o",
        "rename": {f"<|reserved_special_token_{10 + k}|>": t for k, t in enumerate(HARMONY)},
    },
}

# Strings for the o200k pattern: its case classes, contractions and [\r\n/]*.
O200K_STRINGS = [
    "HelloWorld", "helloWorld", "HELLOWorld", "HTTPServer", "iPhone", "McDonald's", "XMLHttpRequest",
    "IT'S", "iT'S", "It'S", "THEY'RE", "They'Re", "WE'VE", "I'M", "YOU'LL", "You'Ll", "HE'D", "DON'T",
    "a's's", "A'S'S", "'''s", "x'\u017f", "ǅemal ǅEMAL", "ÉCOLE normale", "ÉcoleNormale", "МоскваРОССИЯ",
    "ΑθήναΑΘΗΝΑ", "straße STRASSE", "ʰello", "Xʰ", "日本語ABCabc漢字", "e\u0301cole E\u0301COLE", " \u0301",
    "\u0301a", "'\u0301s", "!\n/", ".\r\n/x", " /\n/", "//\n//", "a/b/c\n", "http://example.com/path/\n\n",
    "x \u00a0 y", "end \u3000", "12345678", "x123y", "٣٤٥٦٧", "\r\n\r\n  x", "tab\t\n\tx",
    "<|start|>user<|message|>Hi<|end|><|start|>assistant<|channel|>analysis<|message|>Think.<|end|>"
    "<|start|>assistant<|channel|>final<|message|>Hello!<|return|>",
    "<|start|>assistant to=functions.get_weather<|channel|>commentary <|constrain|>json<|message|>"
    "{\"city\": \"Paris\"}<|call|>",
]

# Strings written for these tests. Kept in one list so every vocabulary sees
# the same text; special tokens of each vocabulary are added per vocabulary.
COMMON = [
    # empty and whitespace
    "", " ", "  ", "   ", "\t", "\n", "\n\n", "\n\n\n", "\r\n", "\r", " \n", "\n ", " \t \n ",
    "\t\t", "\n\t\n", "a  b", "a   b", "a    b", "a     b", "a" + " " * 8 + "b", "a" + " " * 16 + "b",
    "a\tb", "a\t\tb", "\t\tindented", "line1\nline2", "line1\n\nline2", "line1\r\nline2",
    "para\n\n\n\nend", "trailing   ", "   leading", "  both  ", "x\n \n y", "a \n\n b",
    "nbsp\u00a0here", "ideographic\u3000space", "em\u2003space", "zero\u200bwidth", "line\u2028sep",
    "tab\t \tmix", " \u00a0 ", "end with newline\n", "\n\nstarts with newlines",
    # words and case
    "a", "A", "Hello", " Hello", "Hello ", "  Hello  ", "Hello world", "Hello, world!", "hello world",
    "HELLO WORLD", "MiXeD cAsE wOrDs", "The quick brown fox jumps over the lazy dog.",
    "snake_case_name", "camelCaseName", "PascalCaseName", "kebab-case-name", "CONSTANT_NAME",
    "__init__", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "ababababababababab",
    "supercalifragilisticexpialidocious", "antidisestablishmentarianism",
    "In 1492, Columbus sailed the ocean blue. The voyage took about 70 days, and he reached the "
    "Bahamas on October 12.",
    # contractions
    "it's", "It's", "IT'S", "I'm", "they're", "They'RE", "we've", "you'll", "he'd", "don't", "can't",
    "'s", "'t", "'re", "'ll", "''", "' s", "rock 'n' roll", "O'Neil's book", "the dogs' bones",
    "it 's", "I 'm here", "we 're", "they 've", "you 'll", "he 'd", "He said ' yes ' ok", "x 'y z",
    # digits
    "1", "12", "123", "1234", "12345", "123456", "1234567", "123456789012", "3.14159", "1,000,000",
    "2024-01-15", " 42", "x2y3z4", "0x1F", "1e-10", "-273.15", "007", "10%", "#1", "v1.2.3-beta+build.5",
    "\u0663\u0664\u0665", "\u0967\u0968\u0969", "\u216b", "\u00bd", "x\u00b2", "\u2460\u2461",
    "\U0001d7d8\U0001d7d9\U0001d7da",
    # scripts
    "你好，世界", "日本語のテキストです。", "カタカナとひらがな", "한국어 문장입니다.", "مرحبا بالعالم",
    "שלום עולם", "नमस्ते दुनिया", "हिन्दी में लिखा गया वाक्य।", "สวัสดีครับ", "Привет, мир!",
    "Съешь же ещё этих мягких французских булок", "Γειά σου Κόσμε", "Tiếng Việt có dấu",
    "ქართული ენა", "Հայերեն", "தமிழ் மொழி", "বাংলা ভাষা", "ગુજરાતી", "ಕನ್ನಡ", "සිංහල",
    "abcабвαβγ", "Ελληνικά and English", "中文 English 混合 text", "龘", "\U00020000\U0002a6d6",
    "Ærøskøbing", "Straße", "ÀÉÎÕÜ àéîõü ß ñ ç", "İstanbul ılık", "ǅ ǈ ǋ", "Ωmega", "ﬁ ligature",
    # combining marks
    "e\u0301", "cafe\u0301", "n\u0303", "A\u030a", "a\u0300\u0301\u0302", "Z\u0351\u0362\u0325al\u0338go",
    "\u0915\u094d\u0937", "\u0627\u064e\u0644\u0652",
    # width and styled letters
    "Ｆｕｌｌｗｉｄｔｈ", "ｶﾀｶﾅ", "\U0001d4d5\U0001d4ea\U0001d4f7\U0001d4ec\U0001d502", "ℌ𝔢𝔩𝔩𝔬",
    # emoji
    "🦙", "👍", "👍🏽", "👨‍👩‍👧‍👦", "👩🏾‍💻", "🏳️‍🌈", "🇺🇸🇫🇷🇯🇵", "❤️", "😀😃😄😁", "🤖 robot", "text🙂text",
    "1️⃣", "🫠", "🫨", "🧑‍🤝‍🧑", " 🎉🎉 ", "#️⃣*️⃣", "🏴󠁧󠁢󠁳󠁣󠁴󠁿",
    # symbols and punctuation
    "Hello!!!", "What?!", "...", "—em dash—", "«quotes»", "“smart quotes”", "‘single’", "¿Qué?",
    "¡Hola!", "a.b.c", "end.", "e.g. this", " , . ! ?", "Hello , world .", "€100", "£5 ¥6 ₹7",
    "©®™", "→←↑↓", "∑∫√∞≠≤", "25°C", "±×÷", "$HOME/bin:$PATH", "a+b=c", "x^2 + y^2 = z^2", "|pipe|",
    "100% sure", "#hashtag @mention", "~tilde`backtick`", "<<>>", "====", "----------", "***",
    "!!!???", "(parens) [brackets] {braces}", "\"double\" 'single'", "a\\b\\c", "§¶†‡", "…",
    # code
    "def foo(x):\n    return x + 1\n", "int main() { return 0; }",
    "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}", "if x == 1 and y != 2:\n    pass",
    "console.log(`hi ${name}`);", "<div class=\"a\">text</div>", "SELECT * FROM t WHERE id = 42;",
    "#include <stdio.h>", "a->b", "x => x * 2", "/* comment */", "// comment", "std::vector<int> v{1, 2, 3};",
    "https://example.com/path?q=1&r=2#frag", "user@example.com", "C:\\Windows\\System32", "~/.bashrc",
    "[link](http://x.y)", "```python\nprint('hi')\n```", "{\"key\": [1, 2, {\"a\": null}]}",
    "    indented four", "\tindented tab", "key: value\n  - item\n  - other", "x=1;y=2;z=x+y",
    "fn main() -> Result<(), Box<dyn Error>> {}", "    def method(self):\n        self.x = 0\n",
    "<?php echo $x; ?>", "SGVsbG8gd29ybGQ=", "0123456789abcdefABCDEF", "a_b-c.d/e\\f",
    # markup-like text that is not a special token
    "<s>", "</s>", "<unk>", "<pad>", "<|endoftext|>x", "<|im_start|>", "<start_of_turn", "<end_of_turn>",
    "<|eot_id|>", "<|begin_of_text|>", "<bos>", "<eos>", "[INST] hi [/INST]", "<|user|>", "<mask>",
    "< s >", "<<s>>", "<|", "|>",
]


def hexs(b: bytes) -> str:
    return b.hex()


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def piece(vocab, tok: int, special: bool) -> bytes:
    buf = ctypes.create_string_buffer(256)
    n = llama_cpp.llama_token_to_piece(vocab, tok, buf, len(buf), 0, special)
    if n < 0:
        buf = ctypes.create_string_buffer(-n)
        n = llama_cpp.llama_token_to_piece(vocab, tok, buf, len(buf), 0, special)
    return buf.raw[:n]


def detokenize(vocab, ids, remove_special: bool, unparse_special: bool) -> bytes:
    arr = (llama_cpp.llama_token * max(1, len(ids)))(*ids)
    size = 64 + 64 * len(ids)
    buf = ctypes.create_string_buffer(size)
    n = llama_cpp.llama_detokenize(vocab, arr, len(ids), buf, size, remove_special, unparse_special)
    if n < 0:
        size = -n
        buf = ctypes.create_string_buffer(size)
        n = llama_cpp.llama_detokenize(vocab, arr, len(ids), buf, size, remove_special, unparse_special)
    return buf.raw[:n]


def special_strings(texts, attrs, vocab) -> list:
    """Strings with this vocabulary's control and user-defined tokens written in them."""
    control = [i for i, a in enumerate(attrs) if a & 8]
    user = [i for i, a in enumerate(attrs) if a & 16]
    known = ["<start_of_turn>", "<end_of_turn>", "<|im_start|>", "<|im_end|>", "<|begin_of_text|>",
             "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|user|>", "<|assistant|>",
             "<|end|>", "<|system|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<|endoftext|>",
             "<s>", "</s>", "<unk>", "<pad>", "<mask>", "[multimodal]", "<start_of_image>"]
    chosen = []
    for t in known:
        if t in texts:
            chosen.append(t)
    rng = random.Random(1234)
    for pool in (control, user):
        for i in rng.sample(pool, min(4, len(pool))):
            if texts[i] not in chosen:
                chosen.append(texts[i])
    for tid in (llama_cpp.llama_vocab_bos(vocab), llama_cpp.llama_vocab_eos(vocab)):
        if 0 <= tid < len(texts) and texts[tid] not in chosen:
            chosen.append(texts[tid])
    out = []
    for k, t in enumerate(chosen):
        u = chosen[(k + 1) % len(chosen)]
        out += [t, t + "Hello", "Hello" + t, " " + t + " ", "a" + t + "b" + u + "c", t + t, t + "\n" + u,
                "x " + t + "  y", t[:-1] if len(t) > 1 else t + t]
    chats = {
        "<start_of_turn>": "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n",
        "<|im_start|>": "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n"
                        "<|im_start|>assistant\n",
        "<|start_header_id|>": "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
                               "<|start_header_id|>assistant<|end_header_id|>\n\n",
        "<|user|>": "<|user|>\nHow are you?<|end|>\n<|assistant|>\n",
        "<fim_prefix>": "<fim_prefix>def f(x):\n    <fim_suffix>\n    return y<fim_middle>",
    }
    for key, chat in chats.items():
        if key in texts:
            out.append(chat)
    return out


def derive(spec: dict, out_path: str) -> dict:
    """Copy spec["from"] with tokenizer.ggml.pre and token texts changed; returns the changes by id."""
    reader = gguf.GGUFReader(os.path.join(ROOT, spec["from"]))
    arch = reader.fields["general.architecture"].contents()
    writer = gguf.GGUFWriter(out_path, arch=arch)
    renamed = {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        value = field.contents()
        if key == "tokenizer.ggml.pre":
            value = spec["pre"]
        elif key == "tokenizer.ggml.tokens":
            for i, t in enumerate(value):
                if t in spec["rename"]:
                    renamed[str(i)] = spec["rename"][t]
                    value[i] = spec["rename"][t]
            assert len(renamed) == len(spec["rename"]), "a token to rename is missing"
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, value, vtype, sub_type=sub)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return {"pre": spec["pre"], "tokens": renamed}


def record(name: str, rel: str, load_path: str = "", extra: tuple = ()) -> dict:
    path = os.path.join(ROOT, rel)
    llm = llama_cpp.Llama(model_path=load_path or path, vocab_only=True, verbose=False)
    vocab = llm._model.vocab
    n = llama_cpp.llama_vocab_n_tokens(vocab)
    texts = [llama_cpp.llama_vocab_get_text(vocab, i).decode("utf-8", "replace") for i in range(n)]
    attrs = [llama_cpp.llama_vocab_get_attr(vocab, i) for i in range(n)]

    strings = COMMON + list(extra) + special_strings(texts, attrs, vocab)
    seen = set()
    strings = [s for s in strings if not (s in seen or seen.add(s))]
    cases = []
    for s in strings:
        b = s.encode("utf-8")
        case = {"text": s}
        for add in (False, True):
            for parse in (False, True):
                case[f"ids_{int(add)}{int(parse)}"] = llm.tokenize(b, add_bos=add, special=parse)
        ids = case["ids_11"]
        case["detok"] = hexs(detokenize(vocab, ids, False, False))
        case["detok_special"] = hexs(detokenize(vocab, ids, False, True))
        case["detok_remove"] = hexs(detokenize(vocab, ids, True, False))
        cases.append(case)

    rng = random.Random(42)
    sample = set(range(min(n, 300)))
    sample |= set(rng.sample(range(n), min(n, 700)))
    sample |= {i for i, a in enumerate(attrs) if a & 32}  # byte tokens
    special = [i for i, a in enumerate(attrs) if a & (1 | 8 | 16)]  # unknown, control, user-defined
    sample |= set(rng.sample(special, min(len(special), 200)))
    pieces = {str(i): [hexs(piece(vocab, i, True)), hexs(piece(vocab, i, False))] for i in sorted(sample)}

    eog = [i for i in range(n) if llama_cpp.llama_vocab_is_eog(vocab, i)]
    meta = {
        "n_vocab": n,
        "bos": llama_cpp.llama_vocab_bos(vocab),
        "eos": llama_cpp.llama_vocab_eos(vocab),
        "eot": llama_cpp.llama_vocab_eot(vocab),
        "add_bos": bool(llama_cpp.llama_vocab_get_add_bos(vocab)),
        "add_eos": bool(llama_cpp.llama_vocab_get_add_eos(vocab)),
        "eog": eog,
    }
    del llm
    return {
        "generator": "tests/oracle/gen_tokenizer_fixtures.py",
        "llama_cpp_python": llama_cpp.__version__,
        "gguf": rel,
        "sha256": sha256(path),
        "meta": meta,
        "cases": cases,
        "pieces": pieces,
    }


def main() -> None:
    names = sys.argv[1:] or list(VOCABS) + list(DERIVED)
    os.makedirs(OUT_DIR, exist_ok=True)
    for name in names:
        if name in DERIVED:
            spec = DERIVED[name]
            with tempfile.TemporaryDirectory() as tmp:
                derived = os.path.join(tmp, name + ".gguf")
                changes = derive(spec, derived)
                data = record(name, spec["from"], derived, O200K_STRINGS)
            data["derive"] = changes
        else:
            data = record(name, VOCABS[name])
        out = os.path.join(OUT_DIR, f"{name}.json")
        with open(out, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, separators=(",", ":"))
            f.write("\n")
        print(f"{name}: {len(data['cases'])} strings, {len(data['pieces'])} pieces -> {out} "
              f"({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
