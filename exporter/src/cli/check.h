// `connwatch check`: one snapshot judged against the policy, for cron and syslog. Exit 0
// when clean, 1 when there are findings, 2 on error.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "policy/evaluator.h"
#include "sources/snapshot.h"

namespace connwatch {

// The name of each finding owner's parent (by the owner's pid), read from /proc after the
// snapshot: a parent holds no socket, so the snapshot has not read it. "" when it exited.
using ParentNames = std::map<pid_t, std::string>;
ParentNames ReadParentNames(const Snapshot& snapshot, const Evaluation& evaluation,
                            const std::string& procfs);

// `check --netns=NAME`: only the findings on sockets of the namespace with that netns label
// ("-": connwatch's own, and the findings without a socket, the services that are down).
void KeepFindingsOfNetns(const Snapshot& snapshot, std::string_view netns, Evaluation& evaluation);

// Pure formatters. The text form is a table, one line per finding, with process, pid, ppid,
// parent, user, exe, start, addresses, zone, age ("<=" an upper bound), command line and the
// reason; the JSON form is {"findings": [...]}.
std::string FormatFindingsText(const Snapshot& snapshot, const Evaluation& evaluation,
                               const ParentNames& parents = {});
std::string FormatFindingsJson(const Snapshot& snapshot, const Evaluation& evaluation,
                               const ParentNames& parents = {});
// One line per finding for syslog, key=value, names escaped.
std::string FindingLogLine(const Snapshot& snapshot, const Finding& finding,
                           const ParentNames& parents = {});

int RunCheck(const std::vector<std::string>& args);

}  // namespace connwatch
