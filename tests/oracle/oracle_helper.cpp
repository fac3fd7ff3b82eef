// Command-line bridge between qlm's reference code and the Python oracle tests:
//   oracle_helper dequant TYPE IN.bin OUT.f32   raw blocks -> float32 values
//   oracle_helper quant   TYPE IN.f32 OUT.bin   float32 values -> raw blocks
//   oracle_helper pretok SPLIT IN.txt OUT.txt   pre-tokenizer pieces
// TYPE is a type name as in the traits table (Q4_0, Q4_K, IQ4_NL, ...).
// SPLIT names one pre-tokenizer stage (o200k, gpt4o); IN holds texts separated
// by NUL bytes (n of them: n + 1 texts), OUT gets a line per text: the byte lengths of its pieces.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "qlm/error.h"
#include "qlm/formats.h"
#include "tokenizer/pretokenize.h"

namespace {

std::vector<char> read_all(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) qlm::fail(path, ": cannot open");
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void write_all(const std::string& path, const void* data, size_t n) {
    std::ofstream f(path, std::ios::binary);
    f.write(static_cast<const char*>(data), std::streamsize(n));
    if (!f) qlm::fail(path, ": write failed");
}

void pretok(const std::string& split, const std::string& in_path, const std::string& out_path) {
    using qlm::tok::Split;
    Split s;
    if (split == "o200k") {
        s = Split::kO200k;
    } else if (split == "gpt4o") {
        s = Split::kGpt4o;
    } else {
        qlm::fail("unknown split ", split);
    }
    const std::vector<char> in = read_all(in_path);
    std::string out;
    for (size_t begin = 0;;) {  // n separators, n + 1 texts
        size_t end = begin;
        while (end < in.size() && in[end] != '\0') ++end;
        const std::string_view text(in.data() + begin, end - begin);
        const char* sep = "";
        for (const std::string& piece : qlm::tok::pretokenize(text, {s}, false)) {
            out += sep;
            out += std::to_string(piece.size());
            sep = " ";
        }
        out += '\n';
        if (end == in.size()) break;
        begin = end + 1;
    }
    write_all(out_path, out.data(), out.size());
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: %s dequant|quant TYPE IN OUT | pretok SPLIT IN OUT\n", argv[0]);
        return 2;
    }
    try {
        const std::string cmd = argv[1];
        if (cmd == "pretok") {
            pretok(argv[2], argv[3], argv[4]);
            return 0;
        }
        const auto type = qlm::type_from_name(argv[2]);
        if (!type) qlm::fail("unknown type ", argv[2]);
        const qlm::TypeInfo& ti = qlm::type_info(*type);
        const std::vector<char> in = read_all(argv[3]);
        if (cmd == "dequant") {
            if (in.size() % ti.type_size) qlm::fail(argv[3], ": size is not a whole number of ", ti.name, " blocks");
            const int64_t n = int64_t(in.size() / ti.type_size) * ti.block_size;
            std::vector<float> out(static_cast<size_t>(n));
            qlm::dequantize_row(*type, in.data(), out.data(), n);
            write_all(argv[4], out.data(), out.size() * sizeof(float));
        } else if (cmd == "quant") {
            const int64_t n = int64_t(in.size() / sizeof(float));
            std::vector<float> x(static_cast<size_t>(n));
            std::copy_n(in.data(), x.size() * sizeof(float), reinterpret_cast<char*>(x.data()));
            std::vector<unsigned char> out(qlm::row_size(*type, n));
            qlm::quantize_row(*type, x.data(), out.data(), n);
            write_all(argv[4], out.data(), out.size());
        } else {
            qlm::fail("unknown command ", cmd);
        }
    } catch (const qlm::Error& e) {
        std::fprintf(stderr, "oracle_helper: %s\n", e.what());
        return 1;
    }
    return 0;
}
