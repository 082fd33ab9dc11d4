// What a scrape serves: the text exposition of one sample, rendered once by the sampler, and
// its gzip form made on first demand.
#pragma once

#include <prometheus/metric_family.h>

#include <mutex>
#include <string>
#include <vector>

namespace connwatch {

// The text exposition format, version 0.0.4.
std::string SerializeFamilies(const std::vector<prometheus::MetricFamily>& families);

// gzip (RFC 1952) of `data`, via zlib; "" if zlib fails.
std::string GzipCompress(const std::string& data);

class Exposition {
 public:
  explicit Exposition(std::string text) : text_(std::move(text)) {}
  const std::string& text() const { return text_; }
  // Thread-safe; computed once.
  const std::string& gzipped() const;

 private:
  std::string text_;
  mutable std::once_flag gzip_once_;
  mutable std::string gzipped_;
};

}  // namespace connwatch
