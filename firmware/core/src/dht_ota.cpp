#include "dht_ota.hpp"

#include "dht_json_reader.hpp"

#include <cstring>

namespace dht::firmware {

namespace {

bool valid_url(const char *url)
{
    static const char scheme[] = "https://";
    if (std::strncmp(url, scheme, sizeof scheme - 1) != 0)
        return false;
    const char *host = url + sizeof scheme - 1;
    if (*host == '\0' || *host == '/' || *host == ':' || *host == '@')
        return false;
    for (const char *c = url; *c != '\0'; ++c)
        if (*c <= ' ' || *c > '~')
            return false;
    return true;
}

bool valid_version(const char *v)
{
    if (*v == '\0')
        return false;
    for (; *v != '\0'; ++v) {
        const bool ok = (*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') || (*v >= '0' && *v <= '9') ||
                        *v == '.' || *v == '-' || *v == '_' || *v == '+';
        if (!ok)
            return false;
    }
    return true;
}

bool lower_hex_md5(char *md5)
{
    if (std::strlen(md5) != 32)
        return false;
    for (char *c = md5; *c != '\0'; ++c) {
        if (*c >= 'A' && *c <= 'F')
            *c = static_cast<char>(*c - 'A' + 'a');
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
            return false;
    }
    return true;
}

}  // namespace

const char *parse_ota_command(const char *payload, std::size_t length, OtaRequest &out) noexcept
{
    OtaRequest r;
    JsonReader in(payload, length);
    if (!in.begin_object())
        return "not a JSON object";
    bool seen_url = false, seen_version = false, seen_md5 = false;
    char key[16];
    while (in.next_key(key, sizeof key)) {
        if (std::strcmp(key, "ota") == 0 && !seen_url) {
            seen_url = true;
            if (!in.string(r.url, sizeof r.url) || !valid_url(r.url))
                return "ota must be an https:// URL of at most 200 characters";
        } else if (std::strcmp(key, "version") == 0 && !seen_version) {
            seen_version = true;
            if (!in.string(r.version, sizeof r.version) || !valid_version(r.version))
                return "version must be 1 to 32 of A-Z a-z 0-9 . - _ +";
        } else if (std::strcmp(key, "md5") == 0 && !seen_md5) {
            seen_md5 = true;
            if (!in.string(r.md5, sizeof r.md5) || !lower_hex_md5(r.md5))
                return "md5 must be 32 hexadecimal digits";
        } else {
            return "the keys are ota, version and md5, each once";
        }
    }
    if (!in.finished())
        return "not one JSON object";
    if (!seen_url || !seen_version || !seen_md5)
        return "ota, version and md5 are all needed";
    out = r;
    return nullptr;
}

}  // namespace dht::firmware
