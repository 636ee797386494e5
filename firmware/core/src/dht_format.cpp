#include "dht_format.hpp"

#include <cmath>
#include <cstring>

namespace dht::firmware {

const char *model_name(Model model) noexcept { return model == Model::dht22 ? "DHT22" : "DHT11"; }

const char *field_name(Field field) noexcept { return traits(field).key; }

TextBuffer::TextBuffer(char *buffer, std::size_t size) noexcept
    : buffer_(buffer), capacity_(size > 0 ? size - 1 : 0), storage_(size > 0), ok_(size > 0)
{
    if (storage_)
        buffer_[0] = '\0';
}

void TextBuffer::clear() noexcept
{
    length_ = 0;
    ok_ = storage_;
    if (storage_)
        buffer_[0] = '\0';
}

TextBuffer &TextBuffer::text(const char *s, std::size_t n) noexcept
{
    if (!ok_)
        return *this;
    if (n > capacity_ - length_) {
        n = capacity_ - length_;
        ok_ = false;
    }
    std::memcpy(buffer_ + length_, s, n);
    length_ += n;
    buffer_[length_] = '\0';
    return *this;
}

TextBuffer &TextBuffer::text(const char *s) noexcept { return text(s, std::strlen(s)); }

TextBuffer &TextBuffer::character(char c) noexcept { return text(&c, 1); }

TextBuffer &TextBuffer::json_string(const char *s) noexcept
{
    static const char hex[] = "0123456789abcdef";
    character('"');
    for (; *s != '\0'; ++s) {
        const auto c = static_cast<unsigned char>(*s);
        if (c == '"' || c == '\\') {
            character('\\').character(static_cast<char>(c));
        } else if (c < 0x20) {
            const char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            text(esc, sizeof esc);
        } else {
            character(static_cast<char>(c));
        }
    }
    return character('"');
}

TextBuffer &TextBuffer::integer(long long value) noexcept
{
    char digits[24];
    std::size_t n = 0;
    // Negated as unsigned: LLONG_MIN has no positive counterpart.
    unsigned long long v = value < 0 ? 0ULL - static_cast<unsigned long long>(value)
                                     : static_cast<unsigned long long>(value);
    do {
        digits[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v != 0);
    if (value < 0)
        character('-');
    while (n > 0)
        character(digits[--n]);
    return *this;
}

TextBuffer &TextBuffer::fixed2(float value) noexcept
{
    const double v = static_cast<double>(value);
    if (!std::isfinite(v) || std::fabs(v) > 1e15)
        return text("null");  // never from a checked reading; keeps the JSON valid
    return hundredths(std::llround(v * 100.0));
}

TextBuffer &TextBuffer::hundredths(long long value) noexcept
{
    const unsigned long long magnitude =
        value < 0 ? 0ULL - static_cast<unsigned long long>(value) : static_cast<unsigned long long>(value);
    if (value < 0)
        character('-');
    integer(static_cast<long long>(magnitude / 100));
    character('.');
    character(static_cast<char>('0' + magnitude % 100 / 10));
    return character(static_cast<char>('0' + magnitude % 10));
}

namespace {

void two_digits(TextBuffer &out, unsigned v)
{
    out.character(static_cast<char>('0' + v / 10 % 10)).character(static_cast<char>('0' + v % 10));
}

}  // namespace

TextBuffer &TextBuffer::rfc3339(std::uint64_t unix_ms) noexcept
{
    // Howard Hinnant's civil_from_days, for days since 1970-01-01.
    const std::uint64_t seconds = unix_ms / 1000;
    const auto millis = static_cast<unsigned>(unix_ms % 1000);
    const auto days = static_cast<long long>(seconds / 86400);
    const auto in_day = static_cast<unsigned>(seconds % 86400);
    const long long z = days + 719468;
    const long long era = z / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned day = doy - (153 * mp + 2) / 5 + 1;
    const unsigned month = mp < 10 ? mp + 3 : mp - 9;
    const long long year = static_cast<long long>(yoe) + era * 400 + (month <= 2 ? 1 : 0);

    const auto y = static_cast<unsigned>(year);
    two_digits(*this, y / 100);
    two_digits(*this, y % 100);
    character('-');
    two_digits(*this, month);
    character('-');
    two_digits(*this, day);
    character('T');
    two_digits(*this, in_day / 3600);
    character(':');
    two_digits(*this, in_day / 60 % 60);
    character(':');
    two_digits(*this, in_day % 60);
    character('.');
    character(static_cast<char>('0' + millis / 100));
    two_digits(*this, millis % 100);
    return character('Z');
}

bool format_reading(TextBuffer &out, const Reading &reading, const PayloadExtras &extras) noexcept
{
    out.text("{\"temperature\":").fixed2(reading.temperature).text(",\"humidity\":").fixed2(reading.humidity);
    if (extras.sensor != nullptr)
        out.text(",\"sensor\":").json_string(extras.sensor);
    if (extras.has_time)
        out.text(",\"time\":\"").rfc3339(extras.unix_ms).character('"');
    if (extras.has_rssi)
        out.text(",\"rssi\":").integer(extras.rssi);
    if (extras.temperature_offset != 0 || extras.humidity_offset != 0) {
        out.text(",\"temperature_offset\":").hundredths(extras.temperature_offset);
        out.text(",\"humidity_offset\":").hundredths(extras.humidity_offset);
    }
    out.character('}');
    return out.ok();
}

bool format_discovery_topic(TextBuffer &out, const DiscoveryInfo &info, Field field) noexcept
{
    out.text(info.prefix).text("/sensor/").text(info.sensor_id).character('_').text(field_name(field)).text("/config");
    return out.ok();
}

bool format_discovery(TextBuffer &out, const DiscoveryInfo &info, Field field) noexcept
{
    using namespace discovery_text;
    const FieldTraits &t = traits(field);
    out.text(kName).json_string(t.name);
    out.text(kUniqueId).text(info.sensor_id).character('_').text(t.key).character('"');
    out.text(kStateTopic).json_string(info.state_topic);
    // With a shared topic every device's readings come there: a reading of
    // another device leaves this entity's state as it is.
    out.text(kTemplate);
    if (info.shared_state_topic)
        out.text(kSharedIf).text(info.sensor_id).text(kSharedThen).text(t.key).text(kSharedElse);
    else
        out.text(kPlainValue).text(t.key).text(kPlainEnd);
    out.text(kDeviceClass).json_string(t.device_class);
    out.text(kStateClass);
    out.text(kUnit).json_string(t.unit);
    if (t.diagnostic)
        out.text(kDiagnostic);
    out.text(kAvailabilityTopic).json_string(info.status_topic);
    out.text(kAvailability);
    if (info.expire_after_s > 0)
        out.text(kExpireAfter).integer(info.expire_after_s);
    out.text(kDevice).text(info.sensor_id).text(kDeviceName).json_string(info.sensor_id);
    out.text(kModel).json_string(model_name(info.model)).text(kEnd);
    return out.ok();
}

}  // namespace dht::firmware
