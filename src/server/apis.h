// The other APIs on the same engine: Anthropic Messages (/v1/messages) and
// OpenAI Responses (/v1/responses). Each request is translated into a chat
// completions body, runs as one, and its answer (or its stream of chunks) is
// translated back: an adapter turns each chat.completion(.chunk) object into
// the API's own JSON or server-sent events.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "server/openai.h"

namespace qlm::server {

class ApiAdapter {
public:
    virtual ~ApiAdapter() = default;
    virtual ojson final_body(const ojson& chat_completion) { return chat_completion; }
    virtual std::string chunk(const ojson& chat_chunk);  // SSE text (may be empty)
    virtual std::string done() { return "data: [DONE]\n\n"; }
    virtual bool wants_usage() const { return false; }  // needs the usage chunk at the end
};

// Anthropic Messages -> chat completions body (checked; HttpError names the field).
ojson anthropic_to_chat(const ojson& body);
std::unique_ptr<ApiAdapter> make_anthropic_adapter(const std::string& model_id, int64_t input_tokens);
ojson anthropic_error(const HttpError& e);

// The Responses API keeps finished responses (bounded) for previous_response_id.
struct ResponseStore {
    std::mutex mu;
    std::map<std::string, ojson> items;  // id -> the conversation up to and including it (chat messages)
    std::deque<std::string> order;
    size_t capacity = 256;
    void put(const std::string& id, ojson messages);
    bool get(const std::string& id, ojson& messages);
};
ojson responses_to_chat(const ojson& body, ResponseStore& store);
std::unique_ptr<ApiAdapter> make_responses_adapter(const std::string& model_id, int64_t created, ojson request_messages,
                                                   ResponseStore& store);

}  // namespace qlm::server
