#!/usr/bin/env bash
# purity.bombarder_layers: bombarder's modules depend only downwards (issue 16, bombarder/README.md).
# Usage: check_bombarder_layers.sh BOMBARDER_DIR
#
# Every quoted include in bombarder/<module>/ must be "common/..." or "bombarder/<module>/<file>.h"
# of an existing file in a module the including module may use:
#   base      base
#   history   base history                         and no network code (Asio, Beast, HTTP, TLS)
#   client    base history client
#   load      base history client load
#   cluster   base history client cluster          (load and cluster never include each other)
#   faults    base history client load cluster faults
#   proxy     base proxy                           (a standalone Toxiproxy)
#   fleet     base faults fleet                    (the protocol, keys, tokens, experiments)
#   orchestrator base fleet orchestrator           (never agent/)
#   agent     base history client load cluster faults fleet agent   (never orchestrator/)
#   commands  everything; nothing else includes commands/
# CLI11 (<CLI/...>) is included in commands/ only, and linked by bombarder_commands only.
# Exit codes are the command line's policy (bombarder/README.md, "Placement decisions"): outside
# commands/ no kExit* constant, no CommandError, no EXIT_SUCCESS/EXIT_FAILURE and no exit() call
# appear, comments included; library code throws bombarder::Error (base/errors.h) or returns what
# happened. (_exit() in a forked child before exec is process spawning, not a policy: allowed.)
set -euo pipefail

dir=${1:?usage: check_bombarder_layers.sh BOMBARDER_DIR}
root=$(cd "$dir/.." && pwd)
common_include=$root/common/include
[[ -f "$dir/CMakeLists.txt" && -d "$common_include/common" ]] || {
  echo "purity.bombarder_layers: $dir is not bombarder/ beside common/" >&2
  exit 2
}

declare -A allowed=(
  [base]="base"
  [history]="base history"
  [client]="base history client"
  [load]="base history client load"
  [cluster]="base history client cluster"
  [faults]="base history client load cluster faults"
  [proxy]="base proxy"
  [fleet]="base faults fleet"
  [orchestrator]="base fleet orchestrator"
  [agent]="base history client load cluster faults fleet agent"
  [commands]="base history client load cluster faults proxy fleet orchestrator agent commands"
)
# Why a module may not use another, for the message.
declare -A why=(
  [history]="history is offline (check, report): no client, load, cluster, faults or proxy"
  [load]="load and cluster do not depend on each other"
  [cluster]="load and cluster do not depend on each other"
  [proxy]="the proxy is standalone: it uses nothing of bombarder but base"
  [client]="the client sits under load, cluster and faults"
  [base]="base uses no other module"
  [faults]="nothing but commands includes commands/"
  [fleet]="fleet is what orchestrator and agent share: it uses neither"
  [orchestrator]="the orchestrator and the agent never include each other (what both need is in fleet/)"
  [agent]="the orchestrator and the agent never include each other (what both need is in fleet/)"
)

# common/ headers that bring in network code (Asio, Beast) directly or through another common
# header: history may not include them.
declare -A network_header=()
changed=1
while [[ $changed -eq 1 ]]; do
  changed=0
  for h in "$common_include"/common/*.h; do
    name=common/$(basename "$h")
    [[ -n "${network_header[$name]:-}" ]] && continue
    if grep -qE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<boost/(asio|beast)' "$h"; then
      network_header[$name]=1
      changed=1
      continue
    fi
    while IFS= read -r inc; do
      if [[ -n "${network_header[$inc]:-}" ]]; then
        network_header[$name]=1
        changed=1
        break
      fi
    done < <(sed -n -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]+)".*/\1/p' "$h")
  done
done

violations=0
report() {
  echo "purity.bombarder_layers: $1" >&2
  violations=$((violations + 1))
}

modules=()
for m in "$dir"/*/; do
  m=$(basename "$m")
  [[ -n "${allowed[$m]:-}" ]] || { report "bombarder/$m/ is not a known module (add it here)"; continue; }
  modules+=("$m")
done

files=0
for module in "${modules[@]}"; do
  while IFS= read -r -d '' file; do
    files=$((files + 1))
    rel=${file#"$root"/}
    lineno=0
    while IFS= read -r line || [[ -n "$line" ]]; do
      lineno=$((lineno + 1))
      [[ "$line" =~ ^[[:space:]]*#[[:space:]]*include ]] || continue
      where="$rel:$lineno: ${line#"${line%%[![:space:]]*}"}"
      if [[ "$line" =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\<([^>]+)\> ]]; then
        header=${BASH_REMATCH[1]}
        if [[ "$header" == CLI/* && "$module" != commands ]]; then
          report "$where: CLI11 belongs to commands/ (flags are parsed there, not in $module/)"
        elif [[ "$module" == history && "$header" =~ ^boost/(asio|beast) ]]; then
          report "$where: history is offline: no network code (Asio, Beast)"
        fi
      elif [[ "$line" =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]+)\" ]]; then
        header=${BASH_REMATCH[1]}
        if [[ "$header" == common/* ]]; then
          if [[ ! -f "$common_include/$header" ]]; then
            report "$where: $header is not in common/include"
          elif [[ "$module" == history && -n "${network_header[$header]:-}" ]]; then
            report "$where: history is offline: $header brings in network code (Asio, Beast)"
          fi
        elif [[ "$header" =~ ^bombarder/([a-z_]+)/[^/]+\.h$ ]]; then
          target=${BASH_REMATCH[1]}
          if [[ ! -f "$root/$header" ]]; then
            report "$where: $header does not exist"
          elif [[ " ${allowed[$module]} " != *" $target "* ]]; then
            reason=${why[$module]:-"$module/ may use: ${allowed[$module]}"}
            [[ "$target" == commands ]] && reason="nothing but commands includes commands/"
            report "$where: $module/ may not include $target/ ($reason)"
          fi
        else
          report "$where: write includes as \"bombarder/<module>/<file>.h\" or \"common/...\""
        fi
      else
        report "$where: unrecognized include form"
      fi
    done <"$file"
  done < <(find "$dir/$module" -type f \( -name '*.h' -o -name '*.cc' \) -print0 | sort -z)
done

# Exit codes only in commands/.
exit_policy='kExit[A-Za-z_]*|CommandError|EXIT_(SUCCESS|FAILURE)|(^|[^_[:alnum:]])(std::)?exit[[:space:]]*\('
while IFS= read -r hit; do
  rel=${hit#"$root"/}
  word=$(grep -oE "$exit_policy" <<<"${hit#*:*:}" | head -n 1 | sed -E 's/^[^_[:alnum:]]//')
  report "${rel%%:*}:$(cut -d: -f2 <<<"$rel"): $word outside commands/ (exit codes are chosen in commands/ only; throw bombarder::Error or return an outcome)"
done < <(find "$dir" -path "$dir/commands" -prune -o -type f \( -name '*.h' -o -name '*.cc' \) \
           -print0 | sort -z | xargs -0 grep -nE "$exit_policy" /dev/null || true)

# CLI11 is linked by the commands library only.
while IFS= read -r hit; do
  [[ "$hit" == *bombarder_commands* ]] ||
    report "bombarder/CMakeLists.txt:$hit: only bombarder_commands links CLI11"
done < <(grep -n 'CLI11::CLI11' "$dir/CMakeLists.txt" || true)

[[ $files -gt 0 ]] || { echo "purity.bombarder_layers: no sources under $dir" >&2; exit 2; }
if [[ $violations -gt 0 ]]; then
  echo "purity.bombarder_layers: FAILED, $violations violation(s) (rules: bombarder/README.md)" >&2
  exit 1
fi
echo "purity.bombarder_layers: OK, $files files in ${#modules[@]} modules checked"
