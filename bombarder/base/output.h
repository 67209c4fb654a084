// The output rule of every command: what the command produces goes to stdout (JSON with --json,
// else its human text); human status lines (progress, notes, the actions of a fault run) go to
// stdout too, or to stderr when stdout carries JSON, so that `--json | jq` always parses.
// Errors go to stderr ("bombarder: error: ...", main.cc). Each status line is written with one
// call and flushed at once: lines from several threads do not interleave, and a log file or pipe
// sees every line as it happens.
#pragma once

#include <cstdio>
#include <string_view>

namespace bombarder {

// stdout, or stderr when stdout carries --json.
[[nodiscard]] std::FILE* status_stream(bool json);

// "TEXT\n" on status_stream(json).
void status_line(bool json, std::string_view text);

// "2026-12-07T12:00:00.123Z TEXT\n" on status_stream(json): the long-running fault commands
// (chaos, inject, supervise), whose lines are read as a log.
void stamped_status_line(bool json, std::string_view text);

}  // namespace bombarder
