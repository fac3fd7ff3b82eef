// Per-op timing of a Context (qlm/profile.h).
#include "ops/profile.h"

#include <algorithm>
#include <cctype>

namespace qlm {

void Profile::add(const std::string& op, const std::string& detail, int64_t rows, double seconds) {
    ProfileEntry& e = entries[{op, detail}];
    if (e.calls == 0) e.op = op, e.detail = detail;
    ++e.calls;
    e.rows += rows;
    e.seconds += seconds;
}

std::string fold_layer(const std::string& name) {
    if (name.rfind("blk.", 0) != 0) return name;
    size_t j = 4;
    while (j < name.size() && std::isdigit(static_cast<unsigned char>(name[j]))) ++j;
    return j > 4 ? "blk.*" + name.substr(j) : name;
}

void set_profiling(Context& ctx, bool on) {
    auto& c = ctx.impl();
    if (on && !c.profile) c.profile = std::make_unique<Profile>();
    if (!on) c.profile.reset();
}

void reset_profile(Context& ctx) {
    if (ctx.impl().profile) ctx.impl().profile->entries.clear();
}

std::vector<ProfileEntry> profile_entries(const Context& ctx) {
    std::vector<ProfileEntry> out;
    if (const Profile* p = ctx.impl().profile.get())
        for (const auto& [key, e] : p->entries) out.push_back(e);
    std::stable_sort(out.begin(), out.end(), [](const ProfileEntry& a, const ProfileEntry& b) { return a.seconds > b.seconds; });
    return out;
}

}  // namespace qlm
