// The public API: ChatTemplate and apply_chat_template (include/qlm/template.h).
#include "qlm/template.h"

#include <fstream>
#include <sstream>

#include "qlm/error.h"

#include "qlm/gguf.h"

#include "template/evaluator.h"
#include "template/parser.h"

namespace qlm {

ChatTemplate ChatTemplate::parse(std::string source) {
    ChatTemplate t;
    t.program_ = tmpl::parse_program(std::move(source));
    return t;
}

ChatTemplate ChatTemplate::from_gguf(const GgufReader& reader) {
    const std::string source = reader.get_string_or("tokenizer.chat_template", "");
    if (source.empty()) return parse(chatml_template_source());
    try {
        return parse(source);
    } catch (const TemplateError& e) {
        throw TemplateError(cat(reader.path(), ": tokenizer.chat_template: ", e.what()), e.line(), e.column(), false);
    }
}

ChatTemplate ChatTemplate::load(const GgufReader& reader, const std::string& override_file) {
    if (override_file.empty()) return from_gguf(reader);
    std::ifstream in(override_file, std::ios::binary);
    if (!in) fail(override_file, ": cannot open the chat template");
    std::ostringstream ss;
    ss << in.rdbuf();
    try {
        return parse(ss.str());
    } catch (const TemplateError& e) {
        throw TemplateError(cat(override_file, ": ", e.what()), e.line(), e.column(), false);
    }
}

const std::string& ChatTemplate::source() const { return program_->source; }

std::string ChatTemplate::render(const nlohmann::ordered_json& context, const TemplateOptions& options) const {
    if (!context.is_object()) throw TemplateError("the template context must be a JSON object", 0, 0, false);
    auto globals = std::make_shared<tmpl::Scope>();
    tmpl::add_globals(*globals, options);
    for (auto it = context.begin(); it != context.end(); ++it) {
        try {
            globals->vars[it.key()] = tmpl::Value::from_json(it.value());
        } catch (const tmpl::Failure& f) {
            throw TemplateError(cat("template context '", it.key(), "': ", f.what()), 0, 0, false);
        }
    }
    tmpl::Evaluator ev(*program_, options, globals);
    return ev.run();
}

std::string apply_chat_template(const ChatTemplate& tmpl, const nlohmann::ordered_json& messages, bool add_generation_prompt,
                                const std::string& bos_token, const std::string& eos_token, const nlohmann::ordered_json& extra,
                                const TemplateOptions& options) {
    nlohmann::ordered_json ctx = nlohmann::ordered_json::object();
    ctx["messages"] = messages;
    ctx["tools"] = nullptr;
    ctx["documents"] = nullptr;
    ctx["add_generation_prompt"] = add_generation_prompt;
    ctx["bos_token"] = bos_token;
    ctx["eos_token"] = eos_token;
    if (extra.is_object())
        for (auto it = extra.begin(); it != extra.end(); ++it) ctx[it.key()] = it.value();
    return tmpl.render(ctx, options);
}

const std::string& chatml_template_source() {
    static const std::string s =
        "{%- for message in messages -%}\n"
        "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}\n"
        "{%- endfor -%}\n"
        "{%- if add_generation_prompt -%}\n"
        "{{- '<|im_start|>assistant\\n' -}}\n"
        "{%- endif -%}\n";
    return s;
}

}  // namespace qlm
