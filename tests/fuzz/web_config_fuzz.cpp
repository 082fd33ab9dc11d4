// ParseWebConfig never crashes; relative TLS paths resolve against the web_config fixtures,
// so the certificates there can load.
#include <cstdint>
#include <string>
#include <string_view>

#include "http/web_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  connwatch::WebConfig config;
  std::string error;
  (void)connwatch::ParseWebConfig(text, "web.yml", CONNWATCH_FIXTURES_DIR "/web_config", config,
                                  error);
  return 0;
}
