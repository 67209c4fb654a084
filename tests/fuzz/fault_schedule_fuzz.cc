// Fuzz target: fault schedules (bombarder/faults/fault_schedule.h), the JSON and TOML files
// `bombarder inject --schedule` reads.
//
// Input: byte 0 picks the format (even: JSON, odd: TOML), the rest is the file.
// Oracles: parse_schedule_text either returns faults within the documented bounds or throws
// bombarder::Error of kind kInvalidInput with a message (the command line's one-line error),
// never anything else.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "bombarder/base/errors.h"
#include "bombarder/faults/fault_schedule.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const auto format =
      (data[0] & 1) == 0 ? bombarder::ScheduleFormat::kJson : bombarder::ScheduleFormat::kToml;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<bombarder::Fault> faults;
  try {
    faults = bombarder::parse_schedule_text(text, format, "fuzz");
  } catch (const bombarder::Error& e) {
    FUZZ_CHECK(e.what()[0] != '\0', "a rejected schedule says why");
    FUZZ_CHECK(e.kind() == bombarder::ErrorKind::kInvalidInput, "a bad schedule is invalid input");
    return 0;
  }
  FUZZ_CHECK(!faults.empty() && faults.size() <= bombarder::kFaultsMax, "fault count bound");
  for (const bombarder::Fault& fault : faults) {
    FUZZ_CHECK(fault.at <= bombarder::kFaultTimeMax, "start within 24 h");
    FUZZ_CHECK(fault.duration <= bombarder::kFaultTimeMax, "duration within 24 h");
    FUZZ_CHECK(!fault.describe().empty(), "a fault describes itself");
  }
  return 0;
}
