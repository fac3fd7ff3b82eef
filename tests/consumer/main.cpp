// A consumer of the installed qlm package: opens a GGUF file, prints its
// architecture and layer count, and runs one forward step of a session.
#include <cstdio>
#include <vector>

#include "qlm/error.h"
#include "qlm/model.h"
#include "qlm/ops.h"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: consumer MODEL.gguf\n");
        return 2;
    }
    try {
        qlm::Context ctx(qlm::ContextOptions{std::nullopt, 1});
        auto model = qlm::Model::load(argv[1]);
        qlm::Session session(*model, ctx, qlm::SessionOptions{});
        std::vector<float> logits(static_cast<size_t>(model->config().n_vocab));
        const std::vector<int32_t> prompt = {1, 2, 3};
        session.eval(prompt, logits.data());
        std::printf("%s %lld layers, isa %s, logit[0] finite: %d\n", model->config().arch_name.c_str(),
                    (long long)model->config().n_layer, qlm::isa_name(ctx.isa()), logits[0] == logits[0]);
        return 0;
    } catch (const qlm::Error& e) {
        std::fprintf(stderr, "consumer: %s\n", e.what());
        return 1;
    }
}
