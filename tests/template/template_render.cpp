// Test helper for the jinja2 oracle (tests/template/test_template_oracle.py):
//   template_render CASES.json
// CASES.json: [{"template": PATH, "messages": [...], "add_generation_prompt": bool,
//               "bos_token": str, "eos_token": str, "extra": {...}, "now": epoch}, ...]
// Prints a JSON array, one {"output": str} or {"error": str, "raised": bool} per case.
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "qlm/template.h"

namespace {

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot open " + path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: template_render CASES.json\n";
        return 2;
    }
    try {
        const auto cases = nlohmann::ordered_json::parse(read_file(argv[1]));
        std::map<std::string, std::shared_ptr<qlm::ChatTemplate>> parsed;
        std::map<std::string, std::string> parse_errors;
        nlohmann::ordered_json results = nlohmann::ordered_json::array();
        for (const auto& c : cases) {
            const std::string path = c.at("template");
            if (!parsed.count(path) && !parse_errors.count(path)) {
                try {
                    parsed[path] = std::make_shared<qlm::ChatTemplate>(qlm::ChatTemplate::parse(read_file(path)));
                } catch (const qlm::Error& e) {
                    parse_errors[path] = e.what();
                }
            }
            if (parse_errors.count(path)) {
                results.push_back({{"error", "parse: " + parse_errors[path]}, {"raised", false}});
                continue;
            }
            qlm::TemplateOptions opt;
            if (c.contains("now")) opt.now = std::time_t(c["now"].get<int64_t>());
            try {
                const std::string out = qlm::apply_chat_template(
                    *parsed[path], c.at("messages"), c.value("add_generation_prompt", false), c.value("bos_token", ""),
                    c.value("eos_token", ""), c.value("extra", nlohmann::ordered_json::object()), opt);
                results.push_back({{"output", out}});
            } catch (const qlm::TemplateError& e) {
                results.push_back({{"error", e.what()}, {"raised", e.raised()}});
            }
        }
        std::cout << results.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
    } catch (const std::exception& e) {
        std::cerr << "template_render: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
