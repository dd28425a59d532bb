//! Throwaway peers for the scale-out log backend: a PostgreSQL 15 cluster (Debian's
//! `postgresql-15`, run as the `postgres` user) and an S3-compatible server (`moto_server` from
//! the venv `$HOME/.cache/vouch-venv`), each on a free loopback port and removed on drop.
//! A missing peer is reported through [`crate::skip`] and the constructor returns `None`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
/// The password of the test role `vouch` (tests pass it in `PGPASSWORD`, never on argv).
pub const PG_PASSWORD: &str = "vouch-test-password";

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

fn wait_port(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A temporary PostgreSQL cluster on 127.0.0.1, with a login role `vouch` (password
/// [`PG_PASSWORD`], allowed to create databases).
#[derive(Debug)]
pub struct Postgres {
    dir: PathBuf,
    /// The TCP port.
    pub port: u16,
}

impl Postgres {
    /// Start a cluster, or report why not (SKIP) and return `None`.
    pub fn start() -> Option<Self> {
        if !Path::new(PG_BIN).join("initdb").exists() {
            crate::skip(format_args!(
                "PostgreSQL 15 is not installed ({PG_BIN}/initdb missing; apt-get install postgresql-15)"
            ));
            return None;
        }
        match Self::try_start() {
            Ok(p) => Some(p),
            Err(e) => {
                crate::skip(format_args!("cannot start PostgreSQL 15: {e}"));
                None
            }
        }
    }

    fn try_start() -> Result<Self, String> {
        let dir =
            std::env::temp_dir().join(format!("vouch-pg-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let pw = dir.join("pwfile");
        std::fs::write(&pw, format!("{PG_PASSWORD}\n")).map_err(|e| e.to_string())?;
        run(Command::new("chown").arg("-R").arg("postgres").arg(&dir))?;
        run(Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(format!("{PG_BIN}/initdb"))
            .arg("-D")
            .arg(dir.join("db"))
            .args([
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ])
            .arg(format!("--pwfile={}", pw.display()))
            .stdout(Stdio::null()))?;
        let pg = Self {
            dir,
            port: free_port(),
        };
        pg.start_again()?;
        pg.psql(&format!(
            "CREATE ROLE vouch LOGIN CREATEDB PASSWORD '{PG_PASSWORD}'"
        ))?;
        Ok(pg)
    }

    /// Start (again) after [`Postgres::stop_immediate`].
    pub fn start_again(&self) -> Result<(), String> {
        run(Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(format!("{PG_BIN}/pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("db"))
            .arg("-l")
            .arg(self.dir.join("pg.log"))
            .arg("-w")
            .arg("-o")
            .arg(format!(
                "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={} \
                 -c max_connections=200 -c fsync=on -c synchronous_commit=on",
                self.port,
                self.dir.display()
            ))
            .arg("start")
            .stdout(Stdio::null()))?;
        if wait_port(self.port, Duration::from_secs(20)) {
            Ok(())
        } else {
            Err(format!("PostgreSQL did not listen on port {}", self.port))
        }
    }

    /// Stop like a crash (`pg_ctl -m immediate stop`).
    pub fn stop_immediate(&self) -> Result<(), String> {
        run(Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(format!("{PG_BIN}/pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("db"))
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null()))
    }

    /// Run SQL as the superuser over the cluster's Unix socket.
    pub fn psql(&self, sql: &str) -> Result<(), String> {
        self.psql_db("postgres", sql)
    }

    /// Run SQL as the superuser in database `db`.
    pub fn psql_db(&self, db: &str, sql: &str) -> Result<(), String> {
        run(Command::new("runuser")
            .args([
                "-u",
                "postgres",
                "--",
                "psql",
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
            ])
            .arg("-h")
            .arg(&self.dir)
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-U", "postgres", "-d", db, "-c", sql])
            .stdout(Stdio::null()))
    }

    /// Run one query as the superuser in database `db`; returns its rows unaligned (`psql -At`:
    /// one line per row, columns separated by `|`).
    pub fn query(&self, db: &str, sql: &str) -> Result<String, String> {
        let mut cmd = Command::new("runuser");
        cmd.args([
            "-u",
            "postgres",
            "--",
            "psql",
            "-v",
            "ON_ERROR_STOP=1",
            "-At",
        ])
        .arg("-h")
        .arg(&self.dir)
        .arg("-p")
        .arg(self.port.to_string())
        .args(["-U", "postgres", "-d", db, "-c", sql]);
        let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(format!(
                "{sql}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// Create database `name` owned by `vouch`; returns its URL without the password.
    pub fn create_database(&self, name: &str) -> Result<String, String> {
        self.psql(&format!("CREATE DATABASE {name} OWNER vouch"))?;
        Ok(self.url(name))
    }

    /// URL of database `name` for the role `vouch`, without the password.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://vouch@127.0.0.1:{}/{name}", self.port)
    }

    /// URL of database `name` with the password (for in-process clients only, never argv).
    pub fn url_with_password(&self, name: &str) -> String {
        format!(
            "postgres://vouch:{PG_PASSWORD}@127.0.0.1:{}/{name}",
            self.port
        )
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.stop_immediate();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A `moto_server` (S3 API) on 127.0.0.1.
#[derive(Debug)]
pub struct Moto {
    child: Option<Child>,
    /// The TCP port.
    pub port: u16,
}

/// Where `.ci/run` installs `moto[server]`.
pub fn moto_server_path() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    let p = PathBuf::from(home).join(".cache/vouch-venv/bin/moto_server");
    p.exists().then_some(p)
}

impl Moto {
    /// Start moto_server, or report why not (SKIP) and return `None`.
    pub fn start() -> Option<Self> {
        let Some(bin) = moto_server_path() else {
            crate::skip(
                "moto_server is not installed ($HOME/.cache/vouch-venv/bin/moto_server; pip install 'moto[server]')",
            );
            return None;
        };
        let mut m = Self {
            child: None,
            port: free_port(),
        };
        match m.spawn(&bin) {
            Ok(()) => Some(m),
            Err(e) => {
                crate::skip(format_args!("cannot start moto_server: {e}"));
                None
            }
        }
    }

    fn spawn(&mut self, bin: &Path) -> Result<(), String> {
        let child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", bin.display()))?;
        self.child = Some(child);
        if wait_port(self.port, Duration::from_secs(30)) {
            Ok(())
        } else {
            Err(format!("moto_server did not listen on port {}", self.port))
        }
    }

    /// The endpoint URL.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kill the server (the object store becomes unreachable; moto keeps data in memory, so
    /// a restart starts empty: use [`Moto::pause`] / [`Moto::resume`] to keep data).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stop the server process (SIGSTOP): connections hang or time out, data is kept.
    pub fn pause(&self) -> Result<(), String> {
        self.signal("-STOP")
    }

    /// Continue after [`Moto::pause`].
    pub fn resume(&self) -> Result<(), String> {
        self.signal("-CONT")
    }

    fn signal(&self, sig: &str) -> Result<(), String> {
        let pid = self
            .child
            .as_ref()
            .map(Child::id)
            .ok_or("moto_server is not running")?;
        run(Command::new("kill").arg(sig).arg(pid.to_string()))
    }

    /// Create a bucket (unsigned `PUT /<name>`; moto accepts any credentials).
    pub fn create_bucket(&self, name: &str) -> Result<(), String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        write!(
            s,
            "PUT /{name} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )
        .map_err(|e| e.to_string())?;
        let mut resp = String::new();
        s.read_to_string(&mut resp).map_err(|e| e.to_string())?;
        if resp.starts_with("HTTP/1.1 200") {
            Ok(())
        } else {
            Err(format!(
                "create bucket {name}: {}",
                resp.lines().next().unwrap_or("")
            ))
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.kill();
    }
}
