"""A TLS sync with a certificate made in the test: a CA and a server
certificate for 127.0.0.1 from the openssl command; the tablet verifies the
server with --cacert (remembered afterwards) and refuses a server its CAs do
not vouch for."""
from harness import *


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True, cwd=WORK)


openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=minqing test township CA")
openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=127.0.0.1")
with open(os.path.join(WORK, "san.ext"), "w") as f:
    f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.ext")
ca = os.path.join(WORK, "ca.pem")

srv = Server()
srv.cli("import", dataset(88))
village = [a["id"] for a in by_type(srv.export(), "area")
           if a["fields"]["level"] == "village"][0]
url = srv.start(tls=(os.path.join(WORK, "server.pem"), os.path.join(WORK, "server.key"), ca))
check(url.startswith("https://"), "server is not serving https: " + url)

# Without the township CA the certificate does not verify: refused, not retried.
stranger = Tablet("stranger")
rep = stranger.sync(url, srv.enroll("stranger", [village]), expect=1)
check("certificate" in rep["stderr"].lower() or "ssl" in rep["stderr"].lower(),
      "no word of the certificate: " + rep["stderr"])
check(rep["retries"] == 0, "a certificate failure was retried")

t = Tablet("t1")
rep = t.sync(url, srv.enroll("t1", [village]), cacert=ca)
check(rep["pulled"] > 800, "TLS sync pulled %d changes" % rep["pulled"])
log("TLS first sync: %d changes, %d bytes down, %d ms" %
    (rep["pulled"], rep["bytes_received"], rep["elapsed_ms"]))
h = sorted(r["id"] for r in by_type(t.export(), "household"))[0]
t.put("household", {"phone": "13512345678"}, h)
rep = t.sync()  # URL, token and CA remembered
check(rep["push_applied"] == 1, "TLS push: %r" % rep)
check(srv.export()[h]["fields"]["phone"] == "13512345678", "server lacks the TLS push")

# Plain http to a TLS server fails cleanly.
plain = Tablet("plain")
plain.sync(url.replace("https://", "http://"), srv.enroll("plain", [village]), expect=3,
           env={"MINQING_SYNC_RETRY_MS": "500", "MINQING_SYNC_BACKOFF_MS": "100"})
srv.stop()
done()
