#include "dht/input.hpp"

#include "dht/diag.hpp"
#include "dht/signals.hpp"

namespace dht {

RecordInput::RecordInput(const CommonOptions &options, int fd, std::string name)
    : reader_(fd, std::move(name), options.max_line), parser_(options.max_depth), errors_(options.strict),
      max_line_(options.max_line)
{
}

std::string RecordInput::position() const { return cat(reader_.name(), ":", reader_.line_number()); }

void RecordInput::report(std::string_view what) { errors_.report(reader_.name(), reader_.line_number(), what); }

void RecordInput::run(const Handlers &h)
{
    std::string_view line;
    json::value value;
    std::string error;
    while (!stop_requested()) {
        if (h.idle && !reader_.has_line())
            h.idle();
        const auto status = reader_.next(line, h.wait_ms ? h.wait_ms() : -1);
        if (status == LineReader::Status::eof)
            break;
        if (status == LineReader::Status::too_long) {
            report(cat("line longer than --max-line (", max_line_, " bytes)"));
        } else if (status == LineReader::Status::line) {
            if (!parser_.parse(line, value, error))
                report(error);
            else if (const auto *obj = value.if_object(); obj == nullptr)
                report("not a JSON object");
            else
                h.record(*obj, line);
        }
    }
    if (h.idle)
        h.idle();
}

std::optional<Message> RecordInput::message(const json::object &record, std::string_view bare_topic)
{
    const auto kind = record_kind(record);
    if (kind != RecordKind::message && kind != RecordKind::bare)
        return std::nullopt;
    std::string error;
    auto m = message_from_record(record, bare_topic, now(), error);
    if (!m)
        report(error);
    return m;
}

}  // namespace dht
