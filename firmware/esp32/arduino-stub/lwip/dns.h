// A stand-in for lwIP's asynchronous DNS (lwip/dns.h in ESP-IDF), as the
// sketch uses it: an IP literal or a cached name answers at once (ERR_OK);
// otherwise ERR_INPROGRESS, and the callback comes later, from the fake
// world: at the next delay() while arduino_stub::world().dns_answers, never
// otherwise.
#pragma once

#include <cstdint>

typedef std::int8_t err_t;
#define ERR_OK 0
#define ERR_INPROGRESS -5
#define ERR_ARG -16

struct ip_addr_t {
    std::uint32_t addr;
};

typedef void (*dns_found_callback)(const char *name, const ip_addr_t *ipaddr, void *callback_arg);
err_t dns_gethostbyname(const char *hostname, ip_addr_t *addr, dns_found_callback found, void *callback_arg);
