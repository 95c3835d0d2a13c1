//! What the parts a program runs require beyond well-formed values: the secrets of the
//! production profile, a provider to send to, a bus the parts can share.

use super::values::Reader;
use super::*;
use mailing_bus::BusAddress;
use secrecy::ExposeSecret as _;

const MIN_PRODUCTION_PASSWORD_CHARS: usize = 10;

/// What the parts `program` runs require beyond well-formed values.
pub(super) fn check(
    reader: &Reader<'_>,
    program: Program,
    settings: &Settings,
) -> Result<(), SettingsError> {
    let runs = |component| settings.runs(program, component);
    let in_process = matches!(settings.bus.address, BusAddress::InProcess { .. });
    let uses_bus = !matches!(
        program,
        Program::AllInOne | Program::ProbeSim | Program::DatabaseTask
    );
    if in_process && uses_bus {
        return Err(reader.invalid(
            "bus.url",
            None,
            &format!(
                "names the in-process bus, which only services in one process share, and {} \
                 runs alone: give it the broker's amqp:// URL, or run `mailing`",
                program.binary()
            ),
        ));
    }
    if runs(Component::Sender) && settings.probe.url.is_none() && !runs(Component::Sim) {
        return Err(reader.invalid(
            "probe.url",
            None,
            "must name the provider when the simulator is not among MAILING_COMPONENTS",
        ));
    }
    if settings.profile != Profile::Production {
        return Ok(());
    }
    if runs(Component::Api) {
        let password = settings.api.admin_password.expose_secret();
        if password.is_empty() {
            return Err(reader.invalid(
                "api.admin_password",
                None,
                "is required in the production profile",
            ));
        }
        if password == DEV_ADMIN_PASSWORD
            || password.chars().count() < MIN_PRODUCTION_PASSWORD_CHARS
        {
            return Err(reader.invalid(
                "api.admin_password",
                None,
                &format!(
                    "must not be the dev default and must have at least \
                     {MIN_PRODUCTION_PASSWORD_CHARS} characters in the production profile"
                ),
            ));
        }
        let secret = settings.api.jwt_secret.expose_secret();
        if secret.is_empty() {
            return Err(reader.invalid(
                "api.jwt_secret",
                None,
                "is required in the production profile",
            ));
        }
        if secret == DEV_JWT_SECRET {
            return Err(reader.invalid(
                "api.jwt_secret",
                None,
                "must not be the dev default in the production profile",
            ));
        }
    }
    let built_in_probe = settings.probe.url.is_none() && runs(Component::Sim);
    if runs(Component::Sender) && !built_in_probe && settings.probe.token.is_none() {
        return Err(reader.invalid("probe.token", None, "is required in the production profile"));
    }
    Ok(())
}
