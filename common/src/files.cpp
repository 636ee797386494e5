#include "dht/files.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>

namespace dht {

std::string read_file(const std::string &path, std::string &text)
{
    text.clear();
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return std::strerror(errno);
    int error = 0;
    char buf[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            error = errno;
        if (n <= 0)
            break;
        text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    if (error != 0) {
        text.clear();
        return std::strerror(error);
    }
    return {};
}

std::string write_file_atomically(const std::string &path, std::string_view text, mode_t mode)
{
    // A fresh name made with O_EXCL (mkostemp): a file or a link planted at a
    // predictable name in a shared directory is never opened, let alone written.
    std::string tmp = path + ".tmp.XXXXXX";
    const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
    if (fd < 0)
        return std::strerror(errno);
    int error = 0;
    for (std::size_t done = 0; error == 0 && done < text.size();) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            error = n < 0 ? errno : EIO;
        else
            done += static_cast<std::size_t>(n);
    }
    if (error == 0 && ::fchmod(fd, mode) != 0)  // O_CREAT's mode is masked by the umask; keep what was asked
        error = errno;
    if (error == 0 && ::fsync(fd) != 0)
        error = errno;
    if (::close(fd) != 0 && error == 0)
        error = errno;
    if (error == 0 && std::rename(tmp.c_str(), path.c_str()) != 0)
        error = errno;
    if (error != 0) {
        ::unlink(tmp.c_str());
        return std::strerror(error);
    }
    return {};
}

std::optional<FileLock> FileLock::acquire(const std::string &path, std::string &error)
{
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        error = std::strerror(errno);
        return std::nullopt;
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int e = errno;
        char pid[32] = {};
        const ssize_t n = ::pread(fd, pid, sizeof pid - 1, 0);
        ::close(fd);
        std::string holder(pid, n > 0 ? static_cast<std::size_t>(n) : 0);
        while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\0'))
            holder.pop_back();
        error = e == EWOULDBLOCK ? (holder.empty() ? std::string("held by another process")
                                                   : "held by process " + holder)
                                 : std::strerror(e);
        return std::nullopt;
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
        // The lock holds all the same; only the message of a second process is poorer.
    }
    return FileLock(fd);
}

FileLock::~FileLock()
{
    if (fd_ >= 0)
        ::close(fd_);  // releases the lock
}

}  // namespace dht
