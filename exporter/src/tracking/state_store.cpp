#include "tracking/state_store.h"

#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <utility>

#include "base/atomic_file.h"
#include "base/read_file.h"
#include "sources/proc_sys.h"

namespace connwatch {
namespace {

// A full table (kMaxPersistedConnections lines of two IPv6 addresses) is ~30 MB; the cap
// leaves room for that while a runaway or hostile file cannot exhaust memory.
constexpr size_t kMaxStateFileBytes = 64u << 20;

// A file that would not load again must not be written.
bool CheckBootId(const std::string& path, const std::string& boot_id, std::string& error) {
  if (IsValidBootId(boot_id)) return true;
  error = "cannot save the connection state " + path + ": the boot id \"" + boot_id +
          "\" is empty or not one word";
  return false;
}

// "SUBJECT PATH ...: why", and for a file over the cap that it is not used.
std::string LoadProblem(const FileLoad& load, const std::string& subject, const std::string& path) {
  std::string problem = load.Problem(subject, path, kMaxStateFileBytes);
  if (load.status == FileLoad::Status::kTooLarge) problem += "; ignoring it";
  return problem;
}

// Writes all of `records` to `fd`: "" or what failed.
std::string WriteAll(int fd, const std::string& path, std::string_view records) {
  while (!records.empty()) {
    ssize_t n = write(fd, records.data(), records.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return "appending to " + path + ": " + strerror(n < 0 ? errno : EIO);
    records.remove_prefix(static_cast<size_t>(n));
  }
  return "";
}

// Appends `records` to the journal `path`, which holds `good_bytes` before, and syncs it:
// "" or every step that failed, the clean-up's included (a journal left with a torn tail
// must not be reported as merely "not appended").
std::string AppendSynced(const std::string& path, std::string_view records, uint64_t good_bytes) {
  int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return "opening " + path + ": " + strerror(errno);
  std::string failure = WriteAll(fd, path, records);
  if (failure.empty() && fdatasync(fd) != 0) {
    failure = "syncing " + path + ": " + strerror(errno);
  }
  // A partial append (full disk) is cut off again, so that the journal ends on a commit.
  if (!failure.empty() && ftruncate(fd, static_cast<off_t>(good_bytes)) != 0) {
    failure += "; cutting it back to " + std::to_string(good_bytes) +
               " bytes also failed: " + strerror(errno);
  }
  // Some file systems (NFS) report a write's failure only at close. Not retried on EINTR:
  // Linux has released the descriptor by then.
  if (close(fd) != 0) {
    failure += failure.empty() ? "closing " + path + ": " + strerror(errno)
                               : std::string("; closing it also failed: ") + strerror(errno);
  }
  return failure;
}

}  // namespace

std::string StatePathIn(const std::string& storage_path) {
  return storage_path + "/connections.state";
}

bool SaveTrackerState(const std::string& path, const TrackerState& state, std::string& error) {
  error.clear();
  if (!CheckBootId(path, state.boot_id, error)) return false;
  return WriteFileAtomically("the connection state", path, SerializeTrackerState(state), error);
}

std::optional<TrackerState> LoadTrackerState(const std::string& path, std::string& error,
                                             std::string* journal_error) {
  error.clear();
  if (journal_error != nullptr) journal_error->clear();
  FileLoad snapshot = LoadStorageFile(path, kMaxStateFileBytes);
  if (snapshot.status == FileLoad::Status::kMissing) return std::nullopt;
  if (!snapshot.ok()) {
    error = LoadProblem(snapshot, "the connection state", path);
    return std::nullopt;
  }
  std::string problem;
  auto state = ParseTrackerState(snapshot.text, problem);
  if (!state) {
    error = "ignoring the connection state " + path + ": " + problem;
    return std::nullopt;
  }
  std::string journal_path = JournalPathFor(path);
  FileLoad journal = LoadStorageFile(journal_path, kMaxStateFileBytes);
  std::string journal_problem;
  if (journal.status == FileLoad::Status::kMissing) {
    // A snapshot alone: the journal was never created (or a crash came between the two).
  } else if (!journal.ok()) {
    journal_problem = LoadProblem(journal, "", journal_path);
  } else if (ReplayJournal(journal.text, snapshot.text, *state, problem); !problem.empty()) {
    journal_problem = journal_path + ": " + problem;
  }
  if (journal_error != nullptr) *journal_error = journal_problem;
  return state;
}

TrackerStateStore::TrackerStateStore(std::string state_path)
    : state_path_(std::move(state_path)), journal_path_(JournalPathFor(state_path_)) {}

bool TrackerStateStore::Compact(const TrackerState& state, std::string& error) {
  journal_ok_ = false;
  if (!CheckBootId(state_path_, state.boot_id, error)) return false;
  std::string text = SerializeTrackerState(state);
  if (!WriteFileAtomically("the connection state", state_path_, text, error)) return false;
  ++compactions_;
  snapshot_bytes_ = text.size();
  // Until this rename the old journal stays in place: it names the old snapshot's hash and
  // is ignored beside the new one.
  std::string header = JournalHeader(state.boot_id, text);
  if (!WriteFileAtomically("the connection journal", journal_path_, header, error)) return false;
  journal_bytes_ = header.size();
  journal_ok_ = true;
  return true;
}

bool TrackerStateStore::Save(const TrackerState& state, const ConnectionKeyList& added,
                             const ConnectionKeyList& removed, std::string& error) {
  error.clear();
  // The journal may grow to the snapshot's size (at least 256 KiB) before it is folded in:
  // both files together stay under about twice a full table.
  constexpr uint64_t kMinJournalBytes = 256u << 10;
  if (!journal_ok_ || journal_bytes_ > std::max(kMinJournalBytes, snapshot_bytes_)) {
    return Compact(state, error);
  }
  std::string records = JournalRecords(state, added, removed);
  if (records.empty()) return true;  // nothing changed: nothing to write or sync
  std::string failure = AppendSynced(journal_path_, records, journal_bytes_);
  if (!failure.empty()) {
    // Whatever failed, the next save rewrites the snapshot and starts a new journal rather
    // than append after a tail in doubt.
    journal_ok_ = false;
    error = "cannot save the connection journal " + journal_path_ + ": " + failure;
    return false;
  }
  journal_bytes_ += records.size();
  return true;
}

}  // namespace connwatch
