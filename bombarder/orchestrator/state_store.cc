#include "bombarder/orchestrator/state_store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include "bombarder/base/errors.h"

namespace bombarder {

namespace {

std::string key_of(std::string_view table, std::string_view id) {
  std::string key(table);
  key += '/';
  key += id;
  return key;
}

void check(const rocksdb::Status& status, const char* what) {
  if (!status.ok())
    environment_failure(std::string("state store: ") + what + ": " + status.ToString());
}

}  // namespace

RocksStateStore::RocksStateStore(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) environment_failure("cannot create " + dir.string() + ": " + ec.message());
  rocksdb::Options options;
  options.create_if_missing = true;
  // Small state: a small memtable and few background threads.
  options.write_buffer_size = 4 << 20;
  options.max_background_jobs = 1;
  options.keep_log_file_num = 2;
  rocksdb::DB* db = nullptr;
  check(rocksdb::DB::Open(options, (dir / "state").string(), &db), "open");
  db_.reset(db);
}

RocksStateStore::~RocksStateStore() {
  // Best effort at a clean close: what was written is in the log already (see the header).
  if (dirty_) (void)db_->SyncWAL();
}

void RocksStateStore::put(std::string_view table, std::string_view id,
                          const nlohmann::json& value) {
  check(db_->Put(rocksdb::WriteOptions(), key_of(table, id), value.dump()), "write");
  dirty_ = true;
}

void RocksStateStore::erase(std::string_view table, std::string_view id) {
  check(db_->Delete(rocksdb::WriteOptions(), key_of(table, id)), "delete");
  dirty_ = true;
}

void RocksStateStore::when_durable(std::chrono::milliseconds, std::function<void(bool)> done) {
  sync();
  done(true);
}

void RocksStateStore::sync() {
  if (!dirty_) return;
  check(db_->SyncWAL(), "sync");
  dirty_ = false;
}

std::optional<nlohmann::json> RocksStateStore::get(std::string_view table, std::string_view id) {
  std::string value;
  const rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), key_of(table, id), &value);
  if (status.IsNotFound()) return std::nullopt;
  check(status, "read");
  return nlohmann::json::parse(value);
}

std::vector<std::pair<std::string, nlohmann::json>> RocksStateStore::scan(std::string_view table,
                                                                          size_t limit,
                                                                          std::string_view after) {
  const std::string prefix = key_of(table, "");
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  std::vector<std::pair<std::string, nlohmann::json>> out;
  if (after.empty()) {
    it->Seek(prefix);
  } else {
    it->Seek(key_of(table, after));
    if (it->Valid() && it->key().ToString() == key_of(table, after)) it->Next();
  }
  for (; it->Valid() && out.size() < limit; it->Next()) {
    const std::string key = it->key().ToString();
    if (key.compare(0, prefix.size(), prefix) != 0) break;
    out.emplace_back(key.substr(prefix.size()), nlohmann::json::parse(it->value().ToString()));
  }
  check(it->status(), "scan");
  return out;
}

}  // namespace bombarder
