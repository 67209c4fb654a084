#include "bombarder/history/run_record.h"

#include <unistd.h>

#include <ctime>
#include <fstream>

#include "bombarder/base/data_root.h"
#include "bombarder/base/errors.h"

namespace bombarder {

using Json = nlohmann::json;

namespace fs = std::filesystem;

namespace {

fs::path runs_dir() { return data_root() / "runs"; }

Json acked_to_json(const std::string& id, const AckedWrite& w) {
  Json line = {{"id", id}, {"key", w.key}, {"value", w.value}, {"deleted", w.deleted}};
  if (w.uncertain) {
    line["uncertain"] = true;
    if (w.uncertain_delete) {
      line["uncertain_delete"] = true;
    } else {
      line["uncertain_value"] = w.uncertain_value;
    }
  }
  return line;
}

}  // namespace

RunRecord begin_run_record(const std::string& command) {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &utc);
  RunRecord record;
  record.id = std::string(stamp) + "-" + command + "-" + std::to_string(::getpid());
  record.dir = runs_dir() / record.id;
  std::error_code ec;
  fs::create_directories(record.dir, ec);
  if (ec) environment_failure("cannot create " + record.dir.string() + ": " + ec.message());
  return record;
}

void save_run_record(const RunRecord& record) {
  {
    std::ofstream out(record.dir / "summary.json", std::ios::trunc);
    out << record.summary.dump(2) << '\n';
    if (!out) environment_failure("cannot write " + (record.dir / "summary.json").string());
  }
  {
    std::ofstream out(record.dir / "acked.jsonl", std::ios::trunc);
    for (const auto& [id, write] : record.acked) out << acked_to_json(id, write).dump() << '\n';
    out.flush();
    if (!out) environment_failure("cannot write " + (record.dir / "acked.jsonl").string());
  }
  const fs::path last = runs_dir() / "last";
  const fs::path temp = last.string() + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::trunc);
    out << record.id << '\n';
  }
  std::error_code ec;
  fs::rename(temp, last, ec);
  if (ec) environment_failure("cannot write " + last.string() + ": " + ec.message());
}

std::optional<RunRecord> load_run_record(const std::string& which) {
  fs::path dir;
  if (which.empty() || which == "last") {
    std::ifstream in(runs_dir() / "last");
    std::string id;
    if (!std::getline(in, id) || id.empty()) return std::nullopt;
    dir = runs_dir() / id;
  } else if (fs::is_directory(which)) {
    dir = which;
  } else {
    dir = runs_dir() / which;
  }
  if (!fs::is_directory(dir)) environment_failure("no run record at " + dir.string());
  RunRecord record;
  record.dir = dir;
  record.id = dir.filename().string();
  {
    std::ifstream in(dir / "summary.json");
    record.summary = Json::parse(in, nullptr, false);
  }
  std::ifstream in(dir / "acked.jsonl");
  if (!in) environment_failure("cannot read " + (dir / "acked.jsonl").string());
  size_t line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (line.empty()) continue;
    const Json entry = Json::parse(line, nullptr, false);
    try {
      AckedWrite write;
      write.key = entry.at("key").get<std::string>();
      write.value = entry.at("value").get<std::string>();
      write.deleted = entry.at("deleted").get<bool>();
      write.uncertain = entry.value("uncertain", false);
      write.uncertain_delete = entry.value("uncertain_delete", false);
      write.uncertain_value = entry.value("uncertain_value", "");
      record.acked.emplace(entry.at("id").get<std::string>(), std::move(write));
    } catch (const std::exception& e) {
      environment_failure((dir / "acked.jsonl").string() + ":" + std::to_string(line_number) +
                          ": " + e.what());
    }
  }
  return record;
}

}  // namespace bombarder
