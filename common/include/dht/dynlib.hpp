#pragma once
// The libraries only some runs need, opened on first use: libcurl (InfluxDB
// writes) and libmicrohttpd (dht-stats --listen). Linked in, they and their
// dependencies (TLS stacks, IDN, LDAP, SSH…) were loaded by every start,
// --help and --version included. Their headers still give the types: each
// table entry has the type of the function it stands for.

#include <curl/curl.h>
#include <microhttpd.h>

namespace dht {

// A shared library opened with dlopen(); a missing library or symbol ends
// the tool with exit_unavailable and a message that names it.
class SharedLibrary {
public:
    explicit SharedLibrary(const char *soname);
    SharedLibrary(const SharedLibrary &) = delete;
    SharedLibrary &operator=(const SharedLibrary &) = delete;

    template <class Function>
    void bind(Function &f, const char *name) const
    {
        f = reinterpret_cast<Function>(address(name));
    }

private:
    void *address(const char *name) const;
    const char *soname_;
    void *handle_;
};

// libcurl's functions the tools call, from libcurl.so.4.
struct Curl {
    decltype(&::curl_global_init) global_init;
    decltype(&::curl_easy_init) easy_init;
    decltype(&::curl_easy_cleanup) easy_cleanup;
    decltype(&::curl_easy_reset) easy_reset;
    decltype(&::curl_easy_setopt) easy_setopt;
    decltype(&::curl_easy_perform) easy_perform;
    decltype(&::curl_easy_getinfo) easy_getinfo;
    decltype(&::curl_easy_strerror) easy_strerror;
    decltype(&::curl_easy_escape) easy_escape;
    decltype(&::curl_free) free;
    decltype(&::curl_slist_append) slist_append;
    decltype(&::curl_slist_free_all) slist_free_all;
};
// Loaded (and curl_global_init() run) on the first call.
const Curl &curl();

// libmicrohttpd's functions dht-stats --listen calls, from libmicrohttpd.so.12.
struct Microhttpd {
    decltype(&::MHD_start_daemon) start_daemon;
    decltype(&::MHD_stop_daemon) stop_daemon;
    decltype(&::MHD_run) run;
    decltype(&::MHD_get_timeout) get_timeout;
    decltype(&::MHD_get_daemon_info) get_daemon_info;
    decltype(&::MHD_get_connection_info) get_connection_info;
    decltype(&::MHD_create_response_from_buffer) create_response_from_buffer;
    decltype(&::MHD_add_response_header) add_response_header;
    decltype(&::MHD_queue_response) queue_response;
    decltype(&::MHD_destroy_response) destroy_response;
};
// Loaded on the first call.
const Microhttpd &microhttpd();

}  // namespace dht
