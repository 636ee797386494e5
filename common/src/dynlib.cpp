#include "dht/dynlib.hpp"

#include "dht/diag.hpp"

#include <dlfcn.h>

#include <string>

namespace dht {
namespace {

std::string dl_error()
{
    const char *e = dlerror();
    return e != nullptr ? e : "unknown error";
}

}  // namespace

SharedLibrary::SharedLibrary(const char *soname) : soname_(soname), handle_(dlopen(soname, RTLD_NOW | RTLD_LOCAL))
{
    if (handle_ == nullptr)
        fail(exit_unavailable, cat("cannot load ", soname_, " (", dl_error(), "); install it to use this feature"));
}

void *SharedLibrary::address(const char *name) const
{
    void *p = dlsym(handle_, name);
    if (p == nullptr)
        fail(exit_unavailable, cat(soname_, " has no ", name, " (", dl_error(), ")"));
    return p;
}

const Curl &curl()
{
    static const Curl table = [] {
        static const SharedLibrary lib("libcurl.so.4");
        Curl c{};
        lib.bind(c.global_init, "curl_global_init");
        lib.bind(c.easy_init, "curl_easy_init");
        lib.bind(c.easy_cleanup, "curl_easy_cleanup");
        lib.bind(c.easy_reset, "curl_easy_reset");
        lib.bind(c.easy_setopt, "curl_easy_setopt");
        lib.bind(c.easy_perform, "curl_easy_perform");
        lib.bind(c.easy_getinfo, "curl_easy_getinfo");
        lib.bind(c.easy_strerror, "curl_easy_strerror");
        lib.bind(c.easy_escape, "curl_easy_escape");
        lib.bind(c.free, "curl_free");
        lib.bind(c.slist_append, "curl_slist_append");
        lib.bind(c.slist_free_all, "curl_slist_free_all");
        if (c.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            fail(exit_software, "libcurl could not be initialised");
        return c;
    }();
    return table;
}

const Microhttpd &microhttpd()
{
    static const Microhttpd table = [] {
        static const SharedLibrary lib("libmicrohttpd.so.12");
        Microhttpd m{};
        lib.bind(m.start_daemon, "MHD_start_daemon");
        lib.bind(m.stop_daemon, "MHD_stop_daemon");
        lib.bind(m.run, "MHD_run");
        lib.bind(m.get_timeout, "MHD_get_timeout");
        lib.bind(m.get_daemon_info, "MHD_get_daemon_info");
        lib.bind(m.get_connection_info, "MHD_get_connection_info");
        lib.bind(m.create_response_from_buffer, "MHD_create_response_from_buffer");
        lib.bind(m.add_response_header, "MHD_add_response_header");
        lib.bind(m.queue_response, "MHD_queue_response");
        lib.bind(m.destroy_response, "MHD_destroy_response");
        return m;
    }();
    return table;
}

}  // namespace dht
