// A fixed pool of worker threads. run(n, f) calls f(task) for task in [0, n)
// across the workers and the calling thread, and returns when all are done.
// Which thread runs a task never changes a result: tasks own disjoint outputs.
//
// run() waits only for workers that joined the job (and so may hold a task),
// never for one that is still asleep or descheduled: once the caller has
// claimed the last task it closes the job, and a worker that wakes later finds
// it closed and goes back to waiting. On a machine shared with other work a
// worker's wake-up can take a whole scheduler slice (milliseconds); a decode
// step runs a few hundred jobs, so waiting for its check-in each time cost
// more than the work.
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

private:
    void drain();
    void worker();

    std::vector<std::thread> workers_;
    std::mutex mu_;
    std::condition_variable wake_, done_;
    // The job's state word: generation (high 32 bits), closed (bit 31) and the
    // number of workers inside the job (low 31 bits). A worker enters by a CAS
    // that requires the generation it woke for and the job open; the caller
    // closes the job after its own drain and waits until no worker is inside,
    // so job_, n_tasks_ and next_ are rewritten only when nobody reads them.
    // Waiters spin briefly before sleeping: a decode step runs a few hundred
    // short jobs, and a futex round trip per job costs more than the job.
    static constexpr uint64_t kClosed = uint64_t(1) << 31;
    static constexpr uint64_t kInside = kClosed - 1;
    std::atomic<uint64_t> state_{kClosed};
    std::atomic<bool> stop_{false};
    const std::function<void(int64_t)>* job_ = nullptr;
    int64_t n_tasks_ = 0;
    std::atomic<int64_t> next_{0};
};

// Physical cores (not SMT siblings) of this machine, at least 1.
int physical_cores() noexcept;

}  // namespace qlm::cpu
