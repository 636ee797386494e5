// Updates without a cable: the operator publishes on <prefix>/<id>/command
//
//     {"ota":"https://files.example/dht-1.3.0.bin","version":"1.3.0","md5":"<32 hex digits>"}
//
// and the device downloads the image over HTTPS (checked with the broker's
// CA), writes it to the other OTA partition, checks it against the MD5
// before the boot partition is switched, and restarts. The new image stays
// on trial until it has reached the broker; a boot that fails before that
// rolls back to the previous one. A command for the version running is
// ignored (a retained command does not loop); anything malformed is refused
// whole. Results go to <prefix>/<id>/ota.
#pragma once

#include <cstddef>

namespace dht::firmware {

struct OtaRequest {
    static constexpr std::size_t kUrlMax = 200;
    static constexpr std::size_t kVersionMax = 32;
    char url[kUrlMax + 1] = {};
    char version[kVersionMax + 1] = {};
    char md5[33] = {};  // lower-case hex
};

// Null when `payload` is an update command (then in `out`), else what is wrong with it.
const char *parse_ota_command(const char *payload, std::size_t length, OtaRequest &out) noexcept;

}  // namespace dht::firmware
