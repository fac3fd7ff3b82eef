// The OpenAPI 3.0 description of what qlm serve answers (GET /openapi.json);
// tests/server/test_server.py checks it against the running server.
namespace qlm::server {

extern const char* const kOpenApiSpec;
const char* const kOpenApiSpec = R"JSON({
  "openapi": "3.0.3",
  "info": {"title": "qlm serve", "version": "0.1.0",
           "description": "OpenAI-compatible completions on qlm's batching engine"},
  "servers": [{"url": "http://127.0.0.1:8080"}],
  "components": {
    "schemas": {
      "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object",
        "required": ["message", "type"], "properties": {
          "message": {"type": "string"}, "type": {"type": "string"},
          "param": {"type": "string", "nullable": true}, "code": {"type": "string", "nullable": true}}}}},
      "Stop": {"oneOf": [{"type": "string", "minLength": 1}, {"type": "array", "maxItems": 4, "items": {"type": "string", "minLength": 1}}]},
      "Usage": {"type": "object", "properties": {"prompt_tokens": {"type": "integer"}, "completion_tokens": {"type": "integer"},
                "total_tokens": {"type": "integer"}}},
      "Sampling": {"type": "object", "properties": {
        "max_tokens": {"type": "integer", "minimum": 0, "maximum": 1073741824},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "top_p": {"type": "number", "exclusiveMinimum": true, "minimum": 0, "maximum": 1},
        "top_k": {"type": "integer", "minimum": 0},
        "min_p": {"type": "number", "minimum": 0, "maximum": 1},
        "frequency_penalty": {"type": "number", "minimum": -2, "maximum": 2},
        "presence_penalty": {"type": "number", "minimum": -2, "maximum": 2},
        "repeat_penalty": {"type": "number", "minimum": 0.01, "maximum": 10},
        "seed": {"type": "integer"},
        "n": {"type": "integer", "minimum": 1, "maximum": 16},
        "stream": {"type": "boolean"},
        "stream_options": {"type": "object", "properties": {"include_usage": {"type": "boolean"}}},
        "stop": {"$ref": "#/components/schemas/Stop"},
        "logit_bias": {"type": "object", "additionalProperties": {"type": "number", "minimum": -100, "maximum": 100}},
        "user": {"type": "string"}}}
    },
    "responses": {
      "BadRequest": {"description": "a malformed request (the field is named)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Unauthorized": {"description": "missing or wrong API key", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "TooLarge": {"description": "the body is over --max-body", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Busy": {"description": "loading, draining (after SIGTERM; with Retry-After), or the queue is over --max-queue", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    }
  },
  "paths": {
    "/health": {"get": {"responses": {
      "200": {"description": "ready", "content": {"application/json": {"schema": {"type": "object", "properties": {"status": {"type": "string"}}}}}},
      "503": {"$ref": "#/components/responses/Busy"}}}},
    "/ready": {"get": {"description": "readiness: 200 only when the model is loaded and the server is not draining",
      "responses": {
      "200": {"description": "ready", "content": {"application/json": {"schema": {"type": "object", "properties": {"status": {"type": "string"}}}}}},
      "503": {"$ref": "#/components/responses/Busy"}}}},
    "/v1/completions/render": {"post": {"description": "the token ids the engine would prefill for each prompt (vLLM's render route)",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["prompt"], "properties": {
          "model": {"type": "string"},
          "prompt": {"oneOf": [{"type": "string"}, {"type": "array", "minItems": 1, "maxItems": 16, "items": {"type": "string"}},
                               {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 0}}]}}}}}},
      "responses": {"200": {"description": "one object per prompt", "content": {"application/json": {"schema": {"type": "array", "items": {
          "type": "object", "properties": {"token_ids": {"type": "array", "items": {"type": "integer"}}, "prompt": {"type": "string"}}}}}}},
        "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"},
        "413": {"$ref": "#/components/responses/TooLarge"}, "503": {"$ref": "#/components/responses/Busy"}}}},
    "/v1/chat/completions/render": {"post": {"description": "the rendered chat template and its token ids, as the engine would prefill them (vLLM's render route)",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["messages"], "properties": {
          "model": {"type": "string"}, "messages": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["role"]}},
          "tools": {"type": "array", "items": {"type": "object"}}, "chat_template_kwargs": {"type": "object"}}}}}},
      "responses": {"200": {"description": "the prompt", "content": {"application/json": {"schema": {"type": "object", "properties": {
          "token_ids": {"type": "array", "items": {"type": "integer"}}, "prompt": {"type": "string"}, "model": {"type": "string"}}}}}},
        "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"},
        "413": {"$ref": "#/components/responses/TooLarge"}, "503": {"$ref": "#/components/responses/Busy"}}}},
    "/v1/models": {"get": {"responses": {
      "200": {"description": "the served model", "content": {"application/json": {"schema": {"type": "object", "required": ["object", "data"],
        "properties": {"object": {"type": "string"}, "data": {"type": "array", "items": {"type": "object", "required": ["id", "object"],
          "properties": {"id": {"type": "string"}, "object": {"type": "string"}}}}}}}}},
      "401": {"$ref": "#/components/responses/Unauthorized"}, "503": {"$ref": "#/components/responses/Busy"}}}},
    "/v1/completions": {"post": {
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"allOf": [{"$ref": "#/components/schemas/Sampling"},
        {"type": "object", "required": ["prompt"], "properties": {
          "model": {"type": "string"},
          "prompt": {"oneOf": [{"type": "string"}, {"type": "array", "minItems": 1, "maxItems": 16, "items": {"type": "string"}},
                               {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 0}}]},
          "logprobs": {"type": "integer", "minimum": 0, "maximum": 5}}}]}}}},
      "responses": {
        "200": {"description": "a text_completion (or its SSE stream)", "content": {
          "application/json": {"schema": {"type": "object", "required": ["id", "object", "choices"], "properties": {
            "id": {"type": "string"}, "object": {"type": "string"}, "choices": {"type": "array"}, "usage": {"$ref": "#/components/schemas/Usage"}}}},
          "text/event-stream": {"schema": {"type": "object", "properties": {"event": {"type": "string"}, "data": {"type": "string"}}}}}},
        "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"},
        "413": {"$ref": "#/components/responses/TooLarge"}, "503": {"$ref": "#/components/responses/Busy"}}}},
    "/v1/chat/completions": {"post": {
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"allOf": [{"$ref": "#/components/schemas/Sampling"},
        {"type": "object", "required": ["messages"], "properties": {
          "model": {"type": "string"},
          "messages": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["role"], "properties": {
            "role": {"type": "string", "enum": ["system", "developer", "user", "assistant", "tool"]},
            "content": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "object", "required": ["type", "text"],
              "properties": {"type": {"type": "string", "enum": ["text"]}, "text": {"type": "string"}}}}], "nullable": true}}}},
          "max_completion_tokens": {"type": "integer", "minimum": 0, "maximum": 1073741824},
          "logprobs": {"type": "boolean"}, "top_logprobs": {"type": "integer", "minimum": 0, "maximum": 20},
          "response_format": {"type": "object", "description": "text, json_object, or json_schema {name, schema, strict}: the answer is constrained by a grammar; an unsupported schema keyword is a 400 (code unsupported_schema_keyword)",
            "required": ["type"], "properties": {"type": {"type": "string", "enum": ["text", "json_object", "json_schema"]}, "json_schema": {"type": "object"}}},
          "grammar": {"type": "string", "description": "a GBNF grammar (as llama.cpp accepts it) for the answer"},
          "tools": {"type": "array", "items": {"type": "object", "required": ["type", "function"], "properties": {
            "type": {"type": "string", "enum": ["function"]}, "function": {"type": "object", "required": ["name"], "properties": {
              "name": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"}, "description": {"type": "string"}, "parameters": {"type": "object"}}}}}},
          "tool_choice": {"oneOf": [{"type": "string", "enum": ["auto", "none", "required"]}, {"type": "object"}]},
          "parallel_tool_calls": {"type": "boolean"},
          "reasoning_format": {"type": "string", "enum": ["auto", "none"]},
          "reasoning_effort": {"type": "string"},
          "chat_template_kwargs": {"type": "object"}}}]}}}},
      "responses": {
        "200": {"description": "a chat.completion (or its SSE stream)", "content": {
          "application/json": {"schema": {"type": "object", "required": ["id", "object", "choices"], "properties": {
            "id": {"type": "string"}, "object": {"type": "string"}, "choices": {"type": "array"}, "usage": {"$ref": "#/components/schemas/Usage"}}}},
          "text/event-stream": {"schema": {"type": "object", "properties": {"event": {"type": "string"}, "data": {"type": "string"}}}}}},
        "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"},
        "413": {"$ref": "#/components/responses/TooLarge"}, "503": {"$ref": "#/components/responses/Busy"}}}},
    "/v1/responses": {"post": {"description": "OpenAI Responses: input (text or message / function_call / function_call_output items), instructions, tools, tool_choice, text.format, max_output_tokens, previous_response_id, stream (typed events)",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["input"], "properties": {
        "input": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]}, "instructions": {"type": "string"},
        "max_output_tokens": {"type": "integer", "minimum": 0, "maximum": 4096}, "previous_response_id": {"type": "string"},
        "stream": {"type": "boolean"}, "tools": {"type": "array", "items": {"type": "object"}}, "text": {"type": "object"}}}}}},
      "responses": {"200": {"description": "a response object (or its SSE events)", "content": {"application/json": {"schema": {"type": "object"}},
          "text/event-stream": {"schema": {"type": "object", "properties": {"event": {"type": "string"}, "data": {"type": "string"}}}}}},
        "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"},
        "413": {"$ref": "#/components/responses/TooLarge"}, "503": {"$ref": "#/components/responses/Busy"}}}},
    "/v1/messages": {"post": {"description": "Anthropic Messages: system, messages with text / tool_use / tool_result blocks, tools (input_schema), tool_choice, stop_sequences, stream (Anthropic events); errors in Anthropic's envelope",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["max_tokens", "messages"], "properties": {
        "max_tokens": {"type": "integer", "minimum": 1, "maximum": 4096}, "messages": {"type": "array", "items": {"type": "object"}},
        "system": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]}, "stream": {"type": "boolean"},
        "tools": {"type": "array", "items": {"type": "object"}}}}}}},
      "responses": {"200": {"description": "a message (or its SSE events)", "content": {"application/json": {"schema": {"type": "object"}},
          "text/event-stream": {"schema": {"type": "object", "properties": {"event": {"type": "string"}, "data": {"type": "string"}}}}}},
        "400": {"description": "Anthropic's error envelope", "content": {"application/json": {"schema": {"type": "object"}}}},
        "401": {"$ref": "#/components/responses/Unauthorized"}, "413": {"$ref": "#/components/responses/TooLarge"},
        "503": {"$ref": "#/components/responses/Busy"}}}},
    "/v1/messages/count_tokens": {"post": {
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["messages"], "properties": {
        "messages": {"type": "array", "items": {"type": "object"}}, "system": {"type": "string"}, "tools": {"type": "array", "items": {"type": "object"}}}}}}},
      "responses": {"200": {"description": "the prompt's token count", "content": {"application/json": {"schema": {"type": "object",
          "properties": {"input_tokens": {"type": "integer"}}}}}},
        "400": {"description": "Anthropic's error envelope", "content": {"application/json": {"schema": {"type": "object"}}}},
        "401": {"$ref": "#/components/responses/Unauthorized"}, "503": {"$ref": "#/components/responses/Busy"}}}},
    "/tokenize": {"post": {
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["content"],
        "properties": {"content": {"type": "string"}, "add_special": {"type": "boolean"}}}}}},
      "responses": {"200": {"description": "token ids", "content": {"application/json": {"schema": {"type": "object",
        "properties": {"tokens": {"type": "array", "items": {"type": "integer"}}}}}}},
        "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}}}},
    "/detokenize": {"post": {
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["tokens"],
        "properties": {"tokens": {"type": "array", "items": {"type": "integer", "minimum": 0}}}}}}},
      "responses": {"200": {"description": "text", "content": {"application/json": {"schema": {"type": "object",
        "properties": {"content": {"type": "string"}}}}}},
        "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}}}},
    "/metrics": {"get": {"responses": {"200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}},
      "401": {"$ref": "#/components/responses/Unauthorized"}}}},
    "/openapi.json": {"get": {"responses": {"200": {"description": "this document", "content": {"application/json": {"schema": {"type": "object"}}}}}}}
  }
})JSON";

}  // namespace qlm::server
