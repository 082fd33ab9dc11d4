#include "policy/workload_selector.h"

#include <fnmatch.h>

#include <algorithm>

namespace connwatch {
namespace {

// apimachinery's rand.String alphabet: what generated name suffixes are made of.
constexpr std::string_view kSuffixAlphabet = "bcdfghjklmnpqrstvwxz2456789";

bool Glob(const std::string& pattern, std::string_view value) {
  if (pattern.empty()) return true;
  return fnmatch(pattern.c_str(), std::string(value).c_str(), 0) == 0;
}

bool AllOf(std::string_view text, std::string_view alphabet) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [&](char c) {
    return alphabet.find(c) != std::string_view::npos;
  });
}

bool AllDigits(std::string_view text) { return AllOf(text, "0123456789"); }

// The part after the last '-' of `name`, and what comes before it ("" when there is no '-'
// or nothing before it).
std::pair<std::string_view, std::string_view> SplitLast(std::string_view name) {
  size_t dash = name.rfind('-');
  if (dash == std::string_view::npos || dash == 0) return {"", ""};
  return {name.substr(0, dash), name.substr(dash + 1)};
}

}  // namespace

bool SelectorMatches(const WorkloadSelector& selector, const Workload& workload,
                     std::string_view netns) {
  if (selector.IsAny()) return true;
  return Glob(selector.k8s_namespace, workload.k8s_namespace) && Glob(selector.pod, workload.pod) &&
         Glob(selector.container, workload.container) &&
         Glob(selector.workload, PodWorkloadName(workload.pod)) && Glob(selector.netns, netns);
}

std::string PodWorkloadName(std::string_view pod) {
  auto [rest, last] = SplitLast(pod);
  if (rest.empty()) return std::string(pod);
  if (AllDigits(last) && last.size() <= 9) {
    return std::string(rest);  // a StatefulSet's ordinal
  }
  if (last.size() != 5 || !AllOf(last, kSuffixAlphabet)) return std::string(pod);
  auto [name, middle] = SplitLast(rest);
  // A Deployment's pod-template-hash (up to 10 of the same characters) or a CronJob's
  // schedule time (minutes since the epoch): one more part to drop.
  bool hash = middle.size() >= 1 && middle.size() <= 10 && AllOf(middle, kSuffixAlphabet);
  bool schedule = middle.size() >= 8 && AllDigits(middle);
  if (!name.empty() && (hash || schedule)) return std::string(name);
  return std::string(rest);
}

}  // namespace connwatch
