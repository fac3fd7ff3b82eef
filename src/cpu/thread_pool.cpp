#include "cpu/thread_pool.h"

#include <fstream>
#include <set>
#include <string>

namespace qlm::cpu {

namespace {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

// About 20-50 us of polling before a waiter goes to sleep.
constexpr int kSpin = 4000;

}  // namespace

ThreadPool::ThreadPool(int threads) {
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { worker(); });
}

void ThreadPool::worker() {
    const auto gen = [](uint64_t v) { return uint32_t(v >> 32); };
    uint32_t seen = 0;  // the generation before the first job (not the current one: a job may be open already)
    for (;;) {
        for (int s = 0; s < kSpin && gen(state_.load(std::memory_order_acquire)) == seen &&
                        !stop_.load(std::memory_order_relaxed);
             ++s)
            cpu_relax();
        if (gen(state_.load(std::memory_order_acquire)) == seen) {
            std::unique_lock lock(mu_);
            wake_.wait(lock, [&] { return stop_.load() || gen(state_.load()) != seen; });
        }
        if (stop_.load()) return;
        // Enter the newest job if it is still open; a job closed meanwhile
        // (the caller ran all its tasks) is skipped.
        uint64_t v = state_.load(std::memory_order_acquire);
        seen = gen(v);
        bool entered = false;
        while (gen(v) == seen && !(v & kClosed))
            if (state_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
                entered = true;
                break;
            }
        if (!entered) continue;
        drain();
        const uint64_t before = state_.fetch_sub(1, std::memory_order_acq_rel);
        if ((before & kClosed) && (before & kInside) == 1) {  // the caller may be asleep waiting for us
            std::lock_guard lock(mu_);
            done_.notify_one();
        }
    }
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard lock(mu_);
        stop_.store(true);
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
}

// job_ and n_tasks_ are written only while the job is closed with no worker inside.
void ThreadPool::drain() {
    for (int64_t t; (t = next_.fetch_add(1, std::memory_order_relaxed)) < n_tasks_;) (*job_)(t);
}

void ThreadPool::run(int64_t n_tasks, const std::function<void(int64_t)>& f) {
    if (n_tasks <= 0) return;
    if (workers_.empty() || n_tasks == 1) {
        for (int64_t t = 0; t < n_tasks; ++t) f(t);
        return;
    }
    {
        std::lock_guard lock(mu_);
        job_ = &f;
        n_tasks_ = n_tasks;
        next_.store(0, std::memory_order_relaxed);
        // A new generation, open, nobody inside (the last job was closed and emptied).
        const uint64_t g = (state_.load(std::memory_order_relaxed) >> 32) + 1;
        state_.store(g << 32, std::memory_order_release);
    }
    wake_.notify_all();
    drain();
    // Every task is claimed: close the job, then wait for the workers inside
    // to finish theirs.
    const uint64_t v = state_.fetch_or(kClosed, std::memory_order_acq_rel);
    if ((v & kInside) == 0) return;
    for (int s = 0; s < kSpin; ++s) {
        if ((state_.load(std::memory_order_acquire) & kInside) == 0) return;
        cpu_relax();
    }
    std::unique_lock lock(mu_);
    done_.wait(lock, [&] { return (state_.load(std::memory_order_acquire) & kInside) == 0; });
}

int physical_cores() noexcept {
    // Distinct (package, core) pairs from sysfs; fall back to hardware_concurrency.
    std::set<std::string> cores;
    for (unsigned cpu = 0; cpu < 4096; ++cpu) {
        const std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
        std::ifstream core(base + "core_id"), pkg(base + "physical_package_id");
        if (!core) break;
        std::string c, p;
        core >> c;
        pkg >> p;
        cores.insert(p + ":" + c);
    }
    if (!cores.empty()) return int(cores.size());
    const unsigned n = std::thread::hardware_concurrency();
    return n ? int(n) : 1;
}

}  // namespace qlm::cpu
