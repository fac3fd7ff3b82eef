// qlm — command-line front end. Errors go to stderr with exit status 1; bad
// usage exits with CLI11's status (106-ish); a corrupt file never crashes it.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <map>

#include "commands.h"
#include "qlm/error.h"

int main(int argc, char** argv) {
    CLI::App app{"qlm: run quantized language models from GGUF files"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "qlm 0.1.0");

    std::map<std::string, qlm::cli::Command> commands;
    auto add = [&](qlm::cli::Command (*f)(CLI::App&)) { return f(app); };
    commands["inspect"] = add(qlm::cli::add_inspect);
    commands["dump"] = add(qlm::cli::add_dump);
    commands["bench"] = add(qlm::cli::add_bench);
    commands["logits"] = add(qlm::cli::add_logits);
    commands["run"] = add(qlm::cli::add_run);
    commands["chat"] = add(qlm::cli::add_chat);
#ifdef QLM_HAVE_SERVER
    commands["serve"] = add(qlm::cli::add_serve);
#endif
    commands["perplexity"] = add(qlm::cli::add_perplexity);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    try {
        for (auto* sub : app.get_subcommands()) return commands.at(sub->get_name())();
    } catch (const qlm::Error& e) {
        std::fprintf(stderr, "qlm: error: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "qlm: internal error: %s\n", e.what());
        return 2;
    }
    return 0;
}
