// The served text and its gzip form: the text format of a small family set, gzip output
// inflated back by zlib itself (inflateInit2 with 15 + 16: a gzip stream, nothing else), and
// the lazily computed, shared gzip form of an Exposition under concurrent scrapes.
#include "metrics/exposition.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace connwatch {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// Inflates a gzip stream; "" with a failure when it is not one (or has trailing bytes).
std::string Gunzip(const std::string& gzipped) {
  z_stream stream{};
  if (inflateInit2(&stream, 15 + 16) != Z_OK) {
    ADD_FAILURE() << "inflateInit2";
    return "";
  }
  std::string out;
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gzipped.data()));
  stream.avail_in = static_cast<uInt>(gzipped.size());
  int status = Z_OK;
  char chunk[16384];
  while (status == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(chunk);
    stream.avail_out = sizeof(chunk);
    status = inflate(&stream, Z_NO_FLUSH);
    out.append(chunk, sizeof(chunk) - stream.avail_out);
  }
  size_t left = stream.avail_in;
  inflateEnd(&stream);
  EXPECT_EQ(status, Z_STREAM_END) << "not a complete gzip stream";
  EXPECT_EQ(left, 0u) << "bytes after the gzip trailer";
  return out;
}

void ExpectGzipOf(const std::string& gzipped, const std::string& input) {
  ASSERT_GE(gzipped.size(), 18u) << "a gzip member has a 10-byte header and an 8-byte trailer";
  EXPECT_EQ(static_cast<uint8_t>(gzipped[0]), 0x1f);
  EXPECT_EQ(static_cast<uint8_t>(gzipped[1]), 0x8b);
  EXPECT_EQ(static_cast<uint8_t>(gzipped[2]), 8) << "CM: deflate";
  // The trailer: CRC-32 and the input size mod 2^32, little-endian.
  auto le32 = [&](size_t at) {
    uint32_t value = 0;
    for (int i = 3; i >= 0; --i) value = value << 8 | static_cast<uint8_t>(gzipped[at + i]);
    return value;
  };
  uLong crc =
      crc32(0, reinterpret_cast<const Bytef*>(input.data()), static_cast<uInt>(input.size()));
  EXPECT_EQ(le32(gzipped.size() - 8), static_cast<uint32_t>(crc));
  EXPECT_EQ(le32(gzipped.size() - 4), static_cast<uint32_t>(input.size()));
  EXPECT_EQ(Gunzip(gzipped), input);
}

ClientMetric Gauge(double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric metric;
  metric.gauge.value = value;
  metric.label = std::move(labels);
  return metric;
}

ClientMetric Counter(double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric metric;
  metric.counter.value = value;
  metric.label = std::move(labels);
  return metric;
}

TEST(SerializeFamiliesTest, HelpTypeAndSeriesOfEachFamilyInOrder) {
  std::vector<MetricFamily> families = {
      {"connwatch_sockets",
       "Sockets by state.",
       MetricType::Gauge,
       {Gauge(3, {{"transport", "tcp"}, {"state", "listen"}}),
        Gauge(0.5, {{"transport", "udp"}, {"state", "close"}})}},
      {"connwatch_samples_total", "Samples taken since start.", MetricType::Counter, {Counter(7)}},
      {"connwatch_empty", "A family without series.", MetricType::Gauge, {}},
  };
  EXPECT_EQ(SerializeFamilies(families),
            "# HELP connwatch_sockets Sockets by state.\n"
            "# TYPE connwatch_sockets gauge\n"
            "connwatch_sockets{transport=\"tcp\",state=\"listen\"} 3\n"
            "connwatch_sockets{transport=\"udp\",state=\"close\"} 0.5\n"
            "# HELP connwatch_samples_total Samples taken since start.\n"
            "# TYPE connwatch_samples_total counter\n"
            "connwatch_samples_total 7\n"
            "# HELP connwatch_empty A family without series.\n"
            "# TYPE connwatch_empty gauge\n");
}

TEST(SerializeFamiliesTest, CounterAndGaugeValuesComeFromTheirOwnFields) {
  // A family's type decides which field is written: the other is ignored.
  ClientMetric both;
  both.counter.value = 11;
  both.gauge.value = 22;
  EXPECT_EQ(SerializeFamilies({{"c_total", "c", MetricType::Counter, {both}}}),
            "# HELP c_total c\n# TYPE c_total counter\nc_total 11\n");
  EXPECT_EQ(SerializeFamilies({{"g", "g", MetricType::Gauge, {both}}}),
            "# HELP g g\n# TYPE g gauge\ng 22\n");
}

TEST(SerializeFamiliesTest, LabelValuesAreEscaped) {
  std::string text = SerializeFamilies({{"connwatch_listener_info",
                                         "Listeners.",
                                         MetricType::Gauge,
                                         {Gauge(1, {{"process", "a\"b\\c\nd"}})}}});
  EXPECT_NE(text.find("connwatch_listener_info{process=\"a\\\"b\\\\c\\nd\"} 1\n"),
            std::string::npos)
      << text;
}

TEST(SerializeFamiliesTest, NoFamiliesNoText) { EXPECT_EQ(SerializeFamilies({}), ""); }

TEST(GzipCompressTest, InflatesBackToTheInput) {
  std::string small = "# HELP x y\n# TYPE x gauge\nx 1\n";
  std::string mebibyte;
  mebibyte.reserve(1 << 20);
  std::mt19937 random(42);  // half random bytes, half text: neither trivially compressible
  while (mebibyte.size() < (1u << 20)) {
    if (random() % 2 == 0) {
      mebibyte += "connwatch_sockets{state=\"established\"} 12345\n";
    } else {
      for (int i = 0; i < 32; ++i) mebibyte.push_back(static_cast<char>(random()));
    }
  }
  mebibyte.resize(1 << 20);
  std::string binary("\0\xff\x00\x1f\x8b", 5);
  for (const std::string* input : {&small, &mebibyte, &binary}) {
    SCOPED_TRACE(input->size());
    ExpectGzipOf(GzipCompress(*input), *input);
  }
}

TEST(GzipCompressTest, EmptyInputIsAnEmptyGzipStream) {
  std::string gzipped = GzipCompress("");
  ExpectGzipOf(gzipped, "");
}

TEST(GzipCompressTest, RepetitiveTextShrinks) {
  std::string text;
  for (int i = 0; i < 10000; ++i) text += "connwatch_sockets{state=\"listen\"} 1\n";
  std::string gzipped = GzipCompress(text);
  EXPECT_LT(gzipped.size(), text.size() / 20);
  ExpectGzipOf(gzipped, text);
}

TEST(ExpositionTest, KeepsTheTextAndGzipsItOnce) {
  Exposition exposition("connwatch_samples_total 1\n");
  EXPECT_EQ(exposition.text(), "connwatch_samples_total 1\n");
  const std::string& first = exposition.gzipped();
  const std::string& second = exposition.gzipped();
  EXPECT_EQ(&first, &second) << "one stored gzip form";
  EXPECT_EQ(static_cast<const void*>(first.data()), static_cast<const void*>(second.data()))
      << "not recomputed";
  ExpectGzipOf(first, exposition.text());
  Exposition empty("");
  ExpectGzipOf(empty.gzipped(), "");
}

TEST(ExpositionTest, ConcurrentScrapesShareOneGzipForm) {
  std::string text;
  for (int i = 0; i < 20000; ++i)
    text += "connwatch_sockets{inode=\"" + std::to_string(i) + "\"} 1\n";
  for (int round = 0; round < 20; ++round) {
    Exposition exposition(text);
    constexpr int kThreads = 8;
    std::vector<const std::string*> seen(kThreads, nullptr);
    std::vector<const char*> data(kThreads, nullptr);
    std::vector<size_t> sizes(kThreads, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        const std::string& gzipped = exposition.gzipped();
        seen[t] = &gzipped;
        data[t] = gzipped.data();
        sizes[t] = gzipped.size();
      });
    }
    for (std::thread& thread : threads) thread.join();
    for (int t = 1; t < kThreads; ++t) {
      ASSERT_EQ(seen[t], seen[0]) << "round " << round;
      ASSERT_EQ(data[t], data[0]) << "round " << round << ": computed more than once";
      ASSERT_EQ(sizes[t], sizes[0]) << "round " << round;
    }
    ASSERT_EQ(seen[0], &exposition.gzipped());
    if (round == 0) ExpectGzipOf(exposition.gzipped(), text);
  }
}

}  // namespace
}  // namespace connwatch
