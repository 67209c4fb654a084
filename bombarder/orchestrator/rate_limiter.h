// Rate limits of the orchestrator (issue 17): a token bucket per key (a bearer token for REST,
// an agent id for its WebSocket messages). A key may spend `burst` at once, refilled at
// `per_second`; time is passed in, so it is tested without a clock.
//
// Bounds: at most `keys_max` buckets. When a new key finds them all taken, the bucket idle the
// longest is dropped (its key starts again full: a bound on memory, not a way around the limit,
// since the limited key's own bucket is the one in use). per_second == 0 turns the limit off.
// Not thread-safe: the orchestrator's one thread.
#pragma once

#include <chrono>
#include <map>
#include <string>

namespace bombarder {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  RateLimiter(double per_second, double burst, size_t keys_max);

  // True when `key` may do one more thing at `now` (and that is counted); false when it is over
  // its rate.
  [[nodiscard]] bool allow(const std::string& key, Clock::time_point now);
  [[nodiscard]] bool enabled() const { return per_second_ > 0; }
  [[nodiscard]] size_t keys() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens;
    Clock::time_point last;
  };
  double per_second_;
  double burst_;
  size_t keys_max_;
  std::map<std::string, Bucket> buckets_;
};

// Replay detection of agent tokens (issue 17): each token id (`jti`) is bound to the first
// connection that presents it and remembered until the token expires. The same token on that
// connection again is its normal use (an agent sends its current token with every message until
// a heartbeat answer brings the next one); on any other connection it is a replay.
//
// Bounds: at most `jtis_max` remembered; expired ones are forgotten first. With all of them
// live, a new token is refused (kFull) rather than forgotten: forgetting would let it be
// replayed. With a 5-minute lifetime and one token per heartbeat per agent, 1,000 agents at 5 s
// hold 60,000.
class ReplayGuard {
 public:
  explicit ReplayGuard(size_t jtis_max) : jtis_max_(jtis_max) {}
  enum class Use { kFirst, kSameConnection, kReplayed, kFull };
  // `exp` and `now`: seconds since the epoch.
  [[nodiscard]] Use use(const std::string& jti, uint64_t connection, int64_t exp, int64_t now);
  void forget_expired(int64_t now);
  [[nodiscard]] size_t size() const { return jtis_.size(); }

 private:
  struct Seen {
    uint64_t connection;
    int64_t exp;
  };
  size_t jtis_max_;
  std::map<std::string, Seen> jtis_;
  std::multimap<int64_t, std::string> by_exp_;
};

}  // namespace bombarder
