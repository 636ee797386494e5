#include "sink.hpp"

#include "dht/diag.hpp"
#include "dht/dynlib.hpp"
#include "dht/signals.hpp"
#include "dht/files.hpp"
#include "dht/json.hpp"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <memory>
#include <cstdio>
#include <cstring>

namespace dht::influx {

namespace {

using steady = std::chrono::steady_clock;

std::string escaped(CURL *h, const std::string &s)
{
    char *e = curl().easy_escape(h, s.c_str(), static_cast<int>(s.size()));
    std::string out = e != nullptr ? e : "";
    curl().free(e);
    return out;
}

std::string gzip(const std::string &in)
{
    z_stream zs{};
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::runtime_error("zlib: deflateInit2 failed");
    std::string out(deflateBound(&zs, in.size()), '\0');
    zs.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef *>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    if (rc != Z_STREAM_END)
        throw std::runtime_error("zlib: deflate failed");
    return out;
}

std::size_t collect(char *data, std::size_t size, std::size_t n, void *user)
{
    auto *s = static_cast<std::string *>(user);
    if (s->size() < 64 * 1024)
        s->append(data, size * n);
    return size * n;
}

struct Headers {
    std::chrono::milliseconds retry_after{0};
};

std::size_t header(char *data, std::size_t size, std::size_t n, void *user)
{
    const std::string_view line(data, size * n);
    constexpr std::string_view name = "retry-after:";
    if (line.size() > name.size()) {
        std::string lower(line.substr(0, name.size()));
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); });
        if (lower == name) {
            // Seconds (an HTTP date is taken as "soon": the backoff decides).
            const long secs = std::strtol(std::string(line.substr(name.size())).c_str(), nullptr, 10);
            if (secs > 0 && secs < 3600)
                static_cast<Headers *>(user)->retry_after = std::chrono::seconds(secs);
        }
    }
    return size * n;
}

// InfluxDB says why in {"error":"…"}; else the body as it is.
std::string reason(const std::string &body)
{
    std::string error;
    json::value v;
    JsonParser parser(8);
    if (parser.parse(body, v, error))
        if (const auto *o = v.if_object())
            for (const char *key : {"error", "message"})  // 1.x, 2.x
                if (const auto *e = o->if_contains(key); e != nullptr && e->is_string())
                    return std::string(e->get_string());
    std::string s = body.substr(0, 300);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
        s.pop_back();
    return s;
}

}  // namespace

InfluxSink::InfluxSink(SinkConfig config) : config_(std::move(config))
{
    CURL *h = curl().easy_init();
    std::string url = config_.url;
    while (!url.empty() && url.back() == '/')
        url.pop_back();
    if (config_.v2) {
        const std::string p = config_.precision;
        write_url_ = cat(url, "/api/v2/write?org=", escaped(h, config_.org), "&bucket=", escaped(h, config_.bucket),
                         "&precision=", p);
    } else {
        const std::string p = config_.precision == "ns" ? "n" : config_.precision == "us" ? "u" : config_.precision;
        write_url_ = cat(url, "/write?db=", escaped(h, config_.database), "&precision=", p);
        if (!config_.retention_policy.empty())
            write_url_ += "&rp=" + escaped(h, config_.retention_policy);
    }
    curl().easy_cleanup(h);
    if (!config_.spool_dir.empty()) {
        // Named for the write URL: another --url or --database leaves the files be.
        spool_.emplace(config_.spool_dir, "influx", write_url_, ".lp");
        // What an earlier run could not send goes first; it stays on disk until written.
        spool_->load([this](const std::string &path, std::string &, std::size_t lines) {
            queue_.push_back(Batch{{}, lines, path});
        });
    }
    thread_ = std::thread([this] { sender(); });
}

InfluxSink::~InfluxSink()
{
    {
        std::lock_guard lk(mu_);
        stopping_ = true;
        deadline_ = steady::now();
    }
    wake_.notify_all();
    if (thread_.joinable())
        thread_.join();
}

std::string InfluxSink::label() const { return config_.url; }

bool InfluxSink::spill(Batch &b)
{
    auto path = spool_->write(b.text);
    if (path.empty())
        return false;
    b.file = std::move(path);
    in_memory_ -= b.lines;
    std::string().swap(b.text);
    return true;
}

void InfluxSink::close_batch()
{
    if (current_.lines == 0)
        return;
    queue_.push_back(std::move(current_));
    current_ = Batch{};
    wake_.notify_all();
}

void InfluxSink::enforce_memory()
{
    while (in_memory_ > config_.max_lines) {
        // The oldest batch held in memory that the sender is not sending.
        auto it = queue_.begin();
        if (in_flight_ && it != queue_.end())
            ++it;
        while (it != queue_.end() && it->text.empty())
            ++it;
        if (it == queue_.end()) {
            if (current_.lines == 0)
                return;
            close_batch();
            continue;
        }
        if (spool_ && spill(*it)) {
            if (!warned_full_)
                warn(cat("InfluxDB is behind: lines go to the spool in ", config_.spool_dir));
            warned_full_ = true;
            continue;
        }
        if (!warned_full_)
            warn(config_.spool_dir.empty() ? "InfluxDB is behind and the buffer is full: dropping the oldest lines "
                                             "(--spool DIR keeps them)"
                                           : cat("cannot write to the spool in ", config_.spool_dir,
                                                 ": dropping the oldest lines"));
        warned_full_ = true;
        dropped_ += it->lines;
        in_memory_ -= it->lines;
        queue_.erase(it);
    }
}

void InfluxSink::add(std::string_view text, std::size_t lines)
{
    std::unique_lock lk(mu_);
    // While InfluxDB answers, a full buffer means it is slower than the input:
    // intake waits for it (a pipe or the broker holds the rest) instead of
    // dropping. Only while it does not answer do lines go to the spool, or
    // the oldest are dropped.
    while (in_memory_ + lines > config_.max_lines && healthy_ && !failure_ && !stopping_ && !stop_requested())
        room_.wait_for(lk, std::chrono::milliseconds(100));
    if (current_.lines == 0)
        current_started_ = steady::now();
    current_.text += text;
    current_.lines += lines;
    in_memory_ += lines;
    if (current_.lines >= config_.batch_lines)
        close_batch();
    enforce_memory();
}

void InfluxSink::tick()
{
    std::lock_guard lk(mu_);
    if (current_.lines > 0 && steady::now() - current_started_ >= config_.flush_interval)
        close_batch();
}

InfluxSink::Outcome InfluxSink::post(void *handle, const std::string &text, std::string &error,
                                     std::chrono::milliseconds &retry_after)
{
    CURL *h = handle;
    curl().easy_reset(h);
    const std::string body = config_.gzip ? gzip(text) : text;
    std::string response;
    Headers headers;
    curl_slist *list = curl().slist_append(nullptr, "Content-Type: text/plain; charset=utf-8");
    if (config_.gzip)
        list = curl().slist_append(list, "Content-Encoding: gzip");
    const std::string auth = "Authorization: Token " + config_.token;
    if (config_.v2 && !config_.token.empty())
        list = curl().slist_append(list, auth.c_str());
    curl().easy_setopt(h, CURLOPT_URL, write_url_.c_str());
    curl().easy_setopt(h, CURLOPT_POST, 1L);
    curl().easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl().easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl().easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl().easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl().easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, std::min<long>(5000, config_.timeout.count()));
    long timeout = config_.timeout.count();
    {
        std::lock_guard lk(mu_);
        if (stopping_ && deadline_ != steady::time_point::max()) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - steady::now()).count();
            timeout = std::clamp<long>(left, 100, timeout);
        }
    }
    curl().easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
    curl().easy_setopt(h, CURLOPT_WRITEFUNCTION, &collect);
    curl().easy_setopt(h, CURLOPT_WRITEDATA, &response);
    curl().easy_setopt(h, CURLOPT_HEADERFUNCTION, &header);
    curl().easy_setopt(h, CURLOPT_HEADERDATA, &headers);
    if (!config_.v2 && !config_.username.empty()) {
        curl().easy_setopt(h, CURLOPT_USERNAME, config_.username.c_str());
        curl().easy_setopt(h, CURLOPT_PASSWORD, config_.password.c_str());
    }
    if (!config_.cafile.empty())
        curl().easy_setopt(h, CURLOPT_CAINFO, config_.cafile.c_str());
    if (config_.insecure) {
        curl().easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl().easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    const CURLcode rc = curl().easy_perform(h);
    curl().slist_free_all(list);
    retry_after = headers.retry_after;
    if (rc != CURLE_OK) {
        error = curl().easy_strerror(rc);
        switch (rc) {
        // Configuration, not weather: a wrong URL or TLS set-up does not heal by waiting.
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CIPHER:
            return Outcome::fatal;
        default: return Outcome::retry;
        }
    }
    long code = 0;
    curl().easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && code < 300)
        return Outcome::written;
    const std::string why = reason(response);
    error = cat("HTTP ", code, ": ", why);
    if (why.find("not found") != std::string::npos)  // 1.x: an unknown database (404) or retention policy (500)
        return Outcome::fatal;
    if (code == 429 || code == 408 || code >= 500)
        return Outcome::retry;
    if (code == 400 || code == 413)
        return Outcome::rejected;  // a bad line (InfluxDB names it), or a batch too large: halves go again
    return Outcome::fatal;         // 401, 403, a redirect, 405…: refused for good; the lines are kept
}

void InfluxSink::sender()
{
    Backoff backoff(config_.retry_max);
    // One handle for the thread: its connection is kept alive between batches.
    std::unique_ptr<CURL, void (*)(CURL *)> handle(curl().easy_init(), curl().easy_cleanup);
    std::unique_lock lk(mu_);
    if (!handle) {
        warn("libcurl: cannot make a handle");
        failure_ = exit_software;
        return;
    }
    try {
        while (send_one(handle.get(), backoff, lk)) {
        }
    } catch (const std::exception &e) {
        // What is queued stays queued: finish() spools it.
        warn(cat("the sender stopped: ", e.what()));
        in_flight_ = false;
        failure_ = exit_software;
    }
}

bool InfluxSink::send_one(void *handle, Backoff &backoff, std::unique_lock<std::mutex> &lk)
{
    wake_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty() || failure_ || (stopping_ && steady::now() >= deadline_))
        return false;
    // The front batch is ours while in_flight_ is set (enforce_memory leaves it
    // alone), but other elements may go meanwhile: no reference is kept across
    // the unlocked part.
    in_flight_ = true;
    std::string body = queue_.front().text;
    const std::string file = queue_.front().file;
    const std::size_t lines = queue_.front().lines;
    lk.unlock();
    std::string read_error;
    if (body.empty() && !file.empty())
        read_error = read_file(file, body);
    const bool readable = read_error.empty();
    std::string error;
    std::chrono::milliseconds retry_after{0};
    const Outcome outcome = !readable       ? Outcome::unreadable
                            : body.empty()  ? Outcome::written
                                            : post(handle, body, error, retry_after);
    lk.lock();
    in_flight_ = false;
    const auto done = [&](bool remove_file) {
        Batch &b = queue_.front();
        if (!b.text.empty())
            in_memory_ -= b.lines;
        if (remove_file && !b.file.empty())
            spool_->remove(b.file);
        queue_.pop_front();
    };
    switch (outcome) {
    case Outcome::written:
        written_ += lines;
        done(true);
        backoff.reset();
        healthy_ = true;
        room_.notify_all();
        break;
    case Outcome::unreadable:
        warn(cat("cannot read the spool file ", file, ": ", read_error, " (left where it is)"));
        dropped_ += lines;
        done(false);
        break;
    case Outcome::rejected:
        if (lines > 1) {
            // InfluxDB wrote the good lines and does not always say which it refused:
            // the halves go again (a point written twice is the same point) until
            // each refused line stands alone and can be named. A spool file goes
            // only once its halves are held in memory.
            std::size_t cut = 0;
            for (std::size_t n = 0; n < lines / 2; ++n)
                cut = body.find('\n', cut) + 1;
            Batch first{body.substr(0, cut), lines / 2, {}}, second{body.substr(cut), lines - lines / 2, {}};
            done(true);
            in_memory_ += lines;
            queue_.push_front(std::move(second));
            queue_.push_front(std::move(first));
            break;
        }
        ++rejected_;
        while (!body.empty() && body.back() == '\n')
            body.pop_back();
        warn(cat("InfluxDB rejected a line (", error, "): ", body.substr(0, 400)));
        done(true);
        break;
    case Outcome::retry: {
        ++retries_;
        healthy_ = false;  // intake stops waiting for it
        room_.notify_all();
        const auto delay = retry_after.count() > 0 ? retry_after
                                                   : std::chrono::duration_cast<std::chrono::milliseconds>(backoff.next());
        warn(cat(config_.url, ": ", error, "; retrying in ", seconds_text(delay)));
        // Until the delay is over, or the deadline of finish() (set later, maybe) passes.
        const auto until = steady::now() + delay;
        while (steady::now() < until && !(stopping_ && steady::now() >= deadline_))
            wake_.wait_until(lk, std::min(until, deadline_));
        break;
    }
    case Outcome::fatal:
        warn(cat(config_.url, ": ", error, config_.spool_dir.empty() ? "" : "; keeping the lines in the spool"));
        failure_ = exit_config;
        room_.notify_all();
        return false;
    }
    room_.notify_all();
    return true;
}

std::uint64_t InfluxSink::finish(std::chrono::milliseconds timeout)
{
    {
        std::lock_guard lk(mu_);
        close_batch();
        stopping_ = true;
        deadline_ = steady::now() + timeout;
    }
    wake_.notify_all();
    if (thread_.joinable())
        thread_.join();
    std::lock_guard lk(mu_);
    for (auto &b : queue_) {
        if (!b.text.empty() && !(spool_ && spill(b))) {
            dropped_ += b.lines;
            in_memory_ -= b.lines;
            b.lines = 0;
        }
        if (!b.file.empty())
            spooled_ += b.lines;
    }
    queue_.clear();
    return dropped_;
}

std::optional<int> InfluxSink::failure() const
{
    std::lock_guard lk(mu_);
    return failure_;
}

std::uint64_t InfluxSink::written() const
{
    std::lock_guard lk(mu_);
    return written_;
}
std::uint64_t InfluxSink::retries() const
{
    std::lock_guard lk(mu_);
    return retries_;
}
std::uint64_t InfluxSink::rejected() const
{
    std::lock_guard lk(mu_);
    return rejected_;
}
std::uint64_t InfluxSink::spooled() const
{
    std::lock_guard lk(mu_);
    return spooled_;
}
std::uint64_t InfluxSink::dropped() const
{
    std::lock_guard lk(mu_);
    return dropped_;
}

}  // namespace dht::influx
