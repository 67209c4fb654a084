#include "bombarder/commands/metrics_flags.h"

#include "bombarder/commands/duration_flag.h"

namespace bombarder {

void add_metrics_flags(CLI::App* command, MetricsFlags& flags) {
  command
      ->add_option("--metrics-port", flags.port,
                   "Serve Prometheus metrics on this port while running (0: any free port; "
                   "the URL is printed)")
      ->check(CLI::Range(0, 65535));
  command->add_option("--metrics-host", flags.host, "Address the metrics endpoint binds")
      ->capture_default_str();
  add_seconds_option(command, "--metrics-linger", flags.linger_s,
                     "How long the metrics endpoint stays up after the work is done, so a last "
                     "scrape sees the final counts (Ctrl-C ends it)")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
}

}  // namespace bombarder
