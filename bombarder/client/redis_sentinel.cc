#include "bombarder/client/redis_sentinel.h"

#include <future>

#include "bombarder/client/redis_resp.h"

namespace bombarder {

std::optional<common::Endpoint> sentinel_primary(const common::Endpoint& sentinel,
                                                 const std::string& master_name,
                                                 std::chrono::milliseconds timeout,
                                                 std::string* why) {
  RedisSession session(sentinel, timeout);
  const std::optional<RespReply> reply =
      session.command({"SENTINEL", "get-master-addr-by-name", master_name});
  if (!reply) {
    *why = "no reply from the sentinel: " + session.error();
    return std::nullopt;
  }
  // An array of two bulk strings, host and port; nil when the sentinel monitors no such master.
  if (reply->type != RespReply::Type::kArray || reply->elements.size() != 2 ||
      reply->elements[0].type != RespReply::Type::kString ||
      reply->elements[1].type != RespReply::Type::kString) {
    *why = "SENTINEL get-master-addr-by-name " + master_name + " answered " + reply->describe();
    return std::nullopt;
  }
  std::string parse_error;
  const auto address = common::Endpoint::parse(
      reply->elements[0].text + ":" + reply->elements[1].text, "127.0.0.1", &parse_error);
  if (!address) *why = "the sentinel named an unusable address: " + parse_error;
  return address;
}

std::optional<common::Endpoint> sentinels_primary(const std::vector<common::Endpoint>& sentinels,
                                                  const std::string& master_name,
                                                  std::chrono::milliseconds timeout) {
  std::vector<std::future<std::optional<common::Endpoint>>> asks;
  for (const common::Endpoint& sentinel : sentinels) {
    asks.push_back(std::async(std::launch::async, [&sentinel, &master_name, timeout] {
      std::string why;
      return sentinel_primary(sentinel, master_name, timeout, &why);
    }));
  }
  // Ordered by the first sentinel that named each address, so that a tie is decided the same way
  // every time (style.md: no unordered iteration reaching output).
  std::vector<std::pair<common::Endpoint, size_t>> votes;
  for (auto& ask : asks) {
    const std::optional<common::Endpoint> named = ask.get();
    if (!named) continue;
    bool counted = false;
    for (auto& [address, count] : votes) {
      if (address == *named) {
        ++count;
        counted = true;
      }
    }
    if (!counted) votes.emplace_back(*named, 1);
  }
  std::optional<common::Endpoint> best;
  size_t best_votes = 0;
  for (const auto& [address, count] : votes) {
    if (count > best_votes) {
      best = address;
      best_votes = count;
    }
  }
  return best;
}

SentinelWatch::SentinelWatch(std::vector<common::Endpoint> sentinels, std::string master_name,
                             std::vector<common::Endpoint> node_addresses,
                             std::chrono::milliseconds interval)
    : sentinels_(std::move(sentinels)),
      master_name_(std::move(master_name)),
      nodes_(std::move(node_addresses)),
      interval_(interval),
      thread_([this] { run(); }) {}

SentinelWatch::~SentinelWatch() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::optional<size_t> SentinelWatch::primary() const {
  const int64_t index = primary_.load(std::memory_order_acquire);
  if (index == kUnknown) return std::nullopt;
  return static_cast<size_t>(index);
}

void SentinelWatch::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    // Each ask is bounded by the interval, so that the destructor waits at most about that long.
    const auto named = sentinels_primary(sentinels_, master_name_, interval_);
    if (named) {
      int64_t index = kUnknown;
      for (size_t i = 0; i < nodes_.size(); ++i) {
        if (nodes_[i] == *named) index = static_cast<int64_t>(i);
      }
      primary_.store(index, std::memory_order_release);
    }
    lock.lock();
    wake_.wait_for(lock, interval_, [this] { return stopping_; });
  }
}

}  // namespace bombarder
