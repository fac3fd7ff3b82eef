// The per-op profile tables of qlm bench model / bench batch --profile
// (qlm/profile.h): one phase's op times summed over its runs (or steps).
#pragma once

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "qlm/profile.h"

namespace qlm::cli {

// Per-op times of one phase (pp or tg) summed over its timed runs.
struct PhaseProfile {
    std::map<std::pair<std::string, std::string>, ProfileEntry> ops;
    double wall = 0;
    int runs = 0;
    // the ops recorded on ctx since the last take (then cleared), over `runs` runs or steps
    void take(Context& ctx, double seconds, int runs_taken = 1) {
        for (const ProfileEntry& e : profile_entries(ctx)) {
            ProfileEntry& t = ops[{e.op, e.detail}];
            if (t.calls == 0) t.op = e.op, t.detail = e.detail;
            t.calls += e.calls, t.rows += e.rows, t.seconds += e.seconds;
        }
        reset_profile(ctx);
        wall += seconds;
        runs += runs_taken;
    }
    std::vector<ProfileEntry> sorted() const {
        std::vector<ProfileEntry> v;
        for (const auto& [k, e] : ops) v.push_back(e);
        std::stable_sort(v.begin(), v.end(), [](const ProfileEntry& a, const ProfileEntry& b) { return a.seconds > b.seconds; });
        return v;
    }
    double in_ops() const {
        double t = 0;
        for (const auto& [k, e] : ops) t += e.seconds;
        return t;
    }
};

// per_what: "run" (bench model) or "step" (bench batch)
inline void print_profile(const std::string& title, const PhaseProfile& p, const char* per_what = "run") {
    if (p.runs == 0) return;
    const double per = 1e3 / p.runs, total = p.wall * per;
    std::printf("\nprofile %s: %.2f ms per %s (%d %ss); matmul rows: weight (layers folded), type, n x k, path\n",
                title.c_str(), total, per_what, p.runs, per_what);
    std::printf("| op | detail | calls/%s | ms/%s | %% |\n|---|---|---|---|---|\n", per_what, per_what);
    for (const ProfileEntry& e : p.sorted())
        std::printf("| %s | %s | %.0f | %.3f | %.1f |\n", e.op.c_str(), e.detail.c_str(), double(e.calls) / p.runs,
                    e.seconds * per, 100 * e.seconds / p.wall);
    const double rest = p.wall - p.in_ops();
    std::printf("| outside ops | embedding, output, sampling, scheduling, thread hand-offs | | %.3f | %.1f |\n", rest * per,
                100 * rest / p.wall);
}

inline nlohmann::json profile_json(const PhaseProfile& p) {
    nlohmann::json rows = nlohmann::json::array();
    for (const ProfileEntry& e : p.sorted())
        rows.push_back({{"op", e.op}, {"detail", e.detail}, {"calls_per_run", double(e.calls) / p.runs},
                        {"ms_per_run", e.seconds * 1e3 / p.runs}, {"pct", 100 * e.seconds / p.wall}});
    return {{"runs", p.runs}, {"ms_per_run", p.wall * 1e3 / p.runs},
            {"outside_ops_ms_per_run", (p.wall - p.in_ops()) * 1e3 / p.runs}, {"ops", rows}};
}

}  // namespace qlm::cli
