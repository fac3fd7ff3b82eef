// matmul over packed weights: picks the kernel once per call from a short
// ladder (the instruction set's own kernel, else the scalar one, else an error
// naming op, type, shape and instruction set) and splits the work over threads.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <cstring>
#include <vector>

#include "cpu/kernels.h"
#include "cpu/thread_pool.h"
#include "ops/context_impl.h"
#include "ops/matmul_plan.h"
#include "ops/profile.h"
#include "qlm/error.h"
#include "qlm/gguf.h"

namespace qlm {

using cpu::kMaxTileM;

void check_tensor_alignment(const GgufTensor& t) {
    // Blocks are read as structs with fp16/f32 fields: the data must sit at
    // the blocks' natural alignment (the largest power of two dividing the
    // block size, at most 4). A file aligned to fewer bytes than that (legal
    // GGUF, never seen in the wild: files align tensors to 32) is refused here.
    const uint64_t ts = type_info(t.type).type_size;
    const uint64_t need = std::min<uint64_t>(4, ts & (~ts + 1));
    if (reinterpret_cast<uintptr_t>(t.data) % need != 0)
        fail("tensor '", t.name, "': ", type_name(t.type), " data at file offset ", t.offset, " is not aligned to ",
             need, " bytes (the file's general.alignment is too small)");
}

WeightView weight_view(const GgufTensor& t) {
    if (t.shape.empty() || t.shape.size() > 2)
        fail("tensor '", t.name, "': matmul weights must be 1-D or 2-D, shape has ", t.shape.size(), " dims");
    check_tensor_alignment(t);
    WeightView w;
    w.type = t.type;
    w.k = t.shape[0];
    w.n = t.shape.size() == 2 ? t.shape[1] : 1;
    w.row_stride = row_size(t.type, w.k);  // the reader already checked whole blocks
    w.data = t.data;
    w.name = t.name;
    return w;
}

GgmlType activation_type(GgmlType weight_type) noexcept { return type_info(weight_type).vec_dot_type; }

namespace detail {

std::string shape_of(const WeightView& w) {
    return cat(w.name.empty() ? std::string("<unnamed>") : w.name, " (", type_name(w.type), ", ", w.n, " x ", w.k,
               w.transposed ? ", transposed" : "", ")");
}

void check_weight(const WeightView& w, const char* op) {
    if (!w.data) fail(op, ": weight ", shape_of(w), " has no data");
    if (w.n <= 0 || w.k <= 0) fail(op, ": weight ", shape_of(w), " is empty");
    if (w.k % type_info(w.type).block_size != 0)
        fail(op, ": weight ", shape_of(w), ": row length ", w.k, " is not a multiple of the ", type_name(w.type),
             " block size ", type_info(w.type).block_size);
    if (w.row_stride < row_size(w.type, w.k)) fail(op, ": weight ", shape_of(w), ": row stride ", w.row_stride, " is too small");
}

cpu::MatmulTileFn pick_tile(const Context::Impl& c, const WeightView& w) {
    const uint32_t id = uint32_t(w.type);
    if (c.table->tile[id]) return c.table->tile[id];
    if (cpu::scalar_kernels().tile[id]) return cpu::scalar_kernels().tile[id];
    fail("matmul: no kernel for weight ", shape_of(w), " on ", isa_name(c.isa));
}

// Rows per task: enough tasks for load balance, each a multiple of 8 rows
// (the GEMM's panel height).
int64_t rows_per_task(int64_t n, int threads) {
    const int64_t tasks = std::max<int64_t>(1, int64_t(threads) * 8);
    int64_t r = (n + tasks - 1) / tasks;
    r = (r + 7) / 8 * 8;
    return std::max<int64_t>(r, 8);
}

KernelChoice choose_kernel(const Context::Impl& c, const WeightView& w, int64_t m) {
    const uint32_t id = uint32_t(w.type);
    if (c.table->gemm[id] && m >= c.table->gemm_min_m[id]) return {nullptr, c.table->gemm[id]};
    return {pick_tile(c, w), nullptr};
}

void run_rows(const KernelChoice& kc, const WeightView& w, const uint8_t* x, size_t x_stride, int64_t m, float* y,
              int64_t r0, int64_t r1) {
    if (kc.gemm) {
        kc.gemm({w.data, w.row_stride, w.k, x, x_stride, int(m), y, w.n, r0, r1});
        return;
    }
    // The task's weight rows are read from memory once and reused from
    // cache for every chunk of kMaxTileM rows of x.
    for (int64_t i0 = 0; i0 < m; i0 += kMaxTileM) {
        const int mm = int(std::min<int64_t>(kMaxTileM, m - i0));
        kc.tile({w.data, w.row_stride, w.k, x + size_t(i0) * x_stride, x_stride, mm, y + i0 * w.n, w.n, r0, r1});
    }
}

}  // namespace detail

using namespace detail;

namespace {

// Transposed view: y (m x k) = x (m x n) * W. Each task owns a block-aligned
// column range and walks W's rows in order, one dequantized block range at a
// time, so results are identical for any thread count.
void matmul_transposed(Context::Impl& c, const float* x, int64_t m, const WeightView& w, float* y) {
    const TypeInfo& ti = type_info(w.type);
    const int64_t blocks = w.k / ti.block_size;
    const int64_t blocks_per_task = std::max<int64_t>(1, (blocks + c.pool->size() * 4 - 1) / (c.pool->size() * 4));
    const int64_t tasks = (blocks + blocks_per_task - 1) / blocks_per_task;
    std::memset(y, 0, size_t(m * w.k) * sizeof(float));
    c.pool->run(tasks, [&](int64_t t) {
        const int64_t b0 = t * blocks_per_task, b1 = std::min(blocks, b0 + blocks_per_task);
        const int64_t c0 = b0 * ti.block_size, cols = (b1 - b0) * ti.block_size;
        std::vector<float> tmp(static_cast<size_t>(cols));
        for (int64_t r = 0; r < w.n; ++r) {
            dequantize_row(w.type, w.data + r * w.row_stride + b0 * ti.type_size, tmp.data(), cols);
            for (int64_t i = 0; i < m; ++i) {
                const float a = x[i * w.n + r];
                float* yi = y + i * w.k + c0;
                for (int64_t j = 0; j < cols; ++j) yi[j] += a * tmp[j];
            }
        }
    });
}

}  // namespace

QuantizedActivations quantize_activations(Context& ctx, const float* x, int64_t m, int64_t k, GgmlType type) {
    auto& c = ctx.impl();
    if (m <= 0 || k <= 0) fail("quantize_activations: empty shape ", m, " x ", k);
    ProfileScope scope(c, "quantize", m, [&] { return cat("to ", type_name(type), ", k = ", k); });
    QuantizedActivations q;
    q.type = type, q.m = m, q.k = k;
    q.row_stride = row_size(type, k);  // throws if k is not whole blocks
    q.data.resize(q.row_stride * size_t(m));
    const uint32_t id = uint32_t(type);
    cpu::QuantizeRowFn f = c.table->quantize[id] ? c.table->quantize[id] : cpu::scalar_kernels().quantize[id];
    c.pool->run_ranges(m, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) f(x + i * k, q.data.data() + size_t(i) * q.row_stride, k);
    });
    return q;
}

void matmul(Context& ctx, const std::vector<MatmulJob>& jobs) {
    auto& c = ctx.impl();
    // Per job: its kernel and row split; tasks of all jobs go to one run.
    struct Plan {
        const MatmulJob* job;
        KernelChoice kc;
        int64_t rpt, first_task;
    };
    std::vector<Plan> plans;
    int64_t tasks = 0;
    for (const MatmulJob& j : jobs) {
        const WeightView& w = j.w;
        const QuantizedActivations& xq = *j.xq;
        check_weight(w, "matmul");
        if (w.transposed) fail("matmul: weight ", shape_of(w), ": a transposed view takes float activations");
        if (xq.type != activation_type(w.type))
            fail("matmul: weight ", shape_of(w), " needs ", type_name(activation_type(w.type)), " activations, got ",
                 type_name(xq.type));
        if (xq.k != w.k) fail("matmul: activations of ", xq.m, " x ", xq.k, " do not fit weight ", shape_of(w));
        Plan p{&j, choose_kernel(c, w, xq.m), rows_per_task(w.n, c.pool->size()), tasks};
        tasks += (w.n + p.rpt - 1) / p.rpt;
        plans.push_back(p);
    }
    auto run_task = [&](const Plan& p, int64_t t) {
        const WeightView& w = p.job->w;
        const QuantizedActivations& xq = *p.job->xq;
        const int64_t r0 = (t - p.first_task) * p.rpt, r1 = std::min(w.n, r0 + p.rpt);
        run_rows(p.kc, w, xq.data.data(), xq.row_stride, xq.m, p.job->y, r0, r1);
    };
    // Profiling (ops/profile.h): each task's thread time goes to its job, and
    // the run's wall time is split over the jobs in that proportion.
    const bool prof = c.profile != nullptr;
    std::unique_ptr<std::atomic<int64_t>[]> job_ns(prof ? new std::atomic<int64_t>[plans.size()]() : nullptr);
    const auto run0 = ProfileClock::now();
    c.pool->run(tasks, [&](int64_t t) {
        size_t pi = 0;
        while (pi + 1 < plans.size() && plans[pi + 1].first_task <= t) ++pi;
        const auto t0 = prof ? ProfileClock::now() : ProfileClock::time_point{};
        run_task(plans[pi], t);
        if (prof)
            job_ns[pi] += std::chrono::duration_cast<std::chrono::nanoseconds>(ProfileClock::now() - t0).count();
    });
    if (prof) {
        const double wall = std::chrono::duration<double>(ProfileClock::now() - run0).count();
        double total = 0;
        for (size_t i = 0; i < plans.size(); ++i) total += double(job_ns[i].load());
        for (size_t i = 0; i < plans.size(); ++i) {
            const Plan& p = plans[i];
            const WeightView& w = p.job->w;
            const int64_t m = p.job->xq->m;
            const char* path = p.kc.gemm ? (cpu::gemm_runs_amx(p.kc.gemm, w.type, m) ? "amx gemm" : "gemm")
                                         : (m == 1 ? "m=1" : "tile");
            c.profile->add("matmul", cat(fold_layer(w.name), " ", type_name(w.type), " ", w.n, "x", w.k, " ", path), m,
                           total > 0 ? wall * double(job_ns[i].load()) / total : wall / double(plans.size()));
        }
    }
}

void matmul(Context& ctx, const QuantizedActivations& xq, const WeightView& w, float* y) {
    matmul(ctx, std::vector<MatmulJob>{{&xq, w, y}});
}

void matmul(Context& ctx, const float* x, int64_t m, const WeightView& w, float* y) {
    check_weight(w, "matmul");
    if (m <= 0) fail("matmul: weight ", shape_of(w), ": activation rows must be positive, got ", m);
    if (w.transposed) return matmul_transposed(ctx.impl(), x, m, w, y);
    matmul(ctx, quantize_activations(ctx, x, m, w.k, activation_type(w.type)), w, y);
}

}  // namespace qlm
