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
    for (int i = 1; i < threads; ++i)
        workers_.emplace_back([this] {
            uint64_t seen = 0;
            for (;;) {
                for (int s = 0; s < kSpin && generation_.load(std::memory_order_acquire) == seen &&
                                !stop_.load(std::memory_order_relaxed);
                     ++s)
                    cpu_relax();
                {
                    std::unique_lock lock(mu_);
                    wake_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
                    if (stop_.load()) return;
                    seen = generation_.load();
                }
                drain();
                if (checked_in_.fetch_add(1, std::memory_order_acq_rel) + 1 == int(workers_.size())) {
                    std::lock_guard lock(mu_);
                    done_.notify_one();
                }
            }
        });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard lock(mu_);
        stop_.store(true);
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
}

// job_ and n_tasks_ are written only while no worker is between wake-up and check-in.
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
        checked_in_.store(0, std::memory_order_relaxed);
        generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    drain();
    const int n = int(workers_.size());
    for (int s = 0; s < kSpin && checked_in_.load(std::memory_order_acquire) != n; ++s) cpu_relax();
    if (checked_in_.load(std::memory_order_acquire) == n) return;
    std::unique_lock lock(mu_);
    done_.wait(lock, [&] { return checked_in_.load(std::memory_order_acquire) == n; });
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
