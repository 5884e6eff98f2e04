//! Redis reached directly: raw connections, commands and lease keys, and a
//! `redis-server` of a test's own that persists to disk.

use std::time::Duration;

use storefront_token::renewal::TokenId;

use super::{real_io, BoxError};

/// A plain connection to the Redis at `url`, for reading and writing raw keys.
pub async fn raw_connection(url: &str) -> Result<redis::aio::MultiplexedConnection, BoxError> {
    let client = redis::Client::open(url)?;
    Ok(real_io(client.get_multiplexed_async_connection()).await?)
}

/// One raw command, held in simulated time.
pub async fn raw<T: redis::FromRedisValue>(
    connection: &mut redis::aio::MultiplexedConnection,
    cmd: &redis::Cmd,
) -> Result<T, BoxError> {
    Ok(real_io(cmd.query_async::<T>(connection)).await?)
}

/// The holder and deadline (ms since the epoch) of `id`'s renewal lease, read
/// raw from Redis (`{prefix}:l:{id}` holds `<owner hex>:<deadline ms>`).
pub async fn raw_lease(
    connection: &mut redis::aio::MultiplexedConnection,
    prefix: &str,
    id: &TokenId,
) -> Result<Option<(u128, i64)>, BoxError> {
    let value: Option<String> = raw(
        connection,
        redis::cmd("GET").arg(format!("{prefix}:l:{}", id.as_str())),
    )
    .await?;
    let Some(value) = value else {
        return Ok(None);
    };
    let (owner, deadline) = value.split_once(':').ok_or("a lease is owner:deadline")?;
    Ok(Some((u128::from_str_radix(owner, 16)?, deadline.parse()?)))
}

/// A `redis-server` of a test's own, on a free port, persisting to a
/// directory of its own with the append-only file fsync'd on every write (so a
/// SIGKILL loses nothing acknowledged) and RDB compression off (so a grep of
/// the files on disk sees every stored byte as written).
#[derive(Debug)]
pub struct DiskRedis {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

impl DiskRedis {
    /// Started; `None` (with a notice) when `redis-server` is not installed
    /// and Redis is not required.
    pub fn start(test: &str) -> Result<Option<Self>, BoxError> {
        let installed = std::process::Command::new("redis-server")
            .arg("--version")
            .output()
            .is_ok();
        if !installed {
            assert!(
                std::env::var("STOREFRONT_REQUIRE_REDIS").as_deref() != Ok("1"),
                "{test}: redis-server is not installed"
            );
            eprintln!("SKIPPED {test}: redis-server is not installed");
            return Ok(None);
        }
        let port = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        let mut server = Self {
            port,
            dir: tempfile::tempdir()?,
            child: None,
        };
        server.run()?;
        Ok(Some(server))
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it (SIGKILL): what it had not written to disk is lost.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it (again) on the same port and directory, and waits until it
    /// accepts connections (at most 10 s of real time; simulated time stands
    /// still meanwhile, as this blocks the runtime's thread).
    pub fn run(&mut self) -> Result<(), BoxError> {
        self.kill();
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .arg("--dir")
            .arg(self.dir.path())
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .args(["--save", "", "--rdbcompression", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        self.child = Some(child);
        let started = std::time::Instant::now();
        loop {
            let reply = std::net::TcpStream::connect((std::net::Ipv4Addr::LOCALHOST, self.port))
                .and_then(|mut stream| {
                    use std::io::{Read, Write};
                    stream.write_all(b"PING\r\n")?;
                    let mut buf = [0u8; 7];
                    stream.read_exact(&mut buf)?;
                    Ok(buf)
                });
            match reply {
                Ok(reply) if &reply == b"+PONG\r\n" => return Ok(()),
                _ if started.elapsed() > Duration::from_secs(10) => {
                    return Err("redis-server did not answer within 10 s".into())
                }
                _ => std::thread::yield_now(),
            }
        }
    }

    /// Every file it wrote (the append-only files, RDB snapshots), read whole.
    pub fn files(&self) -> Result<Vec<(std::path::PathBuf, Vec<u8>)>, BoxError> {
        let mut files = Vec::new();
        let mut dirs = vec![self.dir.path().to_path_buf()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir)? {
                let path = entry?.path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    let bytes = std::fs::read(&path)?;
                    files.push((path, bytes));
                }
            }
        }
        Ok(files)
    }
}

impl Drop for DiskRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
