#include "dht/output.hpp"

#include "dht/diag.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dht {

Output::Output(int fd, std::size_t flush_at) : fd_(fd), flush_at_(flush_at) { buf_.reserve(flush_at + 4096); }

void Output::write(std::string_view text)
{
    buf_.append(text);
    maybe_flush();
}

void Output::maybe_flush()
{
    if (buf_.size() >= flush_at_)
        flush();
}

void Output::flush()
{
    std::size_t done = 0;
    while (done < buf_.size()) {
        const ssize_t n = ::write(fd_, buf_.data() + done, buf_.size() - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            buf_.clear();
            if (errno == EPIPE)
                throw ClosedOutput();
            fail(exit_ioerr, cat("write error: ", std::strerror(errno)));
        }
        done += static_cast<std::size_t>(n);
    }
    buf_.clear();
}

bool Output::reader_gone() const
{
    // Linux reports POLLERR on a pipe's write end once no reader is left, and
    // POLLHUP on a socket whose peer has shut down; a file or a terminal has neither.
    pollfd p{fd_, 0, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP)) != 0;
}

}  // namespace dht
