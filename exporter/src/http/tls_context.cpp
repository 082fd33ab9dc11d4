#include "http/tls_context.h"

#include <dlfcn.h>
#include <link.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>

namespace connwatch {
namespace {

// The last OpenSSL error on this thread (its code in `last`), the queue cleared for the next
// caller.
std::string OpenSslReason(unsigned long* last_code = nullptr) {
  unsigned long code = 0, last = 0;
  while ((code = ERR_get_error()) != 0) last = code;
  if (last_code != nullptr) *last_code = last;
  if (last == 0) return "unknown OpenSSL error";
  char buffer[256];
  ERR_error_string_n(last, buffer, sizeof(buffer));
  return buffer;
}

bool Mismatch(std::string& error, const TlsSettings& settings, const std::string& reason) {
  error = "tls_server_config.key_file: " + settings.key_file +
          " does not match the certificate in cert_file " + settings.cert_file + " (" + reason +
          ")";
  return false;
}

// "tls_server_config.KEY: DETAIL: OpenSSL's reason".
bool Fail(std::string& error, const std::string& key, const std::string& detail) {
  error = "tls_server_config." + key + ": " + detail + ": " + OpenSslReason();
  return false;
}

// An encrypted key would make OpenSSL prompt on the terminal; refuse instead (Go does too).
int NoPassphrase(char*, int, int, void*) { return 0; }

// RequestClientCert and RequireAnyClientCert take any certificate, as Go's do: OpenSSL's
// chain check runs, and this callback overrides every verdict.
int AcceptAnyCertificate(int, X509_STORE_CTX*) { return 1; }

bool LoadClientCa(SSL_CTX* ctx, const TlsSettings& settings, std::string& error) {
  const ClientCertRules& rules = settings.client_cert;
  if (!settings.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, settings.client_ca_file.c_str(), nullptr) != 1) {
      return Fail(error, "client_ca_file", settings.client_ca_file);
    }
    // The CA names go into the CertificateRequest, as Go sends its ClientCAs' subjects.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(settings.client_ca_file.c_str());
    if (names == nullptr) return Fail(error, "client_ca_file", settings.client_ca_file);
    SSL_CTX_set_client_CA_list(ctx, names);
  } else if (rules.verify && SSL_CTX_set_default_verify_paths(ctx) != 1) {
    // Go verifies against the system roots when no client CA is configured.
    return Fail(error, "client_auth_type", "loading the system CA certificates");
  }
  int mode = SSL_VERIFY_NONE;
  if (rules.request) mode |= SSL_VERIFY_PEER;
  if (rules.require) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  SSL_CTX_set_verify(ctx, mode, rules.verify ? nullptr : &AcceptAnyCertificate);
  return true;
}

}  // namespace

bool ConfigureSslContext(ssl_ctx_st* ctx, const TlsSettings& settings, std::string& error) {
  ERR_clear_error();
  SSL_CTX_set_default_passwd_cb(ctx, &NoPassphrase);
  if (SSL_CTX_use_certificate_chain_file(ctx, settings.cert_file.c_str()) != 1) {
    return Fail(error, "cert_file", settings.cert_file);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, settings.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    // OpenSSL compares a key with the certificate already loaded as it loads the key.
    unsigned long code = 0;
    std::string reason = OpenSslReason(&code);
    if (ERR_GET_LIB(code) == ERR_LIB_X509 && ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH) {
      return Mismatch(error, settings, reason);
    }
    error = "tls_server_config.key_file: " + settings.key_file + ": " + reason;
    return false;
  }
  if (SSL_CTX_check_private_key(ctx) != 1) return Mismatch(error, settings, OpenSslReason());
  // civetweb set SSL_OP_NO_TLSv1* from its own ssl_protocol_version; the config decides here.
  SSL_CTX_clear_options(ctx, SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 |
                                 SSL_OP_NO_TLSv1_2 | SSL_OP_NO_TLSv1_3);
  if (settings.legacy_security_level) SSL_CTX_set_security_level(ctx, 0);
  if (SSL_CTX_set_min_proto_version(ctx, settings.min_version) != 1) {
    return Fail(error, "min_version", "cannot set");
  }
  if (SSL_CTX_set_max_proto_version(ctx, settings.max_version) != 1) {
    return Fail(error, "max_version", "cannot set");
  }
  if (!settings.cipher_list.empty() &&
      SSL_CTX_set_cipher_list(ctx, settings.cipher_list.c_str()) != 1) {
    return Fail(error, "cipher_suites", settings.cipher_list);
  }
  if (!settings.groups.empty() && SSL_CTX_set1_groups_list(ctx, settings.groups.c_str()) != 1) {
    return Fail(error, "curve_preferences", settings.groups);
  }
  if (settings.server_cipher_preference) {
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  } else {
    SSL_CTX_clear_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  }
  // Go's server never renegotiates.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  // Sessions of a context that verifies peers resume only with an id context set.
  static constexpr unsigned char kSessionContext[] = "connwatch";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext) - 1);
  return LoadClientCa(ctx, settings, error);
}

bool CheckTlsSettings(const TlsSettings& settings, std::string& error) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_server_method()),
                                                        &SSL_CTX_free);
  if (!ctx) return Fail(error, "cert_file", "SSL_CTX_new");
  return ConfigureSslContext(ctx.get(), settings, error);
}

bool CheckCivetwebSslLibrary(std::string& error) {
  // dlopen from this executable searches its DT_RPATH first, as civetweb's dlopen does
  // (libcivetweb has neither RPATH nor RUNPATH, so the executable's DT_RPATH applies).
  void* handle = dlopen("libssl.so", RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* reason = dlerror();
    error = std::string("civetweb cannot load libssl.so: ") + (reason ? reason : "not found") +
            " (connwatch's lib/connwatch directory is missing)";
    return false;
  }
  bool usable = dlsym(handle, "SSL_get_peer_certificate") != nullptr;
  link_map* map = nullptr;
  std::string path = dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map != nullptr &&
                             map->l_name != nullptr && map->l_name[0] != '\0'
                         ? map->l_name
                         : "libssl.so";
  dlclose(handle);
  if (!usable) {
    error = "civetweb would load " + path +
            ", which lacks SSL_get_peer_certificate (OpenSSL 3): the first HTTPS request would "
            "crash. connwatch's libssl.so shim (lib/connwatch) was not found first";
    return false;
  }
  return true;
}

}  // namespace connwatch
