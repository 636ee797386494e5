// Why a broker's TLS cannot work, found by a handshake of our own with
// OpenSSL: libmosquitto says only "A TLS error occurred" or "connection
// lost", never which certificate is wrong, the names it holds, or which flag
// would fix it. Used only once a connection has failed.
#pragma once

#include "dht/cli.hpp"

#include <chrono>
#include <string>

namespace dht {

// A handshake with `broker` as `opt` sets it up (--cafile/--capath,
// --cert/--key, --insecure, --tls-version), then an MQTT CONNECT to hear a
// client certificate refused after the handshake (TLS 1.3). A sentence saying
// what is wrong and the flag that fixes it, when retrying cannot help (the
// broker's certificate does not verify or is for another name, the broker
// refuses our client certificate or TLS version); "" when the handshake works
// or fails in a way that may pass (no answer, connection reset).
std::string tls_fault(const Endpoint &broker, const MqttOptions &opt, std::chrono::milliseconds timeout);

// True when whatever listens at `broker` answers a TLS ClientHello: the port
// of a broker's TLS listener.
bool speaks_tls(const Endpoint &broker, std::chrono::milliseconds timeout);

}  // namespace dht
