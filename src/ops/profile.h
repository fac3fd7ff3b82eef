// The per-op timers behind qlm/profile.h. Private to src/ops/.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <utility>

#include "ops/context_impl.h"
#include "qlm/profile.h"

namespace qlm {

struct Profile {
    std::map<std::pair<std::string, std::string>, ProfileEntry> entries;
    void add(const std::string& op, const std::string& detail, int64_t rows, double seconds);
};

using ProfileClock = std::chrono::steady_clock;

// Times its scope into ctx's profile (when on); detail() builds the key only then.
template <class Detail>
class ProfileScope {
public:
    ProfileScope(Context::Impl& c, const char* op, int64_t rows, Detail detail)
        : c_(c), op_(op), rows_(rows), detail_(std::move(detail)) {
        if (c_.profile) t0_ = ProfileClock::now();
    }
    ~ProfileScope() {
        if (c_.profile)
            c_.profile->add(op_, detail_(), rows_, std::chrono::duration<double>(ProfileClock::now() - t0_).count());
    }
    ProfileScope(const ProfileScope&) = delete;
    ProfileScope& operator=(const ProfileScope&) = delete;

private:
    Context::Impl& c_;
    const char* op_;
    int64_t rows_;
    Detail detail_;
    ProfileClock::time_point t0_{};
};

// "blk.12.ffn_up.weight" -> "blk.*.ffn_up.weight": one row per weight role.
std::string fold_layer(const std::string& name);

}  // namespace qlm
