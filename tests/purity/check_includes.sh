#!/usr/bin/env bash
# purity.includes: libraft's sources may only use standard headers that cannot bring in I/O,
# threads, clocks, randomness or global state (design.md §2, style.md habit 1), and its build file
# may link nothing. Usage: check_includes.sh LIBRAFT_DIR
#
# An allowlist, not a denylist: a header nobody thought of fails until someone decides it is pure
# and adds it here with a reason.
set -euo pipefail

libraft=${1:?usage: check_includes.sh LIBRAFT_DIR}
[[ -d "$libraft/include/raft" && -d "$libraft/src" ]] || {
  echo "purity.includes: $libraft has no include/raft or src" >&2
  exit 2
}

# Standard headers a pure core may include. Deliberately absent:
#   thread mutex shared_mutex condition_variable future atomic semaphore latch barrier stop_token
#     execution                                      threads and synchronization
#   chrono ctime                                     clocks (time enters only as tick())
#   random cstdlib                                   randomness (use raft/rand.h, seeded by caller)
#   fstream iostream istream ostream sstream ios iomanip streambuf syncstream cstdio filesystem
#                                                    I/O
#   locale clocale cctype cwctype cerrno csignal csetjmp memory_resource system_error
#                                                    process-wide mutable state
#   cassert                                          assert() vanishes in Release; use RAFT_ASSERT
#   cmath cfenv                                      the core has no floating point
# Anything non-standard (boost, rocksdb, spdlog, fmt, nlohmann, asio, gtest...) is absent too.
allowed=(
  algorithm any array bit bitset charconv cinttypes climits compare concepts cstddef cstdint
  cstring deque exception forward_list functional initializer_list iterator limits list map
  memory new numbers numeric optional queue ranges set source_location span stack stdexcept
  string string_view tuple type_traits typeinfo unordered_map unordered_set utility variant
  vector version
)
# Headers allowed in one file only: the crash report for a failed invariant (RAFT_ASSERT) writes
# to stderr and aborts, and lives in src/types.cc.
declare -A allowed_only_in=(
  [cstdio]=src/types.cc
  [cstdlib]=src/types.cc
)

declare -A allowed_set=()
for h in "${allowed[@]}"; do allowed_set[$h]=1; done

violations=0
report() {
  echo "purity.includes: $1" >&2
  violations=$((violations + 1))
}

files=()
while IFS= read -r -d '' f; do files+=("$f"); done < <(
  find "$libraft/include" "$libraft/src" -type f -print0 | sort -z)
[[ ${#files[@]} -gt 0 ]] || { echo "purity.includes: no files under $libraft" >&2; exit 2; }

for file in "${files[@]}"; do
  rel=${file#"$libraft"/}
  lineno=0
  while IFS= read -r line || [[ -n "$line" ]]; do
    lineno=$((lineno + 1))
    # Any preprocessor line starting with "include" (also include_next and macro includes).
    [[ "$line" =~ ^[[:space:]]*#[[:space:]]*include ]] || continue
    where="libraft/$rel:$lineno: ${line#"${line%%[![:space:]]*}"}"
    if [[ "$line" =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\<([^>]+)\> ]]; then
      header=${BASH_REMATCH[1]}
      if [[ -n "${allowed_set[$header]:-}" ]]; then
        continue
      elif [[ -n "${allowed_only_in[$header]:-}" ]]; then
        [[ "$rel" == "${allowed_only_in[$header]}" ]] ||
          report "$where: <$header> is allowed only in libraft/${allowed_only_in[$header]}"
      else
        report "$where: <$header> is not on the pure-core allowlist"
      fi
    elif [[ "$line" =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]+)\" ]]; then
      header=${BASH_REMATCH[1]}
      if [[ "$header" != raft/* ]]; then
        report "$where: quoted includes must be \"raft/...\""
      elif [[ ! -f "$libraft/include/$header" ]]; then
        report "$where: $header is not in libraft/include"
      fi
    else
      report "$where: unrecognized include form"
    fi
  done <"$file"
done

# The library links the standard library only: its build file names no other library.
cmake_file="$libraft/CMakeLists.txt"
if [[ -f "$cmake_file" ]]; then
  while IFS= read -r hit; do
    report "libraft/CMakeLists.txt:$hit: libraft links only the standard library"
  done < <(grep -n -i -E \
    '^[^#]*(target_link_libraries|link_libraries|target_link_directories|link_directories|find_package|FetchContent|ExternalProject|pkg_check_modules|-l[a-z])' \
    "$cmake_file" || true)
fi

if [[ $violations -gt 0 ]]; then
  echo "purity.includes: FAILED, $violations violation(s) in libraft" >&2
  exit 1
fi
echo "purity.includes: OK, ${#files[@]} files checked"
