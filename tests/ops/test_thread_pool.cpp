// cpu::ThreadPool: every task of every job runs exactly once and its writes are
// visible when run() returns, whatever the thread count, job size and timing
// (workers spinning, asleep, waking late into a job the caller already closed).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "cpu/thread_pool.h"

namespace {

using qlm::cpu::ThreadPool;

TEST(ThreadPool, EveryTaskOnceAndVisible) {
    for (int threads : {1, 2, 3, 5}) {
        ThreadPool pool(threads);
        EXPECT_EQ(threads, pool.size());
        std::vector<int> hits;
        uint32_t rng = 12345;
        for (int iter = 0; iter < 2000; ++iter) {
            rng = rng * 1664525u + 1013904223u;
            const int64_t n = std::vector<int64_t>{0, 1, 2, 3, 7, 16, 64, 257}[(rng >> 8) % 8];
            hits.assign(size_t(n), 0);  // plain ints: run() must publish the tasks' writes
            const bool slow = ((rng >> 16) & 15) == 0;
            pool.run(n, [&](int64_t t) {
                if (slow && t == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
                ++hits[size_t(t)];
            });
            for (int64_t t = 0; t < n; ++t) ASSERT_EQ(1, hits[size_t(t)]) << threads << " threads, iter " << iter << ", task " << t;
            // Now and then let the workers fall asleep, so the next job wakes them
            // (possibly after the caller has run every task and closed it).
            if (((rng >> 20) & 63) == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    }
}

TEST(ThreadPool, TasksRunInParallelWhenWorkersAreAwake) {
    // The first task to start waits for a second one to start: that happens
    // only if a worker joins the job while the caller is inside task 0 (the
    // first job of a fresh pool, and a later one after the workers slept).
    // The wait is bounded so a failure reports instead of hanging.
    ThreadPool pool(2);
    for (int round = 0; round < 2; ++round) {
        std::atomic<int> started{0};
        std::atomic<bool> first_saw_second{false};
        pool.run(2, [&](int64_t) {
            const int me = started.fetch_add(1);
            const auto t0 = std::chrono::steady_clock::now();
            while (started.load() < 2 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20))
                std::this_thread::yield();
            if (me == 0) first_saw_second.store(started.load() == 2);
        });
        EXPECT_TRUE(first_saw_second.load()) << "round " << round << ": no worker joined the job";
        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // let the worker fall asleep
    }
}

TEST(ThreadPool, ManyPoolsCreatedAndDestroyed) {
    for (int i = 0; i < 50; ++i) {
        ThreadPool pool(3);
        std::atomic<int64_t> sum{0};
        if (i % 2) pool.run(10, [&](int64_t t) { sum.fetch_add(t); });
        EXPECT_EQ(i % 2 ? 45 : 0, sum.load());
    }
}

}  // namespace
