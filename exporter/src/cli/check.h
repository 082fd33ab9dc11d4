// `connwatch check`: one snapshot judged against the policy, for cron and syslog. Exit 0
// when clean, 1 when there are findings, 2 on error.
#pragma once

#include <string>
#include <vector>

#include "policy/evaluator.h"
#include "sources/snapshot.h"

namespace connwatch {

// Pure formatters. The text form is a table with process, pid, user, exe, addresses, zone
// and the reason; the JSON form is {"findings": [...]}.
std::string FormatFindingsText(const Snapshot& snapshot, const Evaluation& evaluation);
std::string FormatFindingsJson(const Snapshot& snapshot, const Evaluation& evaluation);
// One line per finding for syslog, key=value, names escaped.
std::string FindingLogLine(const Snapshot& snapshot, const Finding& finding);

int RunCheck(const std::vector<std::string>& args);

}  // namespace connwatch
