// tool_parse TEMPLATE [CHUNK [--inside] [TOOL...]]: the tool-call format
// qlm serve picks for a chat template, and the parse of a model output
// (stdin) into reasoning (templates with <think>; --inside: the prompt opened
// the block), content and tool calls, fed in chunks of CHUNK bytes (as tokens
// arrive), as JSON on stdout — for test_tool_parsing.py.
#include <fstream>
#include <iostream>
#include <sstream>

#include "server/tools.h"

using namespace qlm::server;

int main(int argc, char** argv) {
    if (argc < 2) return 64;
    std::ifstream in(argv[1], std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    const ToolFormat f = detect_tool_format(ss.str());
    std::ostringstream text;
    text << std::cin.rdbuf();
    const std::string out = text.str();
    const size_t chunk = argc >= 3 ? size_t(std::stoul(argv[2])) : out.size() + 1;
    std::vector<std::string> known;
    bool inside = false;
    for (int i = 3; i < argc; ++i) {
        if (std::string(argv[i]) == "--inside") inside = true;
        else known.push_back(argv[i]);
    }
    ToolCallParser p(f, known, "call_");
    ReasoningSplitter think(inside);
    const bool thinks = template_thinks(ss.str());
    std::string content, reasoning;
    std::vector<ToolDelta> deltas;
    auto feed = [&](const std::string& piece, bool final) {
        std::string answer = piece;
        if (thinks) {
            answer.clear();
            think.feed(piece, final, reasoning, answer);
        }
        p.feed(answer, final, content, deltas);
    };
    for (size_t i = 0; i < out.size(); i += chunk) feed(out.substr(i, chunk), false);
    feed("", true);
    ojson calls = ojson::array(), streamed = ojson::array();
    for (const ToolCall& c : p.calls()) calls.push_back({{"id", c.id}, {"name", c.name}, {"arguments", c.arguments}});
    for (const ToolDelta& d : deltas) {
        if (d.first) {
            if (d.index != int(streamed.size())) return std::cerr << "delta index out of order\n", 1;
            streamed.push_back({{"id", d.id}, {"name", d.name}, {"arguments", ""}});
        } else {
            if (d.index >= int(streamed.size())) return std::cerr << "arguments before the call's first delta\n", 1;
            streamed[size_t(d.index)]["arguments"] = streamed[size_t(d.index)]["arguments"].get<std::string>() + d.arguments;
        }
    }
    std::string name = tool_format_name(f);
    name = name.substr(0, name.find(' '));
    std::cout << ojson{{"format", name}, {"content", content}, {"reasoning", reasoning}, {"calls", calls}, {"streamed", streamed}}.dump() << "\n";
    return 0;
}
