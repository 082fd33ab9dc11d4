/* libssl.so for civetweb: Debian 12's civetweb 1.15 is built for the OpenSSL 1.1 API and loads
 * the unversioned "libssl.so" with dlopen, then looks up SSL_get_peer_certificate with dlsym.
 * OpenSSL 3 has that name only as a macro for SSL_get1_peer_certificate, so civetweb gets a
 * NULL function pointer and the first HTTPS request crashes the process (upstream civetweb
 * issue 1334). This library is installed under the name libssl.so in a directory of its own
 * that the connwatch executable's DT_RPATH names first; it defines the missing function and
 * links libssl.so.3, so dlsym through it finds every other libssl symbol in the real library
 * (the same copy connwatch itself links, so both share one OpenSSL state). */
#include <openssl/ssl.h>

#undef SSL_get_peer_certificate

/* Same contract as OpenSSL 1.1's function: a new reference the caller frees with X509_free. */
__attribute__((visibility("default"))) X509 *SSL_get_peer_certificate(const SSL *ssl) {
  return SSL_get1_peer_certificate(ssl);
}
