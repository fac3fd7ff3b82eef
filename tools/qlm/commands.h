// Subcommands of the qlm tool. Each registers its options on the CLI11 app and
// returns the callback to run when it was chosen.
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace qlm::cli {

using Command = std::function<int()>;

Command add_inspect(CLI::App& app);
Command add_dump(CLI::App& app);
Command add_bench(CLI::App& app);
Command add_logits(CLI::App& app);
Command add_run(CLI::App& app);
Command add_chat(CLI::App& app);
Command add_serve(CLI::App& app);
Command add_perplexity(CLI::App& app);
Command add_bench_model(CLI::App& bench);  // "bench model", under "bench"
Command add_bench_batch(CLI::App& bench);  // "bench batch", under "bench"
Command add_bench_moe(CLI::App& bench);    // "bench moe", under "bench"

}  // namespace qlm::cli
