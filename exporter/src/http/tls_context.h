// OpenSSL at the edge: applies TlsSettings (tls_config.h) to an SSL_CTX, checks the
// certificate files at start, and checks that civetweb's dlopen of "libssl.so" will find a
// library it can use (see exporter/tls_shim/ssl_compat.c).
#pragma once

#include <string>

#include "http/tls_config.h"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace connwatch {

// Loads the certificate chain, the key (checked against the certificate), the client CA and
// every protocol setting into `ctx`. False with `error` naming the file or key and OpenSSL's
// reason. Called from civetweb's init_ssl callback; never throws.
bool ConfigureSslContext(ssl_ctx_st* ctx, const TlsSettings& settings, std::string& error);

// ConfigureSslContext on a throwaway SSL_CTX: the start-up check, so a bad pair stops
// connwatch with a clear message before it listens.
bool CheckTlsSettings(const TlsSettings& settings, std::string& error);

// civetweb loads "libssl.so" by name with dlopen and calls SSL_get_peer_certificate on every
// HTTPS request; OpenSSL 3's libssl lacks that symbol (a NULL call: a crash). Resolves the
// name the same way (this executable's DT_RPATH first) and refuses when the symbol is missing.
bool CheckCivetwebSslLibrary(std::string& error);

}  // namespace connwatch
