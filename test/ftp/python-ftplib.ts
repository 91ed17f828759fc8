/**
 * Python source the ftplib tests share. Each script starts with `PY_FTPLIB_PRELUDE` and reads
 * the port and user from argv and the password from stdin.
 */

export const PY_FTPLIB_PRELUDE = String.raw`
import ftplib, io, json, os, signal, socket, ssl, sys, time
port, user = int(sys.argv[1]), sys.argv[2]
password = sys.stdin.readline().rstrip('\n')

# ftplib's FTP_TLS opens each data connection with a new TLS session. A server that requires
# the control connection's session on data connections (as this one does, against stolen data
# ports) refuses that; the well-known fix is this subclass, which resumes the session.
class ReusingFTP_TLS(ftplib.FTP_TLS):
    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        return conn, size

ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

# An upload source that kills its own process at its 20th read: a client killed mid-STOR.
class Dying:
    def __init__(self): self.calls = 0
    def read(self, n):
        self.calls += 1
        if self.calls == 20:
            os.kill(os.getpid(), signal.SIGKILL)
        return b'x' * n
`;
