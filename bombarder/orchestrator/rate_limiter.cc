#include "bombarder/orchestrator/rate_limiter.h"

#include <algorithm>

namespace bombarder {

RateLimiter::RateLimiter(double per_second, double burst, size_t keys_max)
    : per_second_(per_second),
      burst_(std::max(burst, 1.0)),
      keys_max_(std::max<size_t>(keys_max, 1)) {}

bool RateLimiter::allow(const std::string& key, Clock::time_point now) {
  if (!enabled()) return true;
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= keys_max_) {
      buckets_.erase(std::min_element(
          buckets_.begin(), buckets_.end(),
          [](const auto& a, const auto& b) { return a.second.last < b.second.last; }));
    }
    it = buckets_.emplace(key, Bucket{burst_, now}).first;
  }
  Bucket& bucket = it->second;
  const double elapsed_s = std::chrono::duration<double>(now - bucket.last).count();
  bucket.tokens = std::min(burst_, bucket.tokens + std::max(elapsed_s, 0.0) * per_second_);
  bucket.last = std::max(bucket.last, now);
  if (bucket.tokens < 1) return false;
  bucket.tokens -= 1;
  return true;
}

ReplayGuard::Use ReplayGuard::use(const std::string& jti, uint64_t connection, int64_t exp,
                                  int64_t now) {
  if (auto it = jtis_.find(jti); it != jtis_.end()) {
    return it->second.connection == connection ? Use::kSameConnection : Use::kReplayed;
  }
  if (jtis_.size() >= jtis_max_) forget_expired(now);
  if (jtis_.size() >= jtis_max_) return Use::kFull;
  jtis_.emplace(jti, Seen{connection, exp});
  by_exp_.emplace(exp, jti);
  return Use::kFirst;
}

void ReplayGuard::forget_expired(int64_t now) {
  // A token is refused as expired from `exp` on: its id need not be remembered after that.
  while (!by_exp_.empty() && by_exp_.begin()->first <= now) {
    jtis_.erase(by_exp_.begin()->second);
    by_exp_.erase(by_exp_.begin());
  }
}

}  // namespace bombarder
