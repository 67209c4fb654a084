// Bounded little-endian byte writing and reading for the codecs (internal to libkv). The reader
// never reads past its input: every getter checks the remaining length first and reports
// failure instead.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace kv::detail {

class ByteWriter {
 public:
  explicit ByteWriter(std::string* out) : out_(out) {}

  void put_u8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void put_u32(uint32_t v) { put_le(v, 4); }
  void put_u64(uint64_t v) { put_le(v, 8); }
  void put_i64(int64_t v) { put_le(static_cast<uint64_t>(v), 8); }
  // u32 length, then the bytes. The caller has checked the length against its bound.
  void put_bytes(std::string_view bytes) {
    put_u32(static_cast<uint32_t>(bytes.size()));
    out_->append(bytes);
  }

 private:
  void put_le(uint64_t v, int width) {
    for (int i = 0; i < width; ++i) out_->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }

  std::string* out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}

  [[nodiscard]] bool get_u8(uint8_t* v) {
    uint64_t x = 0;
    if (!get_le(&x, 1)) return false;
    *v = static_cast<uint8_t>(x);
    return true;
  }
  [[nodiscard]] bool get_u32(uint32_t* v) {
    uint64_t x = 0;
    if (!get_le(&x, 4)) return false;
    *v = static_cast<uint32_t>(x);
    return true;
  }
  [[nodiscard]] bool get_u64(uint64_t* v) { return get_le(v, 8); }
  [[nodiscard]] bool get_i64(int64_t* v) {
    uint64_t x = 0;
    if (!get_le(&x, 8)) return false;
    *v = static_cast<int64_t>(x);
    return true;
  }
  // A u32-length-prefixed string of at most max_bytes; the view points into the input.
  [[nodiscard]] bool get_bytes(size_t max_bytes, std::string_view* v) {
    uint32_t n = 0;
    if (!get_u32(&n) || n > max_bytes || n > remaining()) return false;
    *v = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  [[nodiscard]] bool get_string(size_t max_bytes, std::string* v) {
    std::string_view view;
    if (!get_bytes(max_bytes, &view)) return false;
    v->assign(view);
    return true;
  }
  // The rest of the input, consumed.
  [[nodiscard]] std::string_view take_rest() {
    std::string_view rest = in_.substr(pos_);
    pos_ = in_.size();
    return rest;
  }

  [[nodiscard]] size_t remaining() const { return in_.size() - pos_; }
  [[nodiscard]] bool at_end() const { return pos_ == in_.size(); }

 private:
  [[nodiscard]] bool get_le(uint64_t* v, size_t width) {
    if (remaining() < width) return false;
    uint64_t x = 0;
    for (size_t i = 0; i < width; ++i) {
      x |= uint64_t{static_cast<unsigned char>(in_[pos_ + i])} << (8 * i);
    }
    pos_ += width;
    *v = x;
    return true;
  }

  std::string_view in_;
  size_t pos_ = 0;
};

// Big-endian fixed-width integers, for RocksDB keys whose byte order must be numeric order.
inline std::string encode_be64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

[[nodiscard]] inline bool decode_be64(std::string_view in, uint64_t* v) {
  if (in.size() != 8) return false;
  uint64_t x = 0;
  for (char c : in) x = (x << 8) | static_cast<unsigned char>(c);
  *v = x;
  return true;
}

}  // namespace kv::detail
