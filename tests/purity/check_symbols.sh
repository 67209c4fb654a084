#!/usr/bin/env bash
# purity.symbols: the built libraft archive must reference nothing outside the pure subset of
# the C++ runtime, and must define no mutable global or thread-local data (design.md §2,
# style.md habit 1). Usage: check_symbols.sh PATH/TO/libraft.a
#
# Why an allowlist: a denylist (pthread_, clock_gettime, open, ...) misses whatever nobody
# thought of (a new syscall wrapper, a vDSO clock, a logging library). Instead every symbol the
# archive needs from outside itself must match one of the patterns below, each of which is
# something a pure, single-threaded, I/O-free core may legitimately need. The patterns name
# families (e.g. all std::string members), not individual mangled overloads, so that ordinary
# code changes and compiler upgrades do not make the test flaky; a new family means a conscious
# edit here.
set -euo pipefail

archive=${1:?usage: check_symbols.sh PATH/TO/libraft.a}
[[ -f "$archive" ]] || { echo "purity.symbols: $archive not found (build the raft target)" >&2; exit 2; }

# Extended regexes over demangled names, for every object in the archive.
allowed=(
  '^operator (new|delete)(\[\])?\('                       # heap allocation
  '^(memcpy|memmove|memset|memcmp|memchr|strlen|strcmp)$'  # pure byte functions
  '^__(cxa_(allocate_exception|free_exception|throw|rethrow|begin_catch|end_catch|call_unexpected|get_exception_ptr|pure_virtual|deleted_virtual|bad_cast|bad_typeid|throw_bad_array_new_length)|gxx_personality_v0)$'  # exceptions, pure virtuals
  '^_Unwind_Resume$'                                      # stack unwinding
  '^std::__throw_[a-z_]+\('                              # libstdc++'s out-of-line throws
  '^std::terminate\(\)$'
  '^std::__glibcxx_assert_fail\('                         # _GLIBCXX_ASSERTIONS builds
  '^std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >::'  # std::string
  '^std::_Rb_tree_(insert_and_rebalance|rebalance_for_erase|increment|decrement)\('     # map, set
  '^std::__detail::_List_node_base::'                     # list
  '^std::__detail::_Prime_rehash_policy::'                # unordered_map, unordered_set
  '^std::_Hash_bytes\('                                   # std::hash of strings
  '^std::_Sp_make_shared_tag::'                           # make_shared
  '^__libc_single_threaded$'                              # shared_ptr: skip atomics if one thread
  '^(vtable|typeinfo|typeinfo name) for (__cxxabiv1::__(si_|vmi_)?class_type_info|std::(exception|bad_[a-z_]+|logic_error|length_error|out_of_range|invalid_argument|domain_error|runtime_error|overflow_error|underflow_error|range_error|_Sp_make_shared_tag))$'  # RTTI
  '^std::(exception|bad_[a-z_]+|logic_error|length_error|out_of_range|invalid_argument|domain_error|runtime_error|overflow_error|underflow_error|range_error)::'  # exception members
  '^__stack_chk_fail$'                                    # -fstack-protector builds
  '^_GLOBAL_OFFSET_TABLE_$'                               # PIC code
  '^__(asan|ubsan|lsan|tsan|msan|gcov|sanitizer_cov)_'    # instrumented builds (flags, not code)
)
# Allowed only in the object of src/types.cc: the crash report of a failed RAFT_ASSERT
# (print to stderr, abort). gcc may turn fprintf into fwrite/fputs/fputc.
allowed_in_types=('^(fprintf|fwrite|fputs|fputc|fflush|stderr|abort|std::abort\(\))$')

pattern=$(IFS='|'; echo "${allowed[*]}")
pattern_types=$(IFS='|'; echo "${allowed_in_types[*]}")

# nm's default format: a header line "member.o:" per archive member, then one line per symbol,
# "%016x %c name" when defined and 16 blanks instead of the address when undefined (U, w, v).
listing=$(nm --demangle "$archive")
defined=$(awk '
  /^$/ { next }
  /:$/ && substr($0, 17, 1) != " " { next }
  substr($0, 1, 1) != " " { print substr($0, 20) }' <<<"$listing" | sort -u)
# "member<TAB>name" for every undefined symbol.
undefined=$(awk '
  /^$/ { next }
  /:$/ && substr($0, 17, 1) != " " { member = substr($0, 1, length($0) - 1); next }
  substr($0, 1, 1) == " " { print member "\t" substr($0, 20) }' <<<"$listing" | sort -u)

violations=0
checked=0
while IFS=$'\t' read -r member name; do
  [[ -n "$name" ]] || continue
  grep -qxF -- "$name" <<<"$defined" && continue  # resolved inside the archive
  checked=$((checked + 1))
  [[ "$name" =~ $pattern ]] && continue
  [[ "$member" == types.cc.o && "$name" =~ $pattern_types ]] && continue
  echo "purity.symbols: $member references '$name', outside the pure-core allowlist" >&2
  violations=$((violations + 1))
done <<<"$undefined"

# No globals: no object in a writable section (.data, .bss, thread-local, common). Constants
# (.rodata), vtables and typeinfo (.data.rel.ro) are fine. DW.ref.* is the compiler's pointer to
# the exception personality routine, not program state.
while IFS= read -r line; do
  echo "purity.symbols: mutable global or static data: $line" >&2
  violations=$((violations + 1))
done < <(objdump -t --demangle "$archive" | awk -F'\t' '
  NF >= 2 {
    n = split($1, head, " ")
    section = head[n]
    flags = substr($1, 18, 7)
    name = $2; sub(/^[0-9a-f]+ /, "", name); sub(/^\.hidden /, "", name)
    # Skip functions (F), files (f) and section symbols (d). TLS symbols carry no O flag.
    if (flags ~ /[Ffd]/ || name ~ /^DW\.ref\./ || name == "") next
    if (section ~ /^\.(bss|tbss|tdata)/ || section == "*COM*" ||
        (section ~ /^\.data/ && section !~ /^\.data\.rel\.ro/))
      print section ": " name
  }')

if [[ $violations -gt 0 ]]; then
  echo "purity.symbols: FAILED, $violations violation(s) in $archive" >&2
  exit 1
fi
echo "purity.symbols: OK, $checked external symbol references checked, no mutable globals"
