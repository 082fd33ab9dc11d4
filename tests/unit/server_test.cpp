#include "http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "sampler/sampler.h"

namespace connwatch {
namespace {

// Sends one raw HTTP/1.0 request and returns the whole response.
std::string Request(const std::string& address, const std::string& request) {
  size_t colon = address.rfind(':');
  sockaddr_in target{};
  target.sin_family = AF_INET;
  target.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  inet_pton(AF_INET, "127.0.0.1", &target.sin_addr);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&target), sizeof(target)) != 0) {
    close(fd);
    return "connect failed";
  }
  (void)!write(fd, request.data(), request.size());
  std::string response;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) response.append(buffer, n);
  close(fd);
  return response;
}

class ServerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.listen_addresses = {"127.0.0.1:0"};
    server_ = std::make_unique<HttpServer>(options, [this] {
      ++calls_;
      return exposition_;
    });
    std::string error;
    ASSERT_TRUE(server_->Start(error)) << error;
    address_ = server_->bound_address();
  }

  std::shared_ptr<const Exposition> exposition_ =
      std::make_shared<Exposition>("# HELP x y\n# TYPE x gauge\nx 1\n");
  std::atomic<int> calls_{0};
  std::unique_ptr<HttpServer> server_;
  std::string address_;
};

TEST_F(ServerFixture, ServesMetricsOnlyOnTheExactPath) {
  EXPECT_TRUE(address_.starts_with("127.0.0.1:")) << address_;
  EXPECT_NE(address_, "127.0.0.1:0");
  std::string ok = Request(address_, "GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(ok.starts_with("HTTP/1.1 200")) << ok;
  EXPECT_NE(ok.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
  EXPECT_TRUE(ok.ends_with("x 1\n")) << ok;

  EXPECT_TRUE(Request(address_, "GET /metricsfoo HTTP/1.0\r\n\r\n").starts_with("HTTP/1.1 404"));
  EXPECT_TRUE(Request(address_, "GET /Metrics HTTP/1.0\r\n\r\n").starts_with("HTTP/1.1 404"));
  EXPECT_TRUE(Request(address_, "GET /nope HTTP/1.0\r\n\r\n").starts_with("HTTP/1.1 404"));
  std::string post = Request(address_, "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
  EXPECT_TRUE(post.starts_with("HTTP/1.1 405")) << post;
  EXPECT_NE(post.find("Allow: GET, HEAD"), std::string::npos);

  std::string head = Request(address_, "HEAD /metrics HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(head.starts_with("HTTP/1.1 200")) << head;
  EXPECT_TRUE(head.ends_with("\r\n\r\n")) << "no body on HEAD";

  std::string landing = Request(address_, "GET / HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(landing.starts_with("HTTP/1.1 200"));
  EXPECT_NE(landing.find("<a href=\"/metrics\">"), std::string::npos);
}

TEST_F(ServerFixture, GzipsWhenAsked) {
  std::string response =
      Request(address_, "GET /metrics HTTP/1.0\r\nAccept-Encoding: gzip, deflate\r\n\r\n");
  EXPECT_NE(response.find("Content-Encoding: gzip"), std::string::npos) << response;
  std::string body = response.substr(response.find("\r\n\r\n") + 4);
  EXPECT_EQ(body, exposition_->gzipped());
  ASSERT_GE(body.size(), 2u);
  EXPECT_EQ(static_cast<uint8_t>(body[0]), 0x1f);
  EXPECT_EQ(static_cast<uint8_t>(body[1]), 0x8b);
}

TEST_F(ServerFixture, ServesConcurrentScrapesFromOneExposition) {
  std::vector<std::thread> scrapers;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    scrapers.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        ok += Request(address_, "GET /metrics HTTP/1.0\r\n\r\n").starts_with("HTTP/1.1 200");
      }
    });
  }
  for (auto& scraper : scrapers) scraper.join();
  EXPECT_EQ(ok.load(), 200);
  EXPECT_EQ(calls_.load(), 200);
}

TEST(SamplerTest, ScrapesNeverTriggerSamples) {
  SamplerOptions options;
  options.interval = std::chrono::hours(1);
  Sampler sampler(options);
  EXPECT_EQ(sampler.Latest(), nullptr);
  sampler.SampleOnce();
  sampler.Start();
  auto first = sampler.Latest();
  ASSERT_NE(first, nullptr);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(sampler.Latest(), first);
  EXPECT_NE(first->text().find("connwatch_samples_total 1\n"), std::string::npos)
      << first->text().substr(0, 2000);
  sampler.SampleOnce();
  EXPECT_NE(sampler.Latest(), first);
  EXPECT_NE(sampler.Latest()->text().find("connwatch_samples_total 2\n"), std::string::npos);
  sampler.Stop();
}

TEST(SamplerTest, SamplesOnItsOwnSchedule) {
  SamplerOptions options;
  options.interval = std::chrono::milliseconds(100);
  Sampler sampler(options);
  sampler.Start();
  std::shared_ptr<const Exposition> latest;
  for (int i = 0; i < 50 && !latest; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    latest = sampler.Latest();
  }
  ASSERT_NE(latest, nullptr) << "no sample within 2.5 s at a 100 ms interval";
  sampler.Stop();
}

}  // namespace
}  // namespace connwatch
