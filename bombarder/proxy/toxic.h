// A toxic as configured through the API: its kind, stream, toxicity and attributes (Toxiproxy's
// names and units), read from and written to Toxiproxy's JSON. What each kind does to the data
// is Link's (toxic_chain.cc).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "bombarder/proxy/api_json.h"

namespace bombarder::proxy {

// upstream = client -> server, downstream = server -> client.
enum Direction { kUpstream = 0, kDownstream = 1 };

enum class Kind {
  Latency,
  Bandwidth,
  SlowClose,
  Timeout,
  ResetPeer,
  Slicer,
  LimitData,
  PacketLoss
};

// Immutable once published: an update publishes a new Toxic with the same uid and the next
// generation, so a link holding the old one sees a consistent toxic.
struct Toxic {
  std::string name, type;
  Direction direction = kDownstream;
  double toxicity = 1.0;
  Kind kind = Kind::Latency;
  uint64_t uid = 0;
  uint64_t generation = 0;
  // Attributes (Toxiproxy's names); only those of `kind` are meaningful.
  int64_t latency = 0, jitter = 0;               // latency (ms)
  int64_t rate = 0;                              // bandwidth (KB/s)
  int64_t delay = 0;                             // slow_close (ms), slicer (us)
  int64_t timeout = 0;                           // timeout, reset_peer (ms)
  int64_t average_size = 0, size_variation = 0;  // slicer (bytes)
  int64_t bytes = 0;                             // limit_data
  double probability = 0, correlation = 0;       // packet_loss

  // The attributes of `kind` only, as Toxiproxy lists them.
  [[nodiscard]] json attributes() const;
  // {"name", "type", "stream", "toxicity", "attributes"}.
  [[nodiscard]] json to_json() const;
};
using ToxicPtr = std::shared_ptr<const Toxic>;
// One direction's toxics in the order they apply.
using Chain = std::vector<ToxicPtr>;

const char* stream_name(Direction direction);  // "upstream", "downstream"

// The toxic a POST /proxies/{name}/toxics body names: stream, type, name (default
// "<type>_<stream>") and toxicity; attributes are not read yet (apply_attributes), so that a
// duplicate name is reported before bad attributes, as Toxiproxy does. Throws ApiError 400.
Toxic toxic_from_body(const json& body);

// Applies `attrs` (an object, possibly partial; null = none) onto `t`, then validates the
// result. Throws ApiError 400.
void apply_attributes(Toxic& t, const json& attrs);

// body["toxicity"] into `out` when present; a number in [0, 1], else ApiError 400.
void read_toxicity(const json& body, double& out);

}  // namespace bombarder::proxy
