#include "bombarder/client/redis_resp.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>

namespace bombarder {

namespace {

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

RespReply convert(const redisReply& r) {
  RespReply out;
  switch (r.type) {
    case REDIS_REPLY_STATUS: out.type = RespReply::Type::kStatus; break;
    case REDIS_REPLY_ERROR: out.type = RespReply::Type::kError; break;
    case REDIS_REPLY_INTEGER: out.type = RespReply::Type::kInteger; break;
    case REDIS_REPLY_STRING: out.type = RespReply::Type::kString; break;
    case REDIS_REPLY_ARRAY: out.type = RespReply::Type::kArray; break;
    default: out.type = RespReply::Type::kNil; break;
  }
  if (r.str != nullptr) out.text.assign(r.str, r.len);
  out.integer = r.integer;
  for (size_t i = 0; i < r.elements; ++i) out.elements.push_back(convert(*r.element[i]));
  return out;
}

timeval to_timeval(std::chrono::milliseconds timeout) {
  const int64_t ms = std::max<int64_t>(timeout.count(), 1);
  return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
}

// hiredis reports a read timeout as EAGAIN's text; say what it means.
std::string context_error(const redisContext& c) {
  if (c.err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)) return "timed out";
  if (c.err == REDIS_ERR_EOF) return "connection closed by the server";
  std::string text = c.errstr;
  for (char& ch : text) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return text;
}

}  // namespace

std::string RespReply::error_code() const {
  if (type != Type::kError) return "";
  return text.substr(0, text.find(' '));
}

std::string RespReply::describe() const {
  // append(), not "+" + text: g++ 12 warns falsely (-Wrestrict) on a literal plus a string.
  switch (type) {
    case Type::kStatus: return std::string(1, '+').append(text);
    case Type::kError: return std::string(1, '-').append(text);
    case Type::kInteger: return std::string(1, ':').append(std::to_string(integer));
    case Type::kString:
      return std::string(1, '\'')
          .append(text.substr(0, 40))
          .append(text.size() > 40 ? "...'" : "'");
    case Type::kNil: return "(nil)";
    case Type::kArray:
      return std::string(1, '[').append(std::to_string(elements.size())).append(" elements]");
  }
  return "?";
}

void append_resp_command(std::string& out, const std::vector<std::string_view>& args) {
  out += '*';
  out += std::to_string(args.size());
  out += "\r\n";
  for (std::string_view arg : args) {
    out += '$';
    out += std::to_string(arg.size());
    out += "\r\n";
    out += arg;
    out += "\r\n";
  }
}

struct RespReader::Impl {
  redisReader* reader = redisReaderCreate();
  ~Impl() { redisReaderFree(reader); }
};

RespReader::RespReader() : impl_(std::make_unique<Impl>()) {}
RespReader::~RespReader() = default;

void RespReader::feed(std::string_view bytes) {
  // Fails only when the reader is already in error, which next() then reports.
  (void)redisReaderFeed(impl_->reader, bytes.data(), bytes.size());
}

RespReader::Result RespReader::next(RespReply* reply, std::string* error) {
  void* raw = nullptr;
  if (redisReaderGetReply(impl_->reader, &raw) != REDIS_OK) {
    *error = impl_->reader->errstr;
    return Result::kProtocolError;
  }
  if (raw == nullptr) return Result::kIncomplete;
  const ReplyPtr owned(static_cast<redisReply*>(raw));
  *reply = convert(*owned);
  return Result::kReply;
}

std::optional<RespReply> parse_resp(std::string_view bytes, std::string* error) {
  RespReader reader;
  reader.feed(bytes);
  RespReply reply;
  switch (reader.next(&reply, error)) {
    case RespReader::Result::kReply: return reply;
    case RespReader::Result::kIncomplete: *error = "an incomplete RESP reply"; break;
    case RespReader::Result::kProtocolError: break;
  }
  return std::nullopt;
}

struct RedisSession::Impl {
  redisContext* context = nullptr;
  ~Impl() {
    if (context != nullptr) redisFree(context);
  }
};

RedisSession::RedisSession(const common::Endpoint& node, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->context = redisConnectWithTimeout(node.host.c_str(), node.port, to_timeval(timeout));
  if (impl_->context == nullptr) {
    error_ = "cannot allocate a hiredis context";
  } else if (impl_->context->err != 0) {
    error_ = context_error(*impl_->context);
  } else if (redisSetTimeout(impl_->context, to_timeval(timeout)) != REDIS_OK) {
    error_ = context_error(*impl_->context);
  }
}

RedisSession::~RedisSession() = default;

std::optional<RespReply> RedisSession::command(const std::vector<std::string>& args) {
  if (!ok()) return std::nullopt;
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const std::string& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  void* raw =
      redisCommandArgv(impl_->context, static_cast<int>(argv.size()), argv.data(), lengths.data());
  if (raw == nullptr) {
    error_ = context_error(*impl_->context);
    return std::nullopt;
  }
  const ReplyPtr owned(static_cast<redisReply*>(raw));
  return convert(*owned);
}

std::vector<std::pair<std::string, std::string>> parse_info(std::string_view info) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t from = 0;
  while (from < info.size()) {
    size_t to = info.find('\n', from);
    if (to == std::string_view::npos) to = info.size();
    std::string_view line = info.substr(from, to - from);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const size_t colon = line.find(':');
    if (!line.empty() && line[0] != '#' && colon != std::string_view::npos) {
      out.emplace_back(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
    }
    from = to + 1;
  }
  return out;
}

std::optional<std::string> info_field(std::string_view info, std::string_view field) {
  for (auto& [name, value] : parse_info(info)) {
    if (name == field) return std::move(value);
  }
  return std::nullopt;
}

}  // namespace bombarder
