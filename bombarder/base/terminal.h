// Whether output goes to a terminal: progress lines and in-place redraws only then; piped output
// stays plain.
#pragma once

namespace bombarder {

[[nodiscard]] bool stdout_is_terminal();
[[nodiscard]] bool stderr_is_terminal();

}  // namespace bombarder
