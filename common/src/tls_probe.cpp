#include "dht/tls_probe.hpp"

#include "dht/diag.hpp"
#include "dht/net.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <memory>

namespace dht {

namespace {

struct SslFree {
    void operator()(SSL_CTX *c) const noexcept { SSL_CTX_free(c); }
    void operator()(SSL *s) const noexcept { SSL_free(s); }
};

// A socket closed on scope exit.
struct Fd {
    int fd;
    ~Fd()
    {
        if (fd >= 0)
            ::close(fd);
    }
};

bool is_address(const std::string &host)
{
    std::array<unsigned char, 16> buf{};
    return inet_pton(AF_INET, host.c_str(), buf.data()) == 1 || inet_pton(AF_INET6, host.c_str(), buf.data()) == 1;
}

// OpenSSL's reason for the last error ("tlsv13 alert certificate required");
// the queue is emptied.
std::string ssl_reason()
{
    const unsigned long e = ERR_peek_last_error();
    const char *r = e != 0 ? ERR_reason_error_string(e) : nullptr;
    ERR_clear_error();
    return r != nullptr ? r : "";
}

// The host names and addresses a certificate is for: its subjectAltName, or
// its CN when it has none.
std::string certificate_names(X509 *cert)
{
    std::string out;
    const auto add = [&out](const std::string &name) { out += (out.empty() ? "" : ", ") + name; };
    auto *names = static_cast<GENERAL_NAMES *>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        if (g->type == GEN_DNS) {
            add(std::string(reinterpret_cast<const char *>(ASN1_STRING_get0_data(g->d.dNSName)),
                            static_cast<std::size_t>(ASN1_STRING_length(g->d.dNSName))));
        } else if (g->type == GEN_IPADD) {
            std::array<char, INET6_ADDRSTRLEN> text{};
            const int len = ASN1_STRING_length(g->d.iPAddress);
            const int family = len == 4 ? AF_INET : AF_INET6;
            if ((len == 4 || len == 16) &&
                inet_ntop(family, ASN1_STRING_get0_data(g->d.iPAddress), text.data(), text.size()) != nullptr)
                add(text.data());
        }
    }
    GENERAL_NAMES_free(names);
    if (out.empty()) {
        std::array<char, 256> cn{};
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn.data(),
                                      static_cast<int>(cn.size())) > 0)
            out = cn.data();
    }
    return out.empty() ? "no name" : out;
}

std::string issuer_of(X509 *cert)
{
    std::array<char, 256> cn{};
    if (X509_NAME_get_text_by_NID(X509_get_issuer_name(cert), NID_commonName, cn.data(),
                                  static_cast<int>(cn.size())) > 0)
        return cn.data();
    return "an unnamed issuer";
}

// What is wrong with the broker's certificate, checked as libmosquitto
// checks it: the chain against our CAs, then the name we connect by.
std::string certificate_fault(SSL *ssl, const Endpoint &broker, const MqttOptions &opt)
{
    X509 *cert = SSL_get0_peer_certificate(ssl);
    if (cert == nullptr)
        return "";
    const long v = SSL_get_verify_result(ssl);
    if (v == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT || v == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
        v == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN || v == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
        v == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE)
        return cat("the broker's certificate (issued by ", issuer_of(cert), ") is not signed by a CA in ",
                   opt.cafile.empty() ? opt.capath : opt.cafile, ": give the CA that issued it with --cafile");
    if (v != X509_V_OK)
        return cat("the broker's certificate does not verify: ", X509_verify_cert_error_string(v));
    if (opt.insecure)
        return "";
    const bool match = is_address(broker.host)
                           ? X509_check_ip_asc(cert, broker.host.c_str(), 0) == 1
                           : X509_check_host(cert, broker.host.c_str(), broker.host.size(), 0, nullptr) == 1;
    if (match)
        return "";
    const std::string names = certificate_names(cert);
    return cat("the broker's certificate is for ", names, ", not ", broker.host, ": connect by ",
               names.find(", ") == std::string::npos ? "that name" : "one of those names",
               " (-h), or add --insecure to skip the name check");
}

// What an alert from the broker (or a local TLS error) means, when retrying
// cannot cure it.
std::string alert_fault(const std::string &reason, const MqttOptions &opt)
{
    const auto has = [&reason](const char *text) { return reason.find(text) != std::string::npos; };
    if (opt.certfile.empty() && (has("certificate required") || has("handshake failure")))
        return cat("the broker wants a client certificate (", reason, "): give one with --cert and --key");
    if (!opt.certfile.empty() && (has("unknown ca") || has("bad certificate") || has("certificate unknown") ||
                                  has("certificate expired") || has("certificate revoked") ||
                                  has("access denied") || has("handshake failure")))
        return cat("the broker does not accept the client certificate ", opt.certfile, " (", reason,
                   "): give one signed by a CA it trusts with --cert and --key");
    if (has("protocol version") || has("unsupported protocol") || has("no protocols available"))
        return cat("the broker and this client share no TLS version (", reason, "): try another --tls-version");
    return "";
}

// A TLS connection to `broker` set up as `opt` (or, with opt null, trusting
// nothing and sending no certificate). ssl is null when TCP failed.
struct Probe {
    Fd sock{-1};
    std::unique_ptr<SSL_CTX, SslFree> ctx;
    std::unique_ptr<SSL, SslFree> ssl;
    bool handshake = false;
    bool asked_for_certificate = false;  // the broker sent a CertificateRequest
    std::string reason;  // OpenSSL's, when the handshake failed
};

void open_probe(Probe &p, const Endpoint &broker, const MqttOptions *opt, std::chrono::milliseconds timeout)
{
    std::string error;
    p.sock.fd = tcp_connect(broker, timeout, error);
    if (p.sock.fd < 0)
        return;
    const auto ms = std::max<long long>(timeout.count(), 100);
    timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>(ms % 1000 * 1000)};
    ::setsockopt(p.sock.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(p.sock.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    ERR_clear_error();
    p.ctx.reset(SSL_CTX_new(TLS_client_method()));
    if (!p.ctx)
        return;
    // The handshake goes on whatever the certificate; its verdict is read after.
    SSL_CTX_set_verify(p.ctx.get(), SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_cert_cb(
        p.ctx.get(),
        [](SSL *, void *asked) {
            *static_cast<bool *>(asked) = true;
            return 1;
        },
        &p.asked_for_certificate);
    if (opt != nullptr) {
        SSL_CTX_load_verify_locations(p.ctx.get(), opt->cafile.empty() ? nullptr : opt->cafile.c_str(),
                                      opt->capath.empty() ? nullptr : opt->capath.c_str());
        if (!opt->certfile.empty() &&
            (SSL_CTX_use_certificate_chain_file(p.ctx.get(), opt->certfile.c_str()) != 1 ||
             SSL_CTX_use_PrivateKey_file(p.ctx.get(), opt->keyfile.c_str(), SSL_FILETYPE_PEM) != 1))
            return;
        // As libmosquitto reads --tls-version: the lowest version allowed.
        const std::string &version = opt->tls_version;
        // (SSL_CTX_set_min_proto_version, without the macro's C cast.)
        SSL_CTX_ctrl(p.ctx.get(), SSL_CTRL_SET_MIN_PROTO_VERSION,
                     version == "tlsv1.3" ? TLS1_3_VERSION : version == "tlsv1.1" ? TLS1_1_VERSION : TLS1_2_VERSION, nullptr);
    }
    p.ssl.reset(SSL_new(p.ctx.get()));
    if (!p.ssl)
        return;
    SSL_set_fd(p.ssl.get(), p.sock.fd);
    if (!is_address(broker.host))
        SSL_ctrl(p.ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,  // server name (SNI)
                 const_cast<char *>(broker.host.c_str()));
    p.handshake = SSL_connect(p.ssl.get()) == 1;
    if (!p.handshake)
        p.reason = ssl_reason();
}

}  // namespace

std::string tls_fault(const Endpoint &broker, const MqttOptions &opt, std::chrono::milliseconds timeout)
{
    Probe p;
    open_probe(p, broker, &opt, timeout);
    if (!p.ssl)
        return "";
    if (auto why = certificate_fault(p.ssl.get(), broker, opt); !why.empty())
        return why;
    if (!p.handshake)
        return alert_fault(p.reason, opt);
    // With TLS 1.3 a broker refuses a client certificate only after the
    // handshake: its alert comes at once, while a broker that took the
    // certificate waits for our CONNECT. (Sending one would not do: the
    // broker's reset for unread data can overtake the alert.)
    const auto wait = std::min<std::chrono::milliseconds>(timeout, std::chrono::seconds(1));
    timeval tv{0, static_cast<suseconds_t>(std::max<long long>(wait.count(), 100) * 1000)};
    ::setsockopt(p.sock.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::array<char, 4> reply{};
    if (SSL_read(p.ssl.get(), reply.data(), static_cast<int>(reply.size())) > 0)
        return "";
    const int code = SSL_get_error(p.ssl.get(), 0);
    if (auto why = alert_fault(ssl_reason(), opt); !why.empty())
        return why;
    // Its alert is sometimes lost to the reset that follows it: a broker that
    // asked for our certificate and hung up at once did not like it.
    const bool timed_out = code == SSL_ERROR_WANT_READ || (code == SSL_ERROR_SYSCALL && errno == EAGAIN);
    if (!p.asked_for_certificate || timed_out)
        return "";
    if (opt.certfile.empty())
        return "the broker wants a client certificate (it closed the connection after the TLS handshake): "
               "give one with --cert and --key";
    return cat("the broker does not accept the client certificate ", opt.certfile,
               " (it closed the connection after the TLS handshake): give one signed by a CA it trusts with "
               "--cert and --key");
}

bool speaks_tls(const Endpoint &broker, std::chrono::milliseconds timeout)
{
    Probe p;
    open_probe(p, broker, nullptr, timeout);
    const bool tls = p.ssl && (p.handshake || SSL_get0_peer_certificate(p.ssl.get()) != nullptr);
    ERR_clear_error();
    return tls;
}

}  // namespace dht
