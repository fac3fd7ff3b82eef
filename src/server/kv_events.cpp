#include "server/kv_events.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "qlm/error.h"

#if QLM_HAVE_KV_EVENTS
#define MSGPACK_NO_BOOST
#include <msgpack.hpp>
#include <zmq.hpp>
#endif

namespace qlm::server {

#if QLM_HAVE_KV_EVENTS

bool kv_events_available() noexcept { return true; }

std::string KvEventPublisher::encode(const std::vector<KvEvent>& events, int64_t block_size, double ts,
                                     bool map_events) {
    // Stored blocks that extend the previous stored block merge into one BlockStored.
    struct Out {
        KvEvent::Kind kind;
        std::vector<uint64_t> hashes;
        uint64_t parent = 0;
        std::vector<int32_t> tokens;
    };
    std::vector<Out> out;
    for (const KvEvent& e : events) {
        if (e.kind == KvEvent::Kind::Stored && !out.empty() && out.back().kind == KvEvent::Kind::Stored &&
            out.back().hashes.back() == e.parent && e.parent != 0) {
            out.back().hashes.push_back(e.hash);
            out.back().tokens.insert(out.back().tokens.end(), e.tokens.begin(), e.tokens.end());
        } else if (e.kind == KvEvent::Kind::Removed && !out.empty() && out.back().kind == KvEvent::Kind::Removed) {
            out.back().hashes.push_back(e.hash);
        } else {
            out.push_back({e.kind, {}, e.parent, e.tokens});
            if (e.kind != KvEvent::Kind::Cleared) out.back().hashes.push_back(e.hash);
        }
    }
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> p(buf);
    auto str = [&](const std::string& s) {
        p.pack_str(uint32_t(s.size()));
        p.pack_str_body(s.data(), uint32_t(s.size()));
    };
    auto hashes = [&](const Out& o) {
        p.pack_array(uint32_t(o.hashes.size()));
        for (uint64_t h : o.hashes) p.pack_fix_uint64(h);
    };
    p.pack_array(3);
    p.pack_double(ts);
    p.pack_array(uint32_t(out.size()));
    for (const Out& o : out) {
        if (map_events) {  // {"type": ..., field: value, ...}
            switch (o.kind) {
                case KvEvent::Kind::Stored:
                    p.pack_map(8);
                    str("type"), str("BlockStored");
                    str("block_hashes"), hashes(o);
                    str("parent_block_hash");
                    if (o.parent != 0) p.pack_fix_uint64(o.parent);
                    else p.pack_nil();
                    str("token_ids");
                    p.pack_array(uint32_t(o.tokens.size()));
                    for (int32_t t : o.tokens) p.pack_int64(t);
                    str("block_size"), p.pack_int64(block_size);
                    str("lora_id"), p.pack_nil();
                    str("medium"), p.pack_nil();
                    str("lora_name"), p.pack_nil();
                    break;
                case KvEvent::Kind::Removed:
                    p.pack_map(3);
                    str("type"), str("BlockRemoved");
                    str("block_hashes"), hashes(o);
                    str("medium"), p.pack_nil();
                    break;
                case KvEvent::Kind::Cleared:
                    p.pack_map(1);
                    str("type"), str("AllBlocksCleared");
                    break;
            }
            continue;
        }
        switch (o.kind) {
            case KvEvent::Kind::Stored:
                p.pack_array(8);
                str("BlockStored");
                p.pack_array(uint32_t(o.hashes.size()));
                for (uint64_t h : o.hashes) p.pack_fix_uint64(h);
                if (o.parent != 0) p.pack_fix_uint64(o.parent);
                else p.pack_nil();
                p.pack_array(uint32_t(o.tokens.size()));
                for (int32_t t : o.tokens) p.pack_int64(t);
                p.pack_int64(block_size);
                p.pack_nil();  // lora_id
                p.pack_nil();  // medium: the primary cache (not an offload tier)
                p.pack_nil();  // lora_name
                break;
            case KvEvent::Kind::Removed:
                p.pack_array(3);
                str("BlockRemoved");
                p.pack_array(uint32_t(o.hashes.size()));
                for (uint64_t h : o.hashes) p.pack_fix_uint64(h);
                p.pack_nil();  // medium
                break;
            case KvEvent::Kind::Cleared:
                p.pack_array(1);
                str("AllBlocksCleared");
                break;
        }
    }
    p.pack_int64(0);  // data_parallel_rank
    return std::string(buf.data(), buf.size());
}

struct KvEventPublisher::Impl {
    zmq::context_t ctx{1};
    zmq::socket_t sock{ctx, zmq::socket_type::pub};
    std::string topic;
    int64_t block_size;
    bool map_events = false;
    uint64_t seq = 0;
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::vector<KvEvent>> queue;
    bool stop = false, sending = false;
    std::thread sender;

    void run() {
        for (;;) {
            std::vector<KvEvent> batch;
            {
                std::unique_lock lk(mu);
                cv.wait(lk, [&] { return stop || !queue.empty(); });
                if (queue.empty()) return;  // stopping, all sent
                batch = std::move(queue.front());
                queue.pop_front();
                sending = true;
            }
            const double ts =
                std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
            const std::string payload = encode(batch, block_size, ts, map_events);
            unsigned char be[8];
            for (int i = 0; i < 8; ++i) be[i] = static_cast<unsigned char>(seq >> (56 - 8 * i));
            ++seq;
            try {
                sock.send(zmq::buffer(topic), zmq::send_flags::sndmore);
                sock.send(zmq::buffer(be, 8), zmq::send_flags::sndmore);
                sock.send(zmq::buffer(payload), zmq::send_flags::none);
            } catch (const zmq::error_t& e) {
                std::fprintf(stderr, "qlm serve: KV events: send failed: %s\n", e.what());
            }
            std::lock_guard lk(mu);
            sending = false;
        }
    }
};

KvEventPublisher::KvEventPublisher(const std::string& endpoint, const std::string& topic, int64_t block_size,
                                   bool map_events)
    : impl_(std::make_unique<Impl>()) {
    impl_->topic = topic;
    impl_->block_size = block_size;
    impl_->map_events = map_events;
    try {
        impl_->sock.set(zmq::sockopt::linger, 1000);
        impl_->sock.set(zmq::sockopt::sndhwm, 100000);
        impl_->sock.bind(endpoint);
    } catch (const zmq::error_t& e) {
        fail("--kv-events-endpoint ", endpoint, ": cannot bind a ZeroMQ PUB socket: ", e.what());
    }
    impl_->sender = std::thread([this] { impl_->run(); });
}

KvEventPublisher::~KvEventPublisher() {
    {
        std::lock_guard lk(impl_->mu);
        impl_->stop = true;
    }
    impl_->cv.notify_all();
    impl_->sender.join();
}

void KvEventPublisher::flush(std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        {
            std::lock_guard lk(impl_->mu);
            if (impl_->queue.empty() && !impl_->sending) break;
        }
        if (std::chrono::steady_clock::now() >= until) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    // what the socket holds goes out within its linger
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

void KvEventPublisher::publish(std::vector<KvEvent>&& events) {
    if (events.empty()) return;
    {
        std::lock_guard lk(impl_->mu);
        impl_->queue.push_back(std::move(events));
    }
    impl_->cv.notify_one();
}

#else  // built without ZeroMQ / msgpack

bool kv_events_available() noexcept { return false; }

struct KvEventPublisher::Impl {};

KvEventPublisher::KvEventPublisher(const std::string& endpoint, const std::string&, int64_t, bool) {
    fail("--kv-events-endpoint ", endpoint,
         ": this build has no ZeroMQ/msgpack (install libzmq3-dev cppzmq-dev libmsgpack-cxx-dev and rebuild)");
}
KvEventPublisher::~KvEventPublisher() = default;
void KvEventPublisher::publish(std::vector<KvEvent>&&) {}
void KvEventPublisher::flush(std::chrono::milliseconds) {}
std::string KvEventPublisher::encode(const std::vector<KvEvent>&, int64_t, double, bool) { return {}; }

#endif

}  // namespace qlm::server
