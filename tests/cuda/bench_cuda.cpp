// qlm_cuda_bench [--types Q4_0,Q4_K] [--m 1,8,512] [--shape 4096x4096] [--reps N] [--device D]
// Device-to-device copy bandwidth, then matmul time and weight GB/s per type
// and batch size (weight set >= 4x L2, cycled). Stand-in until `qlm bench
// kernels --device cuda` calls cuda_bench_kernels.
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>

#include "qlm/cuda.h"
#include "qlm/error.h"

namespace {

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    for (std::string part; std::getline(ss, part, ',');)
        if (!part.empty()) out.push_back(part);
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        qlm::CudaBenchOptions o;
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            const auto value = [&]() -> std::string {
                if (i + 1 >= argc) qlm::fail(a, ": missing value");
                return argv[++i];
            };
            if (a == "--types") {
                for (const auto& t : split(value())) {
                    const auto ty = qlm::type_from_name(t);
                    if (!ty) qlm::fail("--types: unknown type '", t, "'");
                    o.types.push_back(*ty);
                }
            } else if (a == "--m") {
                o.ms.clear();
                for (const auto& m : split(value())) o.ms.push_back(std::stoll(m));
            } else if (a == "--shape") {
                const std::string s = value();
                const auto x = s.find('x');
                if (x == std::string::npos) qlm::fail("--shape: expected NxK, got '", s, "'");
                o.n = std::stoll(s.substr(0, x));
                o.k = std::stoll(s.substr(x + 1));
            } else if (a == "--reps") {
                o.reps = std::stoi(value());
            } else if (a == "--device") {
                o.device = std::stoi(value());
            } else {
                qlm::fail("unknown option '", a, "' (--types, --m, --shape, --reps, --device)");
            }
        }
        if (!qlm::cuda_available()) qlm::fail("no CUDA device");
        qlm::print_cuda_bench(qlm::cuda_bench_kernels(o), std::cout);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "qlm_cuda_bench: %s\n", e.what());
        return 1;
    }
}
