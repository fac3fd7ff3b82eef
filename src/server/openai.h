// OpenAI request bodies -> engine requests, with every field checked (a wrong
// type or range is a BadRequest naming the field), and the error envelope.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "qlm/engine.h"
#include "qlm/tokenizer.h"

namespace qlm::server {

using ojson = nlohmann::ordered_json;

// A 4xx answer: OpenAI's {"error": {"message", "type", "param", "code"}}.
struct HttpError {
    int status = 400;
    std::string message, type = "invalid_request_error", param, code;
};
ojson error_body(const HttpError& e);
[[noreturn]] void bad_request(const std::string& param, const std::string& message, const std::string& code = {});

// The fields both endpoints share, parsed and checked.
struct Generation {
    int64_t max_tokens = -1;  // -1: up to the context
    SamplerOptions sampling;
    bool seeded = false;
    std::vector<std::string> stop;
    int n = 1;
    bool stream = false, include_usage = false;
    bool logprobs = false;
    int top_logprobs = 0;
    std::vector<std::pair<int32_t, float>> logit_bias;
    // Structured output: GBNF from `grammar`, or from `response_format`
    // (json_object, json_schema) / `json_schema`; empty: none.
    std::string grammar;
    std::string grammar_param;  // the request field it came from (for errors)
};
Generation parse_generation(const ojson& body, int64_t n_vocab, bool chat);

// response_format / grammar / json_schema -> GBNF (a 400 naming the field,
// and for a schema the keyword we do not support).
void parse_structured_output(const ojson& body, Generation& g);

// The prompts of /v1/completions: a string, a list of strings, a list of
// token ids or a list of lists of token ids (one choice set per prompt).
std::vector<std::vector<int32_t>> parse_prompts(const ojson& body, const Tokenizer& tok);

// The chat messages, checked (role and content), with list contents of text
// parts joined into one string as the templates expect.
ojson parse_messages(const ojson& body);

// Text that may still turn into a stop sequence is held back: returns how
// many leading bytes of `text` are safe to send, and sets `hit` to the
// position of a complete stop sequence (or npos).
size_t stop_safe_prefix(const std::string& text, const std::vector<std::string>& stops, size_t& hit);

}  // namespace qlm::server
