// Command-line bridge between qlm's reference code and the Python oracle tests:
//   oracle_helper dequant TYPE IN.bin OUT.f32   raw blocks -> float32 values
//   oracle_helper quant   TYPE IN.f32 OUT.bin   float32 values -> raw blocks
//   oracle_helper pretok SPLIT IN.txt OUT.txt   pre-tokenizer pieces
//   oracle_helper grid    NAME OUT              a lattice table as bytes
// TYPE is a type name as in the traits table (Q4_0, Q4_K, IQ4_NL, ...); NAME
// a grid (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S) or KSIGNS.
// SPLIT names one pre-tokenizer stage (o200k, gpt4o); IN holds texts separated
// by NUL bytes (n of them: n + 1 texts), OUT gets a line per text: the byte lengths of its pieces.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "formats/iquants.h"
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

// The element values of every entry of a grid (or the 128 IQ2/IQ3 sign
// bytes), one byte each, entries in order: what gguf-py's tables hold.
std::vector<unsigned char> grid_bytes(const std::string& name) {
    using namespace qlm::fmt;
    std::vector<unsigned char> out;
    auto add = [&](const auto* grid, size_t n) {
        for (size_t i = 0; i < n; ++i)
            for (size_t j = 0; j < sizeof(grid[0]); ++j) out.push_back((uint64_t(grid[i]) >> (8 * j)) & 0xff);
    };
    if (name == "IQ2_XXS") add(kIq2xxsGrid, 256);
    else if (name == "IQ2_XS") add(kIq2xsGrid, 512);
    else if (name == "IQ2_S") add(kIq2sGrid, 1024);
    else if (name == "IQ3_XXS") add(kIq3xxsGrid, 256);
    else if (name == "IQ3_S") add(kIq3sGrid, 512);
    else if (name == "IQ1_S") add(kIq1sGrid, 2048);
    else if (name == "KSIGNS")
        for (uint32_t i = 0; i < 128; ++i) out.push_back(iq2_sign_byte(i));
    else qlm::fail("unknown grid ", name);
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 4 && std::string(argv[1]) == "grid") {
        try {
            const auto g = grid_bytes(argv[2]);
            write_all(argv[3], g.data(), g.size());
        } catch (const qlm::Error& e) {
            std::fprintf(stderr, "oracle_helper: %s\n", e.what());
            return 1;
        }
        return 0;
    }
    if (argc != 5) {
        std::fprintf(stderr, "usage: %s dequant|quant TYPE IN OUT | pretok SPLIT IN OUT | grid NAME OUT\n", argv[0]);
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
