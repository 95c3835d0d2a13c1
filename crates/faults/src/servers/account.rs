//! The account a server runs as. PostgreSQL refuses to run as root, and RabbitMQ finds its
//! Erlang cookie in its account's home; so when the suite runs as root (as CI does), each
//! server runs as the system account its package created, and otherwise as the suite's own
//! user.

use super::{ServerError, io};
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

pub(super) struct Account {
    /// `None`: the suite's own user, nothing to switch.
    ids: Option<(u32, u32)>,
    home: Option<PathBuf>,
}

impl Account {
    /// The system account `name` when running as root, else the current user.
    pub(super) fn for_server(name: &'static str) -> Result<Self, ServerError> {
        let euid = std::fs::metadata("/proc/self")
            .map_err(io("reading this process's user"))?
            .uid();
        if euid != 0 {
            return Ok(Self {
                ids: None,
                home: None,
            });
        }
        let passwd = std::fs::read_to_string("/etc/passwd").map_err(io("reading /etc/passwd"))?;
        let entry = passwd
            .lines()
            .map(|line| line.split(':').collect::<Vec<_>>())
            .find(|fields| fields.len() >= 6 && fields[0] == name)
            .ok_or_else(|| ServerError::Failed {
                what: format!("finding the account {name}"),
                detail: format!(
                    "running as root, the server must run as {name}, which /etc/passwd lacks"
                ),
            })?;
        let number = |field: &str| {
            field.parse::<u32>().map_err(|_| ServerError::Failed {
                what: format!("reading the account {name}"),
                detail: format!("{field:?} is not a number"),
            })
        };
        Ok(Self {
            ids: Some((number(entry[2])?, number(entry[3])?)),
            home: Some(PathBuf::from(entry[5])),
        })
    }

    /// A command that runs as this account.
    pub(super) fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        if let Some((uid, gid)) = self.ids {
            command.uid(uid).gid(gid);
        }
        command
    }

    /// The account's home, where it keeps files such as RabbitMQ's Erlang cookie; `None` for
    /// the suite's own user, whose environment already says.
    pub(super) fn home(&self) -> Option<&Path> {
        self.home.as_deref()
    }

    /// Makes `path` this account's.
    pub(super) fn give(&self, path: &Path) -> Result<(), ServerError> {
        if let Some((uid, gid)) = self.ids {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(io(format!(
                "handing {} to the server's account",
                path.display()
            )))?;
        }
        Ok(())
    }
}
