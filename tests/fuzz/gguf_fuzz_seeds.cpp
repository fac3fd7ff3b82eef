// Writes the fuzz seed corpus: the valid sample files and every crafted
// corrupt file of the test table (tests/gguf/gguf_cases.cpp), one file each.
//   gguf_fuzz_seeds OUTDIR
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "gguf/gguf_cases.h"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    const std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);
    size_t n = 0, bytes = 0;
    auto put = [&](const std::string& name, const std::vector<uint8_t>& b) {
        std::ofstream out(dir / (name + ".gguf"), std::ios::binary);
        out.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
        if (!out) {
            std::fprintf(stderr, "cannot write %s\n", (dir / name).c_str());
            std::exit(1);
        }
        ++n, bytes += b.size();
    };
    for (const auto& f : qlm::test::valid_samples()) put("valid_" + f.name, f.bytes);
    for (const auto& c : qlm::test::corrupt_cases()) put("corrupt_" + c.name, c.bytes);
    std::printf("wrote %zu seed files (%zu bytes) to %s\n", n, bytes, dir.c_str());
    return 0;
}
