#include "bombarder/load/load_report.h"

#include <cinttypes>
#include <cmath>

#include "bombarder/base/text.h"

namespace bombarder {

using Json = nlohmann::json;

namespace {

constexpr double kPercentiles[] = {50, 90, 99, 99.9};

std::string latency_line(const common::Histogram& h) {
  std::string line;
  for (double p : kPercentiles) {
    line += printf_text("p%g %-9s ", p, format_duration_us(h.percentile(p)).c_str());
  }
  return line + "max " + format_duration_us(h.max_us());
}

Json latency_json(const common::Histogram& h) {
  const auto ms = [](uint64_t us) { return static_cast<double>(us) / 1000.0; };
  return {{"count", h.count()},
          {"p50_ms", ms(h.percentile(50))},
          {"p90_ms", ms(h.percentile(90))},
          {"p99_ms", ms(h.percentile(99))},
          {"p999_ms", ms(h.percentile(99.9))},
          {"max_ms", ms(h.max_us())},
          {"mean_ms", h.mean_us() / 1000.0}};
}

// A share as printed with two decimals, rounded down: 2 failures in 76,899 requests show as
// 99.99%, not as a "100.00%" beside a FAIL against a required 100%.
// (The 1e-6 keeps an exact share that the division left a hair low, 57.999999..., at 58.00.)
double shown_pct(double pct) { return std::floor(pct * 100.0 + 1e-6) / 100.0; }

}  // namespace

std::string human_summary(const RunHeader& header, const LoadResult& r,
                          const std::vector<ChaosEvent>& chaos) {
  std::string out;
  const double seconds = std::chrono::duration<double>(r.elapsed).count();
  out += printf_text("%s: %" PRIu64 " requests, %s, concurrency %zu, %.2f s%s\n",
                     header.command.c_str(), r.requests, header.target.c_str(), header.concurrency,
                     seconds, r.interrupted ? " (interrupted)" : "");
  out += printf_text("  succeeded   %" PRIu64 " (%.2f%%)   failed %" PRIu64 "   retries %" PRIu64
                     "   attempts %" PRIu64 "\n",
                     r.succeeded, shown_pct(r.success_pct()), r.failed, r.retries, r.attempts);
  out += printf_text("  throughput  %.1f req/s\n", r.throughput());
  out += "  latency     " + latency_line(r.latency) + "\n";
  bool any_op = false;
  for (size_t k = 0; k < kOpKindCount; ++k) {
    const OpStats& op = r.ops[k];
    if (op.succeeded + op.failed == 0) continue;
    if (!any_op) out += "  by operation:\n";
    any_op = true;
    out += printf_text("    %-7s ok %-8" PRIu64 " failed %-6" PRIu64 " ",
                       to_string(static_cast<OpKind>(k)), op.succeeded, op.failed) +
           latency_line(op.latency) + "\n";
  }
  if (r.failed > 0) {
    out += "  failures by kind:\n";
    for (size_t k = 0; k < kFailureKindCount; ++k) {
      if (r.failures[k] == 0) continue;
      out +=
          printf_text("    %-16s %-8" PRIu64 " e.g. %s\n", to_string(static_cast<FailureKind>(k)),
                      r.failures[k], r.failure_examples[k].c_str());
    }
  }
  if (r.creates_unknown > 0) {
    out += printf_text("  creates with unknown outcome (id never learnt): %" PRIu64 "\n",
                       r.creates_unknown);
  }
  std::string responses;
  for (const auto& [status, n] : r.responses) {
    responses += printf_text("  %s x %" PRIu64,
                             status == 0 ? "transport-error" : std::to_string(status).c_str(), n);
  }
  out += "  answers    " + responses + "\n";
  for (const BreakerReport& b : r.breakers) {
    out += printf_text("  breaker     %-21s %-9s opened %" PRIu64 "  half-open %" PRIu64
                       "  closed %" PRIu64 "  rejected %" PRIu64 "\n",
                       b.node.c_str(), to_string(b.state), b.counters.opened,
                       b.counters.half_opened, b.counters.closed, b.counters.rejected);
  }
  if (!chaos.empty()) {
    out += printf_text("  chaos: %zu actions\n", chaos.size());
    for (const ChaosEvent& e : chaos) {
      out += printf_text("    t=%7.2fs  %-15s node %" PRIu64 " (%s)  %s\n", e.at_s,
                         e.action.c_str(), e.node_id, e.address.c_str(), e.detail.c_str());
    }
  }
  const bool ok = r.success_pct() >= header.min_success_pct && !r.interrupted;
  out += printf_text("  result      %s (success %.2f%%, required %.2f%%)\n", ok ? "PASS" : "FAIL",
                     shown_pct(r.success_pct()), header.min_success_pct);
  return out;
}

Json json_summary(const RunHeader& header, const LoadResult& r,
                  const std::vector<ChaosEvent>& chaos) {
  Json ops = Json::object();
  for (size_t k = 0; k < kOpKindCount; ++k) {
    const OpStats& op = r.ops[k];
    ops[to_string(static_cast<OpKind>(k))] = {
        {"succeeded", op.succeeded}, {"failed", op.failed}, {"latency", latency_json(op.latency)}};
  }
  Json failures = Json::object();
  for (size_t k = 0; k < kFailureKindCount; ++k) {
    failures[to_string(static_cast<FailureKind>(k))] = r.failures[k];
  }
  Json answers = Json::object();
  for (const auto& [status, n] : r.responses) {
    answers[status == 0 ? "transport_error" : std::to_string(status)] = n;
  }
  Json events = Json::array();
  for (const ChaosEvent& e : chaos) {
    events.push_back({{"at_s", e.at_s},
                      {"action", e.action},
                      {"node_id", e.node_id},
                      {"address", e.address},
                      {"detail", e.detail}});
  }
  Json breakers = Json::array();
  for (const BreakerReport& b : r.breakers) {
    breakers.push_back({{"node", b.node},
                        {"state", to_string(b.state)},
                        {"opened", b.counters.opened},
                        {"half_opened", b.counters.half_opened},
                        {"closed", b.counters.closed},
                        {"rejected", b.counters.rejected}});
  }
  return {{"command", header.command},
          {"target", header.target},
          {"concurrency", header.concurrency},
          {"elapsed_s", std::chrono::duration<double>(r.elapsed).count()},
          {"requests", r.requests},
          {"succeeded", r.succeeded},
          {"failed", r.failed},
          {"success_pct", r.success_pct()},
          {"min_success_pct", header.min_success_pct},
          {"passed", r.success_pct() >= header.min_success_pct && !r.interrupted},
          {"interrupted", r.interrupted},
          {"attempts", r.attempts},
          {"retries", r.retries},
          {"throughput_rps", r.throughput()},
          {"latency", latency_json(r.latency)},
          {"operations", std::move(ops)},
          {"failures", std::move(failures)},
          {"creates_unknown", r.creates_unknown},
          {"answers", std::move(answers)},
          {"chaos", std::move(events)},
          {"breakers", std::move(breakers)}};
}

void draw_progress(std::FILE* out, const std::string& command, const LoadProgress& p) {
  const double seconds = std::chrono::duration<double>(p.elapsed).count();
  const double rate = seconds > 0 ? static_cast<double>(p.completed) / seconds : 0.0;
  std::string done = std::to_string(p.completed);
  if (p.target > 0) done += "/" + std::to_string(p.target);
  std::fprintf(out,
               "\r\033[K[%s] %s  ok %" PRIu64 "  failed %" PRIu64 "  retries %" PRIu64
               "  %.0f req/s  %.1f s",
               command.c_str(), done.c_str(), p.succeeded, p.failed, p.retries, rate, seconds);
  std::fflush(out);
}

void clear_progress(std::FILE* out) {
  std::fputs("\r\033[K", out);
  std::fflush(out);
}

}  // namespace bombarder
