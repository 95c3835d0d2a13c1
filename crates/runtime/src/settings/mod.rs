//! The settings of every mailing program, as one tree with a section per part (database, bus,
//! http, api, scheduler, sender, probe, log, all_in_one, probe_sim).
//!
//! Layers, lowest first: the defaults in `defaults.toml` (embedded in the binaries, every key
//! commented, shown in `docs/configuration.md`); the TOML file named by `MAILING_CONFIG_FILE`
//! (`PROBE_SIM_CONFIG_FILE` for `probe-sim`), in the same sections; then the environment
//! variables listed in [`variables::VARIABLES`], an empty one counting as unset. `mailing`, which
//! runs every part in one process, starts from the `[all_in_one.defaults]` of the same file
//! where they differ.
//!
//! Every value is checked once, here, before a program does anything: a malformed one is a
//! [`SettingsError`] naming its variable, what is wrong and a valid example.

mod error;
mod load;
mod read;
mod requirements;
mod sections;
mod values;
pub mod variables;

pub use error::SettingsError;
pub use sections::*;

/// The defaults of every key, with a comment on each.
pub const DEFAULTS_TOML: &str = include_str!("defaults.toml");

/// The dev profile's admin password, as the earlier implementation had it; production refuses
/// it.
pub const DEV_ADMIN_PASSWORD: &str = "12345";
/// The dev profile's token signing secret; production refuses it.
pub const DEV_JWT_SECRET: &str = "mailing-dev-profile-jwt-secret-never-use-in-production";

/// The programs that read the settings; each checks what it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    /// `mailing-api`.
    Api,
    /// `mailing-scheduler`.
    Scheduler,
    /// `mailing-sender`.
    Sender,
    /// `probe-sim`.
    ProbeSim,
    /// `mailing`: the components `MAILING_COMPONENTS` names, in one process.
    AllInOne,
    /// `mailing-api migrate` and `wait-for-migrations`: one-off database chores that run no
    /// component, so a migration Job or an init container needs the database's address and
    /// none of the api's secrets.
    DatabaseTask,
}

impl Program {
    /// The binary's name, for logs.
    pub fn binary(self) -> &'static str {
        match self {
            Program::Api => "mailing-api",
            Program::Scheduler => "mailing-scheduler",
            Program::Sender => "mailing-sender",
            Program::ProbeSim => "probe-sim",
            Program::AllInOne => "mailing",
            Program::DatabaseTask => "mailing-api",
        }
    }
}

/// Whether to load the development fixtures, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fixtures {
    Load,
    Skip(&'static str),
}

/// Every setting, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub profile: Profile,
    /// `MAILING_LOAD_FIXTURES` as given; [`Settings::fixtures`] decides.
    pub load_fixtures: Option<bool>,
    pub database: DatabaseSettings,
    pub bus: BusSettings,
    pub http: HttpSettings,
    pub api: ApiSettings,
    pub scheduler: SchedulerSettings,
    pub sender: SenderSettings,
    pub probe: ProbeSettings,
    pub log: LogSettings,
    pub inbound: InboundSettings,
    /// Single sign-on; `None` when it is not configured.
    pub oidc: Option<OidcSettings>,
    pub report: ReportSettings,
    /// `None`: no e-mail is sent.
    pub smtp: Option<SmtpSettings>,
    pub all_in_one: AllInOneSettings,
    pub probe_sim: ProbeSimSettings,
    /// `MAILING_*` and `PROBE_SIM_*` variables that set nothing, each with the setting it
    /// probably meant; for a warning once logging is up.
    pub unknown_variables: Vec<String>,
}

impl Settings {
    /// Reads the settings of `program` from the defaults, the optional file and the process's
    /// environment.
    pub fn load(program: Program) -> Result<Settings, SettingsError> {
        Settings::load_from(program, std::env::vars())
    }

    /// Reads the settings with `vars` standing in for the environment (tests pass their own).
    pub fn load_from(
        program: Program,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, SettingsError> {
        load::load(program, vars.into_iter().collect())
    }

    /// Whether the development fixtures may be loaded: as `MAILING_LOAD_FIXTURES` says, or,
    /// when it is unset, only in the dev profile while the provider is the probe simulator on
    /// this machine. Their clients carry real-looking phone numbers that a mailing to everyone
    /// would text, so a production deployment or a real provider never gets them by default.
    pub fn fixtures(&self) -> Fixtures {
        match self.load_fixtures {
            Some(true) => Fixtures::Load,
            Some(false) => Fixtures::Skip("MAILING_LOAD_FIXTURES is false"),
            None if self.profile == Profile::Production => Fixtures::Skip(
                "the production profile loads them only when MAILING_LOAD_FIXTURES=true",
            ),
            None if !self.probe_is_local() => Fixtures::Skip(
                "MAILING_PROBE_URL names a provider off this machine; \
                 MAILING_LOAD_FIXTURES=true loads them anyway",
            ),
            None => Fixtures::Load,
        }
    }

    /// The provider is `mailing`'s built-in simulator or listens on this machine.
    fn probe_is_local(&self) -> bool {
        use secrecy::ExposeSecret as _;
        let Some(url) = &self.probe.url else {
            return true;
        };
        let url = url::Url::parse(url.expose_secret()).ok();
        match url.as_ref().and_then(url::Url::host) {
            Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        }
    }

    /// Whether `component` runs in a process of `program`.
    pub fn runs(&self, program: Program, component: Component) -> bool {
        match program {
            Program::Api => component == Component::Api,
            Program::Scheduler => component == Component::Scheduler,
            Program::Sender => component == Component::Sender,
            Program::ProbeSim => component == Component::Sim,
            Program::AllInOne => self.all_in_one.components.contains(&component),
            Program::DatabaseTask => false,
        }
    }
}

#[cfg(test)]
mod tests;
