// The start-up every front end shares (qlm run, chat, serve, perplexity,
// logits, bench): a context with its instruction set and backend, the model,
// and, where asked, its tokenizer and chat template (the GGUF's, a file's,
// or ChatML when the model has none). Errors name the option or the file.
#pragma once

#include <memory>
#include <string>

#include "qlm/model.h"
#include "qlm/ops.h"
#include "qlm/template.h"
#include "qlm/tokenizer.h"

namespace qlm {

// The CPU context (kernels and threads for host work; threads 0: physical
// cores; isa "": the best this CPU runs) and, for a backend other than ""
// or "cpu", that backend behind it (qlm/backend.h make_backend).
std::unique_ptr<Context> make_context(int threads, const std::string& isa = "", const std::string& backend = "");

struct StartupOptions {
    std::string model_path;
    int threads = 0;
    std::string isa;
    std::string backend;
    LoadOptions load;
    bool tokenizer = true;           // build the tokenizer; its vocabulary must match the model's
    bool chat_template = false;      // load the chat template
    std::string chat_template_file;  // instead of the GGUF's tokenizer.chat_template
};

struct Started {
    std::unique_ptr<Context> ctx;
    std::unique_ptr<Model> model;
    std::unique_ptr<Tokenizer> tok;      // null unless StartupOptions::tokenizer
    std::unique_ptr<ChatTemplate> chat;  // null unless StartupOptions::chat_template
};

Started start(const StartupOptions& opts);

}  // namespace qlm
