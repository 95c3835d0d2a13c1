//! Which role each request needs: one rule for the API and the admin UI alike, read from the
//! resource a path names and whether the request changes it.
//!
//! - users, API keys and the audit log: admins only, reading included;
//! - operators: anyone reads, admins change;
//! - the daily report: managers read, admins send;
//! - one's own sign-in (logging out, changing one's password): anyone signed in;
//! - everything else (clients, tags, filters, mailings and their actions, imports, opt-outs,
//!   replies, statistics): anyone reads, managers change.

use actix_web::http::Method;
use mailing_domain::Role;

/// The resources only admins see.
const ADMIN_ONLY: &[&str] = &["users", "api-keys", "audit-log"];
/// The resources anyone reads and only admins change.
const ADMIN_WRITES: &[&str] = &["operators", "reports"];
/// The resources viewers do not read.
const MANAGER_READS: &[&str] = &["reports"];
/// What any signed-in caller may do to their own sign-in.
const OWN_SIGN_IN: &[&str] = &["auth", "account", "logout"];

/// The least role a request for `path` with `method` needs.
pub fn required_role(method: &Method, path: &str) -> Role {
    let rest = path
        .strip_prefix("/api/v1/")
        .or_else(|| path.strip_prefix("/admin/"))
        .unwrap_or_default();
    let mut segments = rest.split('/').filter(|segment| !segment.is_empty());
    let resource = segments.next().unwrap_or_default();
    if ADMIN_ONLY.contains(&resource) {
        return Role::Admin;
    }
    if OWN_SIGN_IN.contains(&resource) {
        return Role::Viewer;
    }
    // The admin UI's forms to create or edit are for those who may save them.
    let form_page = matches!(path.rsplit('/').next(), Some("new" | "edit"));
    let changes = !matches!(*method, Method::GET | Method::HEAD) || form_page;
    match (changes, ADMIN_WRITES.contains(&resource)) {
        (false, _) if MANAGER_READS.contains(&resource) => Role::Manager,
        (false, _) => Role::Viewer,
        (true, true) => Role::Admin,
        (true, false) => Role::Manager,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_for_everyone_and_changes_for_managers() {
        for path in [
            "/api/v1/mailings",
            "/api/v1/mailings/7",
            "/admin/mailings/7",
            "/admin",
        ] {
            assert_eq!(required_role(&Method::GET, path), Role::Viewer, "{path}");
        }
        for (method, path) in [
            (Method::POST, "/api/v1/mailings"),
            (Method::PATCH, "/api/v1/clients/3"),
            (Method::DELETE, "/api/v1/tags/3"),
            (Method::POST, "/api/v1/mailings/3/pause"),
            (Method::POST, "/api/v1/clients/import"),
            (Method::POST, "/admin/mailings/3/pause"),
            (Method::GET, "/admin/mailings/new"),
            (Method::GET, "/admin/clients/4/edit"),
        ] {
            assert_eq!(
                required_role(&method, path),
                Role::Manager,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn operators_change_only_for_admins_and_access_is_admins_only() {
        assert_eq!(
            required_role(&Method::GET, "/api/v1/operators"),
            Role::Viewer
        );
        assert_eq!(
            required_role(&Method::POST, "/api/v1/operators"),
            Role::Admin
        );
        assert_eq!(
            required_role(&Method::GET, "/admin/operators/2/edit"),
            Role::Admin
        );
        for path in [
            "/api/v1/users",
            "/api/v1/api-keys/3",
            "/api/v1/audit-log",
            "/admin/users",
        ] {
            assert_eq!(required_role(&Method::GET, path), Role::Admin, "{path}");
        }
    }

    #[test]
    fn managers_read_the_daily_report_and_admins_send_it() {
        for path in ["/api/v1/reports/daily", "/admin/reports/daily"] {
            assert_eq!(required_role(&Method::GET, path), Role::Manager, "{path}");
        }
        for path in ["/api/v1/reports/daily/send", "/admin/reports/daily/send"] {
            assert_eq!(required_role(&Method::POST, path), Role::Admin, "{path}");
        }
    }

    #[test]
    fn ones_own_sign_in_is_for_everyone() {
        assert_eq!(
            required_role(&Method::POST, "/api/v1/auth/logout"),
            Role::Viewer
        );
        assert_eq!(
            required_role(&Method::POST, "/api/v1/auth/password"),
            Role::Viewer
        );
        assert_eq!(required_role(&Method::POST, "/admin/logout"), Role::Viewer);
        assert_eq!(
            required_role(&Method::POST, "/admin/account/password"),
            Role::Viewer
        );
    }
}
