#include "sampler/sampler.h"

#include <zlib.h>

#include <exception>
#include <optional>

#include "log.h"

namespace connwatch {

std::string GzipCompress(const std::string& data) {
  z_stream stream{};
  // windowBits 15 + 16 asks zlib for a gzip header and trailer.
  if (deflateInit2(&stream, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return {};
  }
  std::string out(deflateBound(&stream, data.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  int status = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return status == Z_STREAM_END ? out : std::string();
}

const std::string& Exposition::gzipped() const {
  std::call_once(gzip_once_, [this] { gzipped_ = GzipCompress(text_); });
  return gzipped_;
}

Sampler::Sampler(SamplerOptions options, PolicyRuntime* runtime)
    : options_(std::move(options)), runtime_(runtime) {}

Sampler::~Sampler() { Stop(); }

void Sampler::SampleOnce() {
  // The sampling path is written not to throw; this guard keeps a bug (or bad_alloc) in it
  // from ending the process: the previous exposition keeps being served.
  try {
    auto start = std::chrono::steady_clock::now();
    // One effective policy for the whole sample: a reload in the middle takes effect on
    // the next one. It also owns the zone names the snapshot points to.
    std::shared_ptr<const EffectivePolicy> effective = runtime_ ? runtime_->Current() : nullptr;
    SnapshotOptions snapshot_options = options_.snapshot;
    if (effective) snapshot_options.udp_service_ports = effective->udp_service_ports;
    Snapshot snapshot =
        TakeSnapshot(snapshot_options, effective ? effective->zones : builtin_zones_);
    counters_.AddSnapshot(snapshot);
    std::optional<Evaluation> evaluation;
    PolicyView policy_view;
    if (effective) {
      runtime_->Observe(snapshot, start);
      evaluation = Evaluate(effective->policy, snapshot);
      ReloadStatus reload = runtime_->reload_status();
      policy_view = {&*evaluation, effective->learning, effective->baseline_rules,
                     reload.last_successful, reload.last_success_timestamp_seconds};
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    auto families = BuildFamilies(snapshot, seconds, options_.metrics, counters_,
                                  effective ? &policy_view : nullptr);
    auto exposition = std::make_shared<const Exposition>(SerializeFamilies(families));
    {
      std::lock_guard<std::mutex> lock(latest_mutex_);
      latest_ = std::move(exposition);
    }
    Log(LogLevel::kDebug, "sample taken",
        {{"sockets", std::to_string(snapshot.sockets.size())},
         {"processes", std::to_string(snapshot.processes.size())},
         {"duration_seconds", std::to_string(seconds)}});
  } catch (const std::exception& error) {
    Log(LogLevel::kError, "sample failed", {{"err", error.what()}});
  }
}

void Sampler::Start() {
  std::lock_guard<std::mutex> lock(stop_mutex_);
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void Sampler::Stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const Exposition> Sampler::Latest() const {
  std::lock_guard<std::mutex> lock(latest_mutex_);
  return latest_;
}

void Sampler::Run() {
  // Fixed-rate schedule: a slow sample shortens the next wait instead of drifting, and a
  // sample longer than the interval is followed at once by the next.
  auto next = std::chrono::steady_clock::now() + options_.interval;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(stop_mutex_);
      if (stop_cv_.wait_until(lock, next, [this] { return stopping_; })) return;
    }
    SampleOnce();
    next += options_.interval;
    auto now = std::chrono::steady_clock::now();
    if (next < now) next = now;
  }
}

}  // namespace connwatch
