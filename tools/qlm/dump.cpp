// qlm dump FILE TENSOR -o OUT.npy — a tensor dequantized to float32 by the
// scalar reference code, written with its shape in NumPy order.
#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "npy.h"
#include "qlm/error.h"
#include "qlm/gguf.h"
#include "qlm/ops.h"

namespace qlm::cli {

Command add_dump(CLI::App& app) {
    struct Opts {
        std::string file, tensor, out;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = app.add_subcommand("dump", "Write a tensor, dequantized to float32, as a NumPy .npy file");
    sub->add_option("file", o->file, "GGUF file")->required();
    sub->add_option("tensor", o->tensor, "tensor name")->required();
    sub->add_option("-o,--output", o->out, "output .npy path")->required();
    return [o]() {
        const GgufReader r = GgufReader::open(o->file);
        const GgufTensor& t = r.tensor(o->tensor);
        check_tensor_alignment(t);
        std::vector<int64_t> shape(t.shape.rbegin(), t.shape.rend());
        NpyWriter npy(o->out, shape);
        const int64_t row_len = t.shape[0];
        const size_t row_bytes = row_size(t.type, row_len);
        std::vector<float> row(static_cast<size_t>(row_len));
        for (int64_t i = 0; i < t.rows(); ++i) {
            dequantize_row(t.type, t.data + size_t(i) * row_bytes, row.data(), row_len);
            npy.write(row.data(), row.size());
        }
        npy.close();
        return 0;
    };
}

}  // namespace qlm::cli
