#include "bombarder/cluster/verify.h"

#include <algorithm>
#include <cinttypes>
#include <map>
#include <set>
#include <thread>

#include "bombarder/base/data_root.h"
#include "bombarder/base/errors.h"
#include "bombarder/base/text.h"
#include "bombarder/client/api_client.h"
#include "bombarder/client/node_url.h"
#include "bombarder/client/store_adapter.h"
#include "bombarder/cluster/etcd_state.h"
#include "bombarder/cluster/redis_state.h"

namespace bombarder {

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Entry fields by id, as one node holds them.
using EntryMap = std::map<std::string, Json>;

// Every entry of a node's local state, paged by id. nullopt (and *why) if a page failed.
std::optional<EntryMap> fetch_all(ApiClient& client, const common::Endpoint& node,
                                  std::string* why) {
  EntryMap entries;
  std::string after;
  while (true) {
    std::string target = "/api/kv?consistency=local&limit=10000";
    if (!after.empty()) target += "&after=" + after;
    const ApiResponse page = client.get(node, target, 30s);
    if (page.status != 200) {
      *why = "GET " + target + ": " + page.describe();
      return std::nullopt;
    }
    const Json list = page.json();
    if (!list.is_array()) {
      *why = "GET " + target + ": not a JSON array";
      return std::nullopt;
    }
    if (list.empty()) return entries;
    for (const Json& entry : list) {
      const std::string id = entry.value("id", "");
      if (id.empty()) {
        *why = "an entry without an id";
        return std::nullopt;
      }
      after = id;
      entries.emplace(id, entry);
    }
  }
}

struct Settled {
  bool converged = false;
  std::string why;  // when not converged
  ClusterView view;
};

// Redis: why the nodes are not settled although their offsets may agree, or "". A replica whose
// link to its primary is down is resynchronizing (after a Sentinel failover, the old primary
// turned replica drops its clients and loads the new primary's data), and a node that answered
// INFO but then not DIGEST or DBSIZE (`answered` nodes did) is in the middle of it.
std::string redis_unsettled(const ClusterView& view, size_t answered) {
  if (view.reachable() < answered) {
    return "a Redis node stopped answering while its state was read (resynchronizing?)";
  }
  for (const auto& node : view.nodes) {
    if (node.status && node.status->role == "follower" && node.status->leader.empty()) {
      return node.endpoint.to_string() + " has no link to its primary (resynchronizing?)";
    }
  }
  return "";
}

// Polls until every reachable node reports the same applied index, its hash describes that
// index, and it equals the commit index the nodes know (no write in flight).
Settled wait_settled(ApiClient& client, const VerifyOptions& options) {
  const std::vector<common::Endpoint>& nodes = options.nodes;
  const auto deadline = Clock::now() + options.timeout;
  const auto store = make_store_adapter(options.system, false);
  Settled s;
  while (true) {
    s.view = survey(*store, client, nodes, 2s);
    if (options.system == StoreSystem::kEtcd) add_etcd_state(client, s.view);
    std::string redis_why;
    if (options.system == StoreSystem::kRedis) {
      const size_t answered = s.view.reachable();
      add_redis_state(s.view);
      redis_why = redis_unsettled(s.view, answered);
    }
    s.converged = false;
    std::set<uint64_t> applied, commit;
    bool hash_current = true;
    for (const auto& node : s.view.nodes) {
      if (!node.status) continue;
      applied.insert(node.status->applied_index);
      commit.insert(node.status->commit_index);
      hash_current = hash_current && node.status->state_hash_index == node.status->applied_index;
    }
    if (applied.empty()) {
      s.why = "no node reachable";
      return s;  // nothing to wait for
    } else if (applied.size() > 1) {
      s.why = "applied indexes differ (" + std::to_string(*applied.begin()) + " .. " +
              std::to_string(*applied.rbegin()) + ")";
    } else if (*commit.rbegin() > *applied.begin()) {
      s.why = "commit index " + std::to_string(*commit.rbegin()) + " ahead of applied " +
              std::to_string(*applied.begin());
    } else if (!hash_current) {
      s.why = "a state hash is not yet computed at the applied index";
    } else if (!redis_why.empty()) {
      s.why = redis_why;
    } else {
      s.converged = true;
      return s;
    }
    if (Clock::now() >= deadline) return s;
    std::this_thread::sleep_for(100ms);  // poll interval, bounded by the deadline
  }
}

struct AckedCheck {
  uint64_t checked = 0;
  uint64_t missing = 0;      // acknowledged present, absent
  uint64_t wrong_value = 0;  // present with another value
  uint64_t resurrected = 0;  // acknowledged deleted, present
  uint64_t uncertain = 0;    // ids whose last write's outcome is unknown (either state accepted)
  std::vector<std::string> examples;
  [[nodiscard]] bool ok() const { return missing + wrong_value + resurrected == 0; }
};

AckedCheck check_acked(const RunRecord& run, const EntryMap& entries) {
  AckedCheck c;
  const auto note = [&c](std::string text) {
    if (c.examples.size() < 5) c.examples.push_back(std::move(text));
  };
  for (const auto& [id, write] : run.acked) {
    ++c.checked;
    const auto it = entries.find(id);
    const bool present = it != entries.end();
    const std::string value = present ? it->second.value("value", "") : "";
    const bool acked_state_holds = write.deleted ? !present : (present && value == write.value);
    bool uncertain_state_holds = false;
    if (write.uncertain) {
      ++c.uncertain;
      uncertain_state_holds =
          write.uncertain_delete ? !present : (present && value == write.uncertain_value);
    }
    if (acked_state_holds || uncertain_state_holds) continue;
    if (write.deleted) {
      ++c.resurrected;
      note(id + ": acknowledged deleted, present with value '" + value.substr(0, 40) + "'");
    } else if (!present) {
      ++c.missing;
      note(id + " (key " + write.key + "): acknowledged, absent");
    } else {
      ++c.wrong_value;
      note(id + ": value '" + value.substr(0, 40) + "', acknowledged '" +
           write.value.substr(0, 40) + "'");
    }
  }
  return c;
}

// State hashes and entry counts of the reachable nodes.
struct StateAgreement {
  std::set<std::string> hashes;
  std::set<uint64_t> counts;
  size_t unreachable = 0;
  [[nodiscard]] bool match() const { return hashes.size() == 1 && counts.size() == 1; }
};

StateAgreement state_agreement(const ClusterView& view) {
  StateAgreement c;
  for (const auto& node : view.nodes) {
    if (!node.status) {
      ++c.unreachable;
      continue;
    }
    c.hashes.insert(node.status->state_hash);
    c.counts.insert(node.status->entry_count);
  }
  return c;
}

Json node_rows(const ClusterView& view) {
  Json rows = Json::array();
  for (const auto& node : view.nodes) {
    Json row = {{"address", node.endpoint.to_string()}, {"reachable", node.status.has_value()}};
    if (node.status) {
      const StatusResponse& s = *node.status;
      row.update({{"node_id", s.node_id},
                  {"role", s.role},
                  {"term", s.term},
                  {"commit_index", s.commit_index},
                  {"applied_index", s.applied_index},
                  {"entry_count", s.entry_count},
                  {"state_hash", s.state_hash}});
    } else {
      row["error"] = node.error;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

// Every entry of every reachable node; a node whose listing failed has none and an error in
// `errors` (address -> why).
std::vector<std::optional<EntryMap>> fetch_entries(ApiClient& client, const ClusterView& view,
                                                   StoreSystem system, Json& errors) {
  std::vector<std::optional<EntryMap>> entries(view.nodes.size());
  for (size_t i = 0; i < view.nodes.size(); ++i) {
    if (!view.nodes[i].status) continue;
    std::string why;
    entries[i] = system == StoreSystem::kEtcd
                     ? fetch_etcd_entries(client, view.nodes[i].endpoint, &why)
                     : fetch_all(client, view.nodes[i].endpoint, &why);
    if (system == StoreSystem::kRedis) {
      entries[i] = fetch_redis_entries(view.nodes[i].endpoint, &why);
    }
    if (!entries[i]) errors[view.nodes[i].endpoint.to_string()] = why;
  }
  return entries;
}

struct DeepComparison {
  uint64_t differences = 0;
  std::vector<std::string> examples;  // at most 5
};

// Every node's entries against the first listed node's (`a` and `b` name them in examples).
void compare_entries(const EntryMap& reference, const std::string& a, const EntryMap& other,
                     const std::string& b, DeepComparison& c) {
  const auto note = [&c](std::string text) {
    if (c.examples.size() < 5) c.examples.push_back(std::move(text));
  };
  for (const auto& [id, entry] : reference) {
    const auto it = other.find(id);
    if (it == other.end()) {
      ++c.differences;
      note(id + ": on " + a + ", not on " + b);
    } else if (it->second != entry) {
      ++c.differences;
      note(id + ": " + a + " " + entry.dump() + " vs " + b + " " + it->second.dump());
    }
  }
  for (const auto& [id, entry] : other) {
    if (!reference.contains(id)) {
      ++c.differences;
      note(id + ": on " + b + ", not on " + a);
    }
  }
}

DeepComparison compare_deep(const ClusterView& view,
                            const std::vector<std::optional<EntryMap>>& entries) {
  DeepComparison c;
  const auto first = std::find_if(entries.begin(), entries.end(),
                                  [](const std::optional<EntryMap>& e) { return e.has_value(); });
  if (first == entries.end()) return c;
  const size_t reference = static_cast<size_t>(first - entries.begin());
  for (size_t i = reference + 1; i < entries.size(); ++i) {
    if (!entries[i]) continue;
    compare_entries(*entries[reference], view.nodes[reference].endpoint.to_string(), *entries[i],
                    view.nodes[i].endpoint.to_string(), c);
  }
  return c;
}

// The run's acknowledged writes on every node that listed its entries.
struct AckedOutcome {
  bool ok = true;
  Json json;
  std::vector<std::string> lines;
};

AckedOutcome check_acked_on_nodes(const RunRecord& run, const ClusterView& view,
                                  const std::vector<std::optional<EntryMap>>& entries) {
  AckedOutcome out;
  out.json = {{"run", run.id}, {"acknowledged_ids", run.acked.size()}};
  Json per_node = Json::object();
  for (size_t i = 0; i < view.nodes.size(); ++i) {
    const std::string address = view.nodes[i].endpoint.to_string();
    if (!entries[i]) continue;
    const AckedCheck c = check_acked(run, *entries[i]);
    out.ok = out.ok && c.ok();
    per_node[address] = {{"checked", c.checked},         {"missing", c.missing},
                         {"wrong_value", c.wrong_value}, {"resurrected", c.resurrected},
                         {"uncertain", c.uncertain},     {"ok", c.ok()},
                         {"examples", c.examples}};
    std::string line;
    line +=
        printf_text("  %-22s %s  checked %" PRIu64 "  missing %" PRIu64 "  wrong value %" PRIu64
                    "  resurrected %" PRIu64 "  (uncertain, either state accepted: %" PRIu64 ")",
                    address.c_str(), c.ok() ? "OK  " : "LOST", c.checked, c.missing, c.wrong_value,
                    c.resurrected, c.uncertain);
    out.lines.push_back(line);
    for (const std::string& e : c.examples) out.lines.push_back("      " + e);
  }
  out.json["nodes"] = per_node;
  return out;
}

// The node table of `verify`.
void append_node_table(std::string& text, const ClusterView& view, bool hashes_match) {
  text += printf_text("%-22s %-9s %-6s %-9s %-9s %-9s %-18s %s\n", "node", "role", "term", "commit",
                      "applied", "entries", "state hash", "");
  for (const auto& node : view.nodes) {
    if (!node.status) {
      text += printf_text("%-22s unreachable: %s\n", node.endpoint.to_string().c_str(),
                          node.error.c_str());
      continue;
    }
    const StatusResponse& s = *node.status;
    text += printf_text(
        "%-22s %-9s %-6" PRIu64 " %-9" PRIu64 " %-9" PRIu64 " %-9" PRIu64 " %-18s %s\n",
        node.endpoint.to_string().c_str(), s.role.c_str(), s.term, s.commit_index, s.applied_index,
        s.entry_count, s.state_hash.c_str(), hashes_match ? "match" : "DIFFERS");
  }
}

// Everything a verification found, for its text.
struct Findings {
  const Settled& settled;
  const StateAgreement& hashes;
  const Json& fetch_errors;
  const std::optional<DeepComparison>& deep;
  const std::optional<AckedOutcome>& acked;
};

std::string verify_text(const VerifyOptions& options, const Findings& found, bool passed) {
  std::string text;
  append_node_table(text, found.settled.view, found.hashes.match());
  if (!found.settled.converged) {
    text += printf_text("not converged after %.1f s: %s\n",
                        std::chrono::duration<double>(options.timeout).count(),
                        found.settled.why.c_str());
  }
  if (found.hashes.unreachable > 0) {
    text += printf_text("%zu node(s) unreachable\n", found.hashes.unreachable);
  }
  text += printf_text("state hashes and entry counts: %s\n",
                      found.hashes.match() ? "identical on every reachable node" : "DIFFER");
  for (const auto& [address, why] : found.fetch_errors.items()) {
    text += printf_text("cannot list the entries of %s: %s\n", address.c_str(),
                        why.get<std::string>().c_str());
  }
  if (found.deep) {
    text += printf_text("deep comparison: %s\n",
                        found.deep->differences == 0
                            ? "every entry identical on every node"
                            : (std::to_string(found.deep->differences) + " differences").c_str());
    for (const std::string& line : found.deep->examples)
      text += printf_text("  %s\n", line.c_str());
  }
  if (options.run) {
    text += printf_text("acknowledged writes of run %s (%zu ids):\n", options.run->id.c_str(),
                        options.run->acked.size());
    for (const std::string& line : found.acked->lines) text += printf_text("%s\n", line.c_str());
  } else if (options.run_wanted) {
    text += printf_text("no load run recorded under %s: acknowledged-writes check skipped\n",
                        (data_root() / "runs").string().c_str());
  }
  text += printf_text("verify: %s\n", passed ? "PASS" : "FAIL");
  return text;
}

}  // namespace

VerifyOutcome verify_cluster(const VerifyOptions& options) {
  const std::vector<common::Endpoint>& nodes = options.nodes;
  ApiClient client;
  const Settled settled = wait_settled(client, options);
  const ClusterView& view = settled.view;
  if (view.reachable() == 0) {
    environment_failure("no node answers /status (" + node_url(nodes[0]) + ": " +
                        view.nodes[0].error + "); is a cluster running?");
  }
  const StateAgreement hashes = state_agreement(view);
  bool passed = settled.converged && hashes.match() && hashes.unreachable == 0;
  Json report = {{"converged", settled.converged},
                 {"hashes_match", hashes.match()},
                 {"unreachable", hashes.unreachable}};
  if (!settled.converged) report["not_converged_because"] = settled.why;
  report["nodes"] = node_rows(view);

  // Entries per node: needed by --deep and by the acknowledged-writes check.
  std::vector<std::optional<EntryMap>> entries(view.nodes.size());
  Json fetch_errors = Json::object();
  if (options.deep || (options.run && !options.run->acked.empty())) {
    entries = fetch_entries(client, view, options.system, fetch_errors);
    passed = passed && fetch_errors.empty();
    if (!fetch_errors.empty()) report["fetch_errors"] = fetch_errors;
  }
  std::optional<DeepComparison> deep;
  if (options.deep) {
    deep = compare_deep(view, entries);
    passed = passed && deep->differences == 0;
    report["deep"] = {{"differences", deep->differences}, {"examples", deep->examples}};
  }
  std::optional<AckedOutcome> acked;
  if (options.run) {
    acked = check_acked_on_nodes(*options.run, view, entries);
    passed = passed && acked->ok;
    report["acked"] = acked->json;
  }
  report["passed"] = passed;
  std::string text =
      verify_text(options, Findings{settled, hashes, fetch_errors, deep, acked}, passed);
  return VerifyOutcome{passed, std::move(report), std::move(text)};
}

}  // namespace bombarder
