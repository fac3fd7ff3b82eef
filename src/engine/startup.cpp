// The one start-up of the front ends (qlm/startup.h).
#include "qlm/startup.h"

#include "qlm/backend.h"
#include "qlm/error.h"

namespace qlm {

std::unique_ptr<Context> make_context(int threads, const std::string& isa, const std::string& backend) {
    ContextOptions co;
    co.threads = threads;
    if (!isa.empty()) {
        co.isa = isa_from_name(isa);
        if (!co.isa) fail("--isa: unknown instruction set '", isa, "' (scalar, avx2, avx512, neon)");
    }
    auto ctx = std::make_unique<Context>(co);
    if (!backend.empty() && backend != "cpu") ctx->set_backend(make_backend(backend, *ctx));
    return ctx;
}

Started start(const StartupOptions& o) {
    Started s;
    s.ctx = make_context(o.threads, o.isa, o.backend);
    s.model = Model::load(o.model_path, o.load);
    if (o.tokenizer) {
        s.tok = std::make_unique<Tokenizer>(Tokenizer::from_gguf(s.model->gguf()));
        if (s.tok->n_vocab() != s.model->config().n_vocab)
            fail(o.model_path, ": the tokenizer has ", s.tok->n_vocab(), " tokens but token_embd.weight has ",
                 s.model->config().n_vocab, " rows");
    }
    if (o.chat_template)
        s.chat = std::make_unique<ChatTemplate>(ChatTemplate::load(s.model->gguf(), o.chat_template_file));
    return s;
}

}  // namespace qlm
