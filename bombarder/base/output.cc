#include "bombarder/base/output.h"

#include <string>

#include "bombarder/base/text.h"

namespace bombarder {

std::FILE* status_stream(bool json) { return json ? stderr : stdout; }

void status_line(bool json, std::string_view text) {
  std::FILE* out = status_stream(json);
  std::fprintf(out, "%.*s\n", static_cast<int>(text.size()), text.data());
  std::fflush(out);
}

void stamped_status_line(bool json, std::string_view text) {
  status_line(json, utc_timestamp_now() + " " + std::string(text));
}

}  // namespace bombarder
