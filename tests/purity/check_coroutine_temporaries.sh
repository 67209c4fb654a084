#!/usr/bin/env bash
# purity.coroutine_temporaries: no braced temporary inside a co_await expression.
# Usage: check_coroutine_temporaries.sh DIR...
#
# g++ 12.2 (Debian 12's compiler, which builds what ships) destroys an aggregate prvalue passed
# by value to a coroutine twice when it is written inside the co_await expression,
# `co_await f(Agg{...})`, if a member has a destructor: a shared_ptr member loses two counts and
# frees its object under its other owners. That was the proxy's heap corruption in d831e5f
# (`co_await apply_toxic(..., ChainAt{chain, index, dir})`), which clang (the ASan tree) does
# not reproduce and Release runs showed in 1 run of 6. Name the value before the co_await, or
# give the type a constructor (bombarder/proxy/link.h, "Coroutine rules").
#
# The check is textual: in every C++ file under DIR that uses co_await, the text from `co_await`
# to the end of its statement (a block's opening brace at the end of a line aside) may hold no
# `{`. It reports file:line and the statement.
set -euo pipefail
[[ $# -gt 0 ]] || { echo "usage: check_coroutine_temporaries.sh DIR..." >&2; exit 2; }
for dir in "$@"; do
  [[ -d "$dir" ]] || { echo "purity.coroutine_temporaries: no directory $dir" >&2; exit 2; }
done

mapfile -t files < <(grep -rlE --include='*.cc' --include='*.h' 'co_await' "$@" | sort)
findings=0
for file in "${files[@]}"; do
  # One statement at a time: lines are joined until one ends in ; { or }. Comments are dropped.
  out=$(awk -v file="$file" '
    function flush() {
      if (stmt ~ /co_await/) {
        expr = substr(stmt, index(stmt, "co_await"))
        sub(/\{[ \t]*$/, "", expr)
        if (expr ~ /\{/) { gsub(/[ \t]+/, " ", stmt); print file ":" start ": " stmt }
      }
      stmt = ""
    }
    {
      line = $0
      sub(/\/\/.*$/, "", line)
      if (stmt == "") start = NR
      stmt = stmt " " line
      if (line ~ /[;{}][ \t]*$/) flush()
    }
    END { flush() }
  ' "$file")
  if [[ -n "$out" ]]; then
    echo "$out"
    findings=$((findings + $(wc -l <<<"$out")))
  fi
done
if [[ $findings -gt 0 ]]; then
  echo "purity.coroutine_temporaries: $findings co_await expression(s) with a braced temporary:" \
    "name the value first (bombarder/proxy/link.h, Coroutine rules)" >&2
  exit 1
fi
echo "purity.coroutine_temporaries: OK, ${#files[@]} files with co_await checked"
