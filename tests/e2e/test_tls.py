#!/usr/bin/env python3
"""--web.config.file tls_server_config served over HTTPS by the real binary.

Certificates are made with the `openssl` CLI at test time in a temporary directory: a server
CA and a server certificate for 127.0.0.1, a client CA with a client certificate, and a
certificate from an unrelated CA. Handshakes are checked with `openssl s_client` (one protocol
version or cipher at a time) and with python's ssl module; a real Prometheus scrapes over
HTTPS with basic auth and ca_file. Every server listens on 127.0.0.1 port 0.
"""

import base64
import concurrent.futures
import http.client
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import connwatch_harness as h  # noqa: E402

FIXTURES = os.path.join(h.REPO_ROOT, "tests", "fixtures", "web_config")
USER, PASSWORD = "alice", "s3cret"  # good/basic_auth.yml, cost 10


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, stdout=subprocess.PIPE,
                   stderr=subprocess.STDOUT, timeout=60)


class Pki:
    """CAs and certificates (RSA 2048, valid 2 days) in a temporary directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="cw-e2e-tls-")
        self.ca = self._ca("server-ca")
        self.server = self._leaf("server", "server-ca", "127.0.0.1",
                                 "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        self.client_ca = self._ca("client-ca")
        self.client = self._leaf("client", "client-ca", "prometheus",
                                 "extendedKeyUsage=clientAuth\n")
        self.other_ca = self._ca("other-ca")
        self.stranger = self._leaf("stranger", "other-ca", "prometheus",
                                   "extendedKeyUsage=clientAuth\n")

    def path(self, name):
        return os.path.join(self.dir, name)

    def _ca(self, name):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
                "-out", f"{name}.crt", "-days", "2", "-subj", f"/CN=connwatch test {name}",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=self.dir)
        return self.path(f"{name}.crt")

    def _leaf(self, name, ca, common_name, extensions):
        with open(self.path(f"{name}.ext"), "w") as f:
            f.write(extensions)
        openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
                "-out", f"{name}.csr", "-subj", f"/CN={common_name}", cwd=self.dir)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
                "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", "2",
                "-extfile", f"{name}.ext", "-out", f"{name}.crt", cwd=self.dir)
        return self.path(f"{name}.crt"), self.path(f"{name}.key")

    def web_config(self, name, basic_auth=False, **tls):
        """Writes NAME.yml: the server pair plus `tls` keys (lists and strings)."""
        tls = dict({"cert_file": self.server[0], "key_file": self.server[1]}, **tls)
        text = "tls_server_config:\n" + "".join(f"  {k}: {json.dumps(v)}\n"
                                                for k, v in tls.items())
        if basic_auth:
            with open(os.path.join(FIXTURES, "good", "basic_auth.yml")) as f:
                text += f.read()
        path = self.path(f"{name}.yml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def s_client(port, ca, *args):
    """(handshake succeeded, output) of `openssl s_client` with extra args."""
    proc = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", ca,
                           "-verify_return_error", "-brief"] + list(args),
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=30)
    out = proc.stdout.decode("utf-8", "replace")
    return proc.returncode == 0 and "CONNECTION ESTABLISHED" in out, out


def client_context(ca, cert=None):
    context = ssl.create_default_context(cafile=ca)
    if cert:
        context.load_cert_chain(*cert)
    return context


def https_get(port, context, path="/metrics", headers=None, conn=None):
    """(status, body) of one GET; `conn` reuses a keep-alive connection."""
    own = conn is None
    if own:
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=15)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        if own:
            conn.close()


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def assert_valid_exposition(test, status, body):
    test.assertEqual(status, 200, body[:300])
    exp = h.Exposition(body.decode("utf-8"))  # raises on a malformed exposition
    test.assertEqual([s.value for s in exp.select("connwatch_build_info")], [1.0])
    test.assertTrue(exp.select("connwatch_sockets"))


class PkiCase(unittest.TestCase):
    """One set of certificates per test class, removed after it."""

    @classmethod
    def setUpClass(cls):
        cls.pki = Pki()

    @classmethod
    def tearDownClass(cls):
        cls.pki.cleanup()


class TlsServing(PkiCase):
    def start(self, config):
        cw = h.Connwatch(f"--web.config.file={config}").start()
        self.addCleanup(cw.stop)
        self.assertIn("tls=true", cw.log())
        self.assertNotEqual(cw.port, 0)  # port 0 resolved to the bound port
        return cw

    def handshake(self, cw, *args):
        return s_client(cw.port, self.pki.ca, *args)

    def assert_refused(self, cw, *args):
        ok, out = self.handshake(cw, *args)
        self.assertFalse(ok, f"handshake with {args} should fail:\n{out}")

    def assert_accepted(self, cw, *args, protocol=None, cipher=None):
        ok, out = self.handshake(cw, *args)
        self.assertTrue(ok, f"handshake with {args} should succeed:\n{out}")
        if protocol:
            self.assertIn(f"Protocol version: {protocol}\n", out)
        if cipher:
            self.assertIn(f"Ciphersuite: {cipher}\n", out)

    def test_prometheus_scrapes_over_https_with_basic_auth(self):
        cw = self.start(self.pki.web_config("auth", basic_auth=True))
        context = client_context(self.pki.ca)
        self.assertEqual(https_get(cw.port, context)[0], 401)
        self.assertEqual(https_get(cw.port, context, headers=basic(USER, "wrong"))[0], 401)
        assert_valid_exposition(self, *https_get(cw.port, context,
                                                 headers=basic(USER, PASSWORD)))
        # Plain HTTP on the HTTPS port gets nothing.
        with self.assertRaises((http.client.HTTPException, OSError)):
            cw.get("/metrics", timeout=5)
        prom = h.Prometheus([f"127.0.0.1:{cw.port}"], basic_auth=(USER, PASSWORD),
                            scheme="https", tls_config={"ca_file": self.pki.ca}).start()
        try:
            def up():
                result = prom.query('up{job="connwatch"}')
                return bool(result) and result[0]["value"][1] == "1"
            h.wait_until(up, 30, "target up over HTTPS")
            # Scraped samples, not just a handshake.
            h.wait_until(lambda: prom.query('connwatch_build_info{job="connwatch"}'), 30,
                         "connwatch_build_info in Prometheus")
        finally:
            prom.stop()

    def test_prometheus_without_the_ca_is_down(self):
        cw = self.start(self.pki.web_config("no_ca"))
        prom = h.Prometheus([f"127.0.0.1:{cw.port}"], scheme="https",
                            tls_config={"ca_file": self.pki.other_ca}).start()
        try:
            def down():
                result = prom.query('up{job="connwatch"}')
                return bool(result) and result[0]["value"][1] == "0"
            h.wait_until(down, 30, "target down when the server certificate is not trusted")
        finally:
            prom.stop()

    def test_min_version_tls12_is_the_default(self):
        cw = self.start(self.pki.web_config("min12"))
        self.assert_refused(cw, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
        self.assert_accepted(cw, "-tls1_2", protocol="TLSv1.2")
        self.assert_accepted(cw, "-tls1_3", protocol="TLSv1.3")

    def test_min_version_tls13_refuses_tls12(self):
        # OpenSSL's security level already refuses TLS 1.1, so this is the check that
        # min_version itself is applied.
        cw = self.start(self.pki.web_config("min13", min_version="TLS13"))
        self.assert_refused(cw, "-tls1_2")
        self.assert_accepted(cw, "-tls1_3", protocol="TLSv1.3")

    def test_min_version_tls10_serves_tls11(self):
        # OpenSSL alone would refuse TLS 1.1 at its default security level: this shows that
        # min_version is applied, not just that TLS 1.1 fails anyway.
        # TLS 1.1 has no AEAD suite, so it needs one named in cipher_suites.
        cw = self.start(self.pki.web_config("min10", min_version="TLS10",
                                            cipher_suites=["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"]))
        self.assert_accepted(cw, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", protocol="TLSv1.1")

    def test_default_tls12_suites_are_ecdhe_with_aead(self):
        # Issue 17: OpenSSL's default list also took these (no forward secrecy, or CBC-SHA1).
        cw = self.start(self.pki.web_config("defaults"))
        for weak in ("AES128-SHA", "AES256-GCM-SHA384", "ECDHE-RSA-AES128-SHA",
                     "ECDHE-RSA-AES256-SHA"):
            with self.subTest(cipher=weak):
                self.assert_refused(cw, "-tls1_2", "-cipher", weak)
        for strong in ("ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384",
                       "ECDHE-RSA-CHACHA20-POLY1305"):
            with self.subTest(cipher=strong):
                self.assert_accepted(cw, "-tls1_2", "-cipher", strong, cipher=strong)

    def test_max_version_tls12_refuses_tls13(self):
        cw = self.start(self.pki.web_config("max12", max_version="TLS12"))
        self.assert_refused(cw, "-tls1_3")
        self.assert_accepted(cw, "-tls1_2", protocol="TLSv1.2")

    def test_cipher_suites_limit_tls12(self):
        cw = self.start(self.pki.web_config(
            "ciphers", cipher_suites=["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]))
        self.assert_accepted(cw, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256",
                             cipher="ECDHE-RSA-AES128-GCM-SHA256")
        # OpenSSL's TLS 1.2 default would pick this one; the config excludes it.
        self.assert_refused(cw, "-tls1_2", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384")
        self.assert_accepted(cw, "-tls1_2", protocol="TLSv1.2",
                             cipher="ECDHE-RSA-AES128-GCM-SHA256")
        # As in Go, cipher_suites do not touch TLS 1.3.
        self.assert_accepted(cw, "-tls1_3", "-ciphersuites", "TLS_AES_256_GCM_SHA384",
                             protocol="TLSv1.3")

    def test_curve_preferences(self):
        cw = self.start(self.pki.web_config("curves", curve_preferences=["CurveP384"]))
        self.assert_accepted(cw, "-tls1_3", "-groups", "P-384")
        self.assert_refused(cw, "-tls1_3", "-groups", "X25519")

    def get_with(self, cw, cert):
        """Status of GET /metrics with client certificate `cert`, or the exception's name."""
        try:
            return https_get(cw.port, client_context(self.pki.ca, cert))[0]
        except (ssl.SSLError, ConnectionError, http.client.HTTPException, OSError) as e:
            return type(e).__name__

    def client_auth(self, auth_type):
        """{none, client, stranger} -> result, for one client_auth_type."""
        cw = self.start(self.pki.web_config(auth_type.lower(), client_auth_type=auth_type,
                                            client_ca_file=self.pki.client_ca))
        return {"none": self.get_with(cw, None), "client": self.get_with(cw, self.pki.client),
                "stranger": self.get_with(cw, self.pki.stranger)}

    def test_require_and_verify_client_cert(self):
        got = self.client_auth("RequireAndVerifyClientCert")
        self.assertNotEqual(got["none"], 200, got)
        self.assertEqual(got["client"], 200, got)
        self.assertNotEqual(got["stranger"], 200, got)

    def test_verify_client_cert_if_given(self):
        got = self.client_auth("VerifyClientCertIfGiven")
        self.assertEqual(got["none"], 200, got)
        self.assertEqual(got["client"], 200, got)
        self.assertNotEqual(got["stranger"], 200, got)

    def test_require_any_client_cert(self):
        got = self.client_auth("RequireAnyClientCert")
        self.assertNotEqual(got["none"], 200, got)
        self.assertEqual(got["client"], 200, got)
        self.assertEqual(got["stranger"], 200, got)  # any certificate, not verified

    def test_request_client_cert(self):
        got = self.client_auth("RequestClientCert")
        self.assertEqual(got, {"none": 200, "client": 200, "stranger": 200})

    def test_200_scrapes_sequential_and_concurrent(self):
        cw = self.start(self.pki.web_config("load", client_auth_type="RequireAndVerifyClientCert",
                                            client_ca_file=self.pki.client_ca))
        context = client_context(self.pki.ca, self.pki.client)
        # 100 on fresh connections, 20 on one keep-alive connection.
        for _ in range(100):
            assert_valid_exposition(self, *https_get(cw.port, context))
        conn = http.client.HTTPSConnection("127.0.0.1", cw.port, context=context, timeout=15)
        try:
            for _ in range(20):
                assert_valid_exposition(self, *https_get(cw.port, context, conn=conn))
        finally:
            conn.close()

        def scrape(_):
            return https_get(cw.port, context)

        # 80 more from 8 threads at once.
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(scrape, range(80)))
        self.assertEqual(len(results), 80)
        for status, body in results:
            assert_valid_exposition(self, status, body)
        time.sleep(0.5)
        self.assertIsNone(cw.proc.poll(), f"connwatch died:\n{cw.log()}")


class TlsStartErrors(PkiCase):
    def refused(self, config):
        out = h.run_connwatch("serve", f"--web.config.file={config}",
                              "--web.listen-address=127.0.0.1:0", timeout=30)
        self.assertEqual(out.returncode, 2, out.stderr)
        return out.stderr.decode("utf-8", "replace")

    def test_key_of_another_pair_is_refused_as_promtool_does(self):
        config = self.pki.web_config("mismatch", key_file=self.pki.client[1])
        ref = subprocess.run([h.promtool_bin(), "check", "web-config", config],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        self.assertNotEqual(ref.returncode, 0, ref.stdout)
        self.assertIn(b"private key does not match public key", ref.stdout)
        err = self.refused(config)
        self.assertIn(f"invalid --web.config.file: {config}:3:13: tls_server_config.key_file: "
                      f"{self.pki.client[1]} does not match the certificate in cert_file "
                      f"{self.pki.server[0]}", err)

    def test_unusable_settings_are_refused(self):
        err = self.refused(self.pki.web_config("minmax", min_version="TLS13",
                                               max_version="TLS12"))
        self.assertIn("min_version TLS13 is above max_version TLS12", err)
        err = self.refused(self.pki.web_config("badca", client_auth_type="VerifyClientCertIfGiven",
                                               client_ca_file=self.pki.server[1]))
        self.assertIn("tls_server_config.client_ca_file", err)


if __name__ == "__main__":
    h.install_watchdog(280)
    unittest.main(verbosity=2)
