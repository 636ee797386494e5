#include "dht/input.hpp"

#include "dht/diag.hpp"
#include "dht/signals.hpp"

namespace dht {

bool payload_too_long(const CommonOptions &options, std::string_view topic, std::size_t size)
{
    if (size <= options.max_payload)
        return false;
    warn(cat(topic, ": payload of ", size, " bytes is over --max-payload (", options.max_payload, " bytes) (skipped)"));
    return true;
}

LineInput::LineInput(const CommonOptions &options, int fd, std::string name, LineReader::LookAhead *work)
    : reader_(fd, std::move(name), options.max_line, work), errors_(options.strict), max_line_(options.max_line)
{
}

std::string LineInput::position() const { return cat(reader_.name(), ":", reader_.line_number()); }

void LineInput::report(std::string_view what)
{
    if (hooks_ != nullptr && hooks_->bad)
        hooks_->bad();
    errors_.report(reader_.name(), reader_.line_number(), what, current_.substr(0, 200));
}

void LineInput::run(const Hooks &h)
{
    hooks_ = &h;
    struct Reset {
        const Hooks *&hooks;
        ~Reset() { hooks = nullptr; }
    } reset{hooks_};
    std::string_view line;
    while (!stop_requested()) {
        // The hooks other than `line` run only when the next read may wait:
        // a stream of input costs one call per line.
        for (auto whole = reader_.buffered(); whole.data() != nullptr; whole = reader_.buffered()) {
            current_ = whole;
            h.line(whole);
            current_ = {};
            if (stop_requested())
                break;
        }
        if (stop_requested())
            break;
        int wait = -1;
        if (!reader_.has_line()) {
            if (h.stop && h.stop())
                break;
            if (h.idle)
                h.idle();
            if (h.wait_ms)
                wait = h.wait_ms();
        }
        const auto status = reader_.next(line, wait);
        if (status == LineReader::Status::eof)
            break;
        if (status == LineReader::Status::line) {
            current_ = line;
            h.line(line);
            current_ = {};
        }
        else if (status == LineReader::Status::too_long)
            report(cat("line longer than --max-line (", max_line_, " bytes)"));
        else if (status == LineReader::Status::timeout && h.timeout)
            h.timeout();
    }
    if (h.idle)
        h.idle();
    errors_.summary();
}

RecordInput::RecordInput(const CommonOptions &options, int fd, std::string name)
    : lines_(options, fd, std::move(name)), parser_(options.max_depth)
{
}

void RecordInput::run(const Handlers &h)
{
    json::value value;
    std::string error;
    lines_.run({[&](std::string_view line) {
                    if (h.line && h.line(line))
                        return;
                    if (!parser_.parse(line, value, error))
                        return report(error);
                    const auto *obj = value.if_object();
                    if (obj == nullptr)
                        return report("not a JSON object");
                    if (record_kind(*obj) == RecordKind::invalid)
                        return report(kind_not_a_string);
                    h.record(*obj, line);
                },
                h.idle, h.wait_ms, h.timeout, h.stop});
}

std::optional<Message> RecordInput::message(const json::object &record, std::string_view bare_topic)
{
    const auto kind = record_kind(record);
    if (kind != RecordKind::message && kind != RecordKind::bare)
        return std::nullopt;
    std::string error;
    auto m = message_from_record(record, bare_topic, lines_.received(), error);
    if (!m)
        report(error);
    return m;
}

}  // namespace dht
