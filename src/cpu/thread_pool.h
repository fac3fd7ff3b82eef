// A fixed pool of worker threads. run(n, f) calls f(task) for task in [0, n)
// across the workers and the calling thread, and returns when all are done.
// Which thread runs a task never changes a result: tasks own disjoint outputs.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace qlm::cpu {

class ThreadPool {
public:
    explicit ThreadPool(int threads);  // total threads including the caller
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const noexcept { return int(workers_.size()) + 1; }
    void run(int64_t n_tasks, const std::function<void(int64_t)>& f);
    // f(begin, end) over [0, n) in a few runs per thread: for many short
    // items (rows of a norm), where a task each costs more than the item.
    void run_ranges(int64_t n, const std::function<void(int64_t, int64_t)>& f) {
        const int64_t tasks = n < int64_t(size()) * 4 ? n : int64_t(size()) * 4;
        run(tasks, [&](int64_t t) { f(t * n / tasks, (t + 1) * n / tasks); });
    }

private:
    void drain();

    std::vector<std::thread> workers_;
    std::mutex mu_;
    std::condition_variable wake_, done_;
    // Waiters spin briefly on these before sleeping: a decode step runs a few
    // hundred short jobs, and a futex round trip per job costs more than the job.
    std::atomic<uint64_t> generation_{0};
    std::atomic<bool> stop_{false};
    // Every worker checks in once per generation, so none can still be
    // draining an old job when the next run() publishes a new one.
    std::atomic<int> checked_in_{0};
    const std::function<void(int64_t)>* job_ = nullptr;
    int64_t n_tasks_ = 0;
    std::atomic<int64_t> next_{0};
};

// Physical cores (not SMT siblings) of this machine, at least 1.
int physical_cores() noexcept;

}  // namespace qlm::cpu
