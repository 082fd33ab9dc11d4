// `connwatch check`'s reading of the exporter's held findings (cli/held_findings.h).
#include "cli/held_findings.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace connwatch {
namespace {

HeldFinding Held(double ended, const char* peer) {
  HeldFinding held;
  held.labels = LabelValues(16, "");
  held.labels[0] = "path_violation";
  held.labels[1] = "curl";
  held.labels[2] = "4242";
  held.labels[6] = peer;
  held.labels[7] = "443";
  held.ended_unix = ended;
  held.start_unix = ended - 0.2;
  held.duration = 0.2;
  return held;
}

TEST(HeldFindingsTest, ReadsWhatEndedWithinTheHold) {
  char dir[] = "/tmp/cw-held-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  HeldFindingsRead none = ReadHeldFindings(dir, 600, 2000);
  EXPECT_FALSE(none.read);
  EXPECT_EQ(none.note, "") << "no file: no exporter here, nothing to say";
  std::deque<HeldFinding> held{Held(1000, "192.0.2.9"), Held(1900, "192.0.2.2")};
  std::ofstream(HeldFindingsPathIn(dir)) << FormatHeldFindings(held);
  HeldFindingsRead read = ReadHeldFindings(dir, 600, 2000);
  EXPECT_TRUE(read.read);
  ASSERT_EQ(read.findings.size(), 1u) << "the other ended 1000 s ago";
  EXPECT_EQ(read.findings[0].labels[6], "192.0.2.2");
  EXPECT_NE(read.note.find("1 finding(s) of ended connections held"), std::string::npos)
      << read.note;
  EXPECT_EQ(ReadHeldFindings(dir, 10, 2000).note, "") << "none within a 10 s hold";
  std::string text = FormatHeldText(read.findings);
  EXPECT_NE(text.find("192.0.2.2:443"), std::string::npos) << text;
  EXPECT_NE(text.find("0.200s"), std::string::npos) << text;
  EXPECT_NE(text.find("1 held finding\n"), std::string::npos) << text;
  std::string json = FormatHeldJson(read.findings);
  EXPECT_NE(json.find("\"remote_address\": \"192.0.2.2\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"bytes_sent\": null"), std::string::npos) << json;
  EXPECT_EQ(FormatHeldText({}), "");
  EXPECT_EQ(FormatHeldJson({}), "[]");
  std::ofstream(HeldFindingsPathIn(dir)) << "garbage";
  HeldFindingsRead garbage = ReadHeldFindings(dir, 600, 2000);
  EXPECT_FALSE(garbage.read);
  EXPECT_NE(garbage.note.find("is not a held findings file: only this snapshot is checked"),
            std::string::npos)
      << garbage.note;
  std::remove(HeldFindingsPathIn(dir).c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace connwatch
