// Status and Result: operating errors (disk full, corrupt input, bad request) as values the
// caller must look at (style.md habit 4). A broken invariant is not a Status: it aborts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace kv {

class [[nodiscard]] Status {
 public:
  enum class Code : uint8_t {
    kOk = 0,
    kInvalidArgument,  // the caller asked for something the contract forbids (bad command)
    kCorruption,       // bytes that fail decoding, a size or a checksum
    kIoError,          // the disk or the file system said no
  };

  Status() = default;
  [[nodiscard]] static Status invalid_argument(std::string message) {
    return Status(Code::kInvalidArgument, std::move(message));
  }
  [[nodiscard]] static Status corruption(std::string message) {
    return Status(Code::kCorruption, std::move(message));
  }
  [[nodiscard]] static Status io_error(std::string message) {
    return Status(Code::kIoError, std::move(message));
  }

  [[nodiscard]] bool is_ok() const { return code_ == Code::kOk; }
  [[nodiscard]] Code code() const { return code_; }
  [[nodiscard]] const std::string& message() const { return message_; }
  // "ok", or "<code>: <message>" for logs.
  [[nodiscard]] std::string to_string() const;

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  Code code_ = Code::kOk;
  std::string message_;
};

const char* to_string(Status::Code code);

namespace detail {
[[noreturn]] void result_value_of_error(const Status& status);
[[noreturn]] void result_of_ok_status();
}  // namespace detail

// A value or the Status that explains its absence. Accessing the value of a failed Result is a
// bug and aborts.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit on purpose, like expected
  Result(Status status) : status_(std::move(status)) {   // NOLINT
    if (status_.is_ok()) detail::result_of_ok_status();  // a failure needs a reason
  }

  [[nodiscard]] bool is_ok() const { return value_.has_value(); }
  [[nodiscard]] const Status& status() const { return status_; }
  [[nodiscard]] T& value() & { return checked(); }
  [[nodiscard]] const T& value() const& { return const_cast<Result*>(this)->checked(); }
  [[nodiscard]] T&& value() && { return std::move(checked()); }
  T* operator->() { return &checked(); }
  const T* operator->() const { return &const_cast<Result*>(this)->checked(); }
  T& operator*() & { return checked(); }
  const T& operator*() const& { return const_cast<Result*>(this)->checked(); }

 private:
  T& checked();

  std::optional<T> value_;
  Status status_;  // ok iff value_ is set
};

template <typename T>
T& Result<T>::checked() {
  if (!value_) detail::result_value_of_error(status_);
  return *value_;
}

}  // namespace kv
