// qlm logits -m FILE --tokens-file IDS -o OUT.npy — teacher forcing: runs the
// given token ids through the model and writes every position's logits
// (float32, [n_tokens, n_vocab]). The oracle tests compare them with llama.cpp.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "model_common.h"
#include "npy.h"
#include "qlm/error.h"
#include "qlm/model.h"

namespace qlm::cli {

namespace {

std::vector<int32_t> read_ids(const std::string& path) {
    std::ifstream in(path);
    if (!in) fail(path, ": cannot open");
    std::vector<int32_t> ids;
    std::string word;
    while (in >> word) {
        size_t used = 0;
        long long v = 0;
        try {
            v = std::stoll(word, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != word.size() || v < 0 || v > INT32_MAX)
            fail(path, ": token ", ids.size(), ": '", word, "' is not a token id");
        ids.push_back(int32_t(v));
    }
    if (ids.empty()) fail(path, ": no token ids");
    return ids;
}

}  // namespace

Command add_logits(CLI::App& app) {
    struct Opts {
        std::string model, tokens, out, isa, kv_type = "f16";
        std::string backend = "cpu";
        int64_t n_ctx = 0, n_batch = 512;
        int threads = 0;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = app.add_subcommand("logits", "Run token ids through a model and write all logits as .npy");
    sub->add_option("-m,--model", o->model, "GGUF model")->required();
    sub->add_option("--tokens-file", o->tokens, "file of whitespace-separated token ids")->required();
    sub->add_option("-o,--output", o->out, "output .npy path")->required();
    sub->add_option("-c,--ctx-size", o->n_ctx, "context size (default: the number of tokens)");
    sub->add_option("-b,--batch-size", o->n_batch, "tokens per forward chunk");
    sub->add_option("-t,--threads", o->threads, "threads (default: physical cores)");
    sub->add_option("--kv-type", o->kv_type, "KV cache type (f16, f32)")->capture_default_str();
    sub->add_option("--isa", o->isa, "force an instruction set (scalar, avx2, avx512, neon)");
    add_backend_option(*sub, o->backend);
    return [o]() {
        const std::vector<int32_t> ids = read_ids(o->tokens);
        StartupOptions start_opts = startup_options(*o);
        start_opts.tokenizer = false;  // token ids in
        Started st = start(start_opts);
        Context& ctx = *st.ctx;
        auto& model = st.model;
        SessionOptions so;
        so.n_ctx = o->n_ctx > 0 ? o->n_ctx : int64_t(ids.size());
        so.n_batch = o->n_batch;
        so.kv_type = kv_type_from_name(o->kv_type);
        Session session(*model, ctx, so);
        const int64_t n_vocab = model->config().n_vocab;
        std::vector<float> logits(ids.size() * size_t(n_vocab));
        session.eval(ids, logits.data(), true);
        NpyWriter npy(o->out, {int64_t(ids.size()), n_vocab});
        npy.write(logits.data(), logits.size());
        npy.close();
        return 0;
    };
}

}  // namespace qlm::cli
