"""A real MariaDB server for tests, started in a temporary directory.

    with MariaDB() as db:                 # installs a data dir, starts mariadbd
        db.setup_vmail()                  # the guide's database and users
        db.sql("SELECT 1")                # as root, through the mariadb client
        db.stop(); db.start()             # take it down and bring it back
        db.config_section()               # a [directory] section for vmaild.conf

Only a unix socket (no TCP: --skip-networking), in a short path under /tmp
because socket paths are limited to 107 bytes. Nothing of the system's
MariaDB is used: --no-defaults everywhere, our own data dir, pid file and
error log. close() (or leaving the with-block) stops the server and
removes the directory.

The users follow the guide: `vmail` is granted SELECT on vmail.* only
(the guide's `grant select on vmail.* to 'vmail'@'localhost'`); the admin
user (vmailctl's admin_user) may SELECT, INSERT, UPDATE, DELETE and CREATE.
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

READER_USER = "vmail"
READER_PASSWORD = "vmaildbpass"
ADMIN_USER = "vmailadmin"
ADMIN_PASSWORD = "vmailadminpass"
DATABASE = "vmail"


class MariaDBError(Exception):
    pass


class MariaDB:
    def __init__(self, start_timeout=90):
        self.dir = tempfile.mkdtemp(prefix="vmdb.", dir="/tmp")
        self.datadir = os.path.join(self.dir, "data")
        self.socket = os.path.join(self.dir, "mysqld.sock")
        self.pidfile = os.path.join(self.dir, "mysqld.pid")
        self.errlog = os.path.join(self.dir, "error.log")
        self.tmpdir = os.path.join(self.dir, "tmp")
        self.start_timeout = start_timeout
        self.proc = None
        self.general_log_path = None
        os.makedirs(self.tmpdir)
        self._install()
        self.start()

    # ---- life cycle ----------------------------------------------------

    def _user_args(self):
        return ["--user=root"] if os.geteuid() == 0 else []

    def _install(self):
        cmd = ["mariadb-install-db", "--no-defaults", "--datadir=" + self.datadir,
               "--auth-root-authentication-method=normal", "--skip-test-db",
               "--skip-name-resolve"] + self._user_args()
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=300)
        if r.returncode != 0:
            raise MariaDBError("mariadb-install-db failed:\n" + r.stdout)

    def start(self):
        if self.proc is not None:
            raise MariaDBError("already running")
        cmd = ["mariadbd", "--no-defaults", "--datadir=" + self.datadir,
               "--socket=" + self.socket, "--skip-networking",
               "--pid-file=" + self.pidfile, "--log-error=" + self.errlog,
               "--tmpdir=" + self.tmpdir, "--skip-name-resolve",
               "--innodb-buffer-pool-size=16M", "--innodb-log-file-size=8M",
               "--skip-log-bin", "--character-set-server=utf8mb4"] + self._user_args()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.proc.poll() is not None:
                self.proc = None
                raise MariaDBError("mariadbd exited at start:\n" + self._errlog_tail())
            if os.path.exists(self.socket):
                r = self._client(["-e", "SELECT 1"], check=False)
                if r.returncode == 0:
                    break
            if time.monotonic() > deadline:
                self.kill()
                raise MariaDBError("mariadbd did not come up:\n" + self._errlog_tail())
            time.sleep(0.1)
        if self.general_log_path is not None:
            self.enable_general_log(self.general_log_path)

    def stop(self):
        """Orderly shutdown (SIGTERM) and wait for the process."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def kill(self):
        """SIGKILL, as a crash would."""
        if self.proc is None:
            return
        self.proc.kill()
        self.proc.wait()
        self.proc = None
        for p in (self.socket, self.pidfile):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass

    def pause(self):
        """SIGSTOP: the server accepts connections (the kernel does) but
        answers nothing, as a wedged server would."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    def close(self):
        if self.proc is not None:
            try:
                self.resume()
            except ProcessLookupError:
                pass
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _errlog_tail(self):
        try:
            with open(self.errlog, errors="replace") as f:
                return "".join(f.readlines()[-30:])
        except OSError:
            return "(no error log)"

    # ---- SQL -------------------------------------------------------------

    def _client(self, args, user="root", password=None, database=None, check=True,
                input=None):
        cmd = ["mariadb", "--no-defaults", "--socket=" + self.socket, "--user=" + user,
               "--batch", "--skip-column-names", "--raw"]
        if password:
            cmd.append("--password=" + password)
        if database:
            cmd.append("--database=" + database)
        r = subprocess.run(cmd + args, input=input, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        if check and r.returncode != 0:
            raise MariaDBError("mariadb %s: %s" % (" ".join(args), r.stderr.strip()))
        return r

    def sql(self, statements, user="root", password=None, database=None):
        """Run statements through the mariadb client; rows as lists of str
        (None for NULL)."""
        r = self._client([], user=user, password=password, database=database,
                         input=statements)
        rows = []
        for line in r.stdout.splitlines():
            rows.append([None if c == "NULL" else c for c in line.split("\t")])
        return rows

    def try_sql(self, statements, user="root", password=None, database=None):
        """Like sql() but returns (returncode, stderr) instead of raising."""
        r = self._client([], user=user, password=password, database=database,
                         input=statements, check=False)
        return r.returncode, r.stderr

    def setup_vmail(self, database=DATABASE):
        """The guide's database and users (no tables: `vmailctl init` makes them)."""
        self.sql(f"""
            CREATE DATABASE `{database}` CHARACTER SET 'utf8';
            CREATE USER '{READER_USER}'@'localhost' IDENTIFIED BY '{READER_PASSWORD}';
            GRANT SELECT ON `{database}`.* TO '{READER_USER}'@'localhost';
            CREATE USER '{ADMIN_USER}'@'localhost' IDENTIFIED BY '{ADMIN_PASSWORD}';
            GRANT SELECT, INSERT, UPDATE, DELETE, CREATE ON `{database}`.*
                TO '{ADMIN_USER}'@'localhost';
        """)

    def config_section(self, database=DATABASE, admin=True, timeout="2s"):
        """A [directory] section that points vmaild at this server."""
        lines = ["[directory]", "driver = mysql", "host =", "socket = " + self.socket,
                 "database = " + database, "user = " + READER_USER,
                 "password = " + READER_PASSWORD, "timeout = " + timeout]
        if admin:
            lines += ["admin_user = " + ADMIN_USER, "admin_password = " + ADMIN_PASSWORD]
        return "\n".join(lines) + "\n"

    # ---- the general query log -------------------------------------------

    def enable_general_log(self, path=None):
        """Log every statement the server receives to a file (kept across
        restarts); returns its path."""
        if path is None:
            path = os.path.join(self.dir, "general.log")
        self.general_log_path = path
        self.sql(f"SET GLOBAL log_output = 'FILE'; SET GLOBAL general_log_file = '{path}';"
                 " SET GLOBAL general_log = 1;")
        return path

    def general_log(self):
        """The logged commands as (thread id, command, argument) tuples, in
        order; 'Connect' arguments name the user."""
        entries = []
        if self.general_log_path is None or not os.path.exists(self.general_log_path):
            return entries
        line_re = re.compile(r"^(?:\d{6}\s+\d{1,2}:\d{2}:\d{2})?\s+(\d+)\s([A-Z][a-z]+(?: [a-z]+)?)\t?(.*)$")
        with open(self.general_log_path, errors="replace") as f:
            for line in f:
                m = line_re.match(line.rstrip("\n"))
                if m:
                    entries.append((int(m.group(1)), m.group(2), m.group(3)))
                elif entries and not line.startswith(("mariadbd", "mysqld", "Tcp port",
                                                       "Time\t")):
                    # a statement that spans lines
                    tid, cmd, arg = entries[-1]
                    entries[-1] = (tid, cmd, arg + "\n" + line.rstrip("\n"))
        return entries
