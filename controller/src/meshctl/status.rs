//! `meshctl status`: each router with the revision it serves against the
//! one its controller publishes (stale routers stand out), and every
//! resource the controllers rejected or accepted with a warning, with why.

use super::get::render_table;
use super::{Context, MeshctlError};
use crate::status::{ResourceStatus, RouterStatus, State};
use mesh_config::keys::KeyRef;

/// `meshctl status`.
pub async fn status(ctx: &Context) -> Result<(), MeshctlError> {
    let store = ctx.store().await?;
    let (revision, kvs) = store.list_prefix(&ctx.keys.status_prefix()).await?;
    let mut routers: Vec<RouterStatus> = Vec::new();
    let mut resources: Vec<(String, ResourceStatus)> = Vec::new();
    let mut unreadable: Vec<String> = Vec::new();
    for kv in kvs {
        match ctx.keys.parse(&kv.key) {
            Some(KeyRef::RouterStatus(_)) => match serde_json::from_slice(&kv.value) {
                Ok(r) => routers.push(r),
                Err(e) => unreadable.push(format!("{}: {e}", kv.key)),
            },
            Some(KeyRef::ResourceStatus(id)) => match serde_json::from_slice(&kv.value) {
                Ok(s) => resources.push((id.to_string(), s)),
                Err(e) => unreadable.push(format!("{}: {e}", kv.key)),
            },
            _ => {}
        }
    }
    print!("{}", render(revision, &routers, &resources));
    for u in unreadable {
        eprintln!("meshctl: unreadable status {u}");
    }
    Ok(())
}

/// The whole report as text.
fn render(
    revision: i64,
    routers: &[RouterStatus],
    resources: &[(String, ResourceStatus)],
) -> String {
    let mut out = format!("etcd revision {revision}\n\n");
    if routers.is_empty() {
        out.push_str("no router is connected to a controller\n");
    } else {
        let current = routers
            .iter()
            .map(|r| r.published_revision)
            .max()
            .unwrap_or(0);
        let mut rows = vec![[
            "ROUTER",
            "CONTROLLER",
            "SERVES",
            "PUBLISHED",
            "LAG",
            "STATE",
        ]
        .map(str::to_owned)
        .to_vec()];
        for r in routers {
            let state = match (&r.rejected, r.lag()) {
                (Some(reason), _) => format!("STALE: rejected the table: {reason}"),
                (None, 0) => "current".to_owned(),
                (None, lag) => format!(
                    "STALE: {lag} revision{} behind",
                    if lag == 1 { "" } else { "s" }
                ),
            };
            rows.push(vec![
                r.router.clone(),
                r.controller.clone(),
                r.revision.to_string(),
                r.published_revision.to_string(),
                r.lag().to_string(),
                state,
            ]);
        }
        let stale = routers
            .iter()
            .filter(|r| r.lag() > 0 || r.rejected.is_some())
            .count();
        out.push_str(&format!(
            "{} router{} ({} stale); newest published table: revision {current}\n",
            routers.len(),
            if routers.len() == 1 { "" } else { "s" },
            stale
        ));
        out.push_str(&render_table(&rows));
    }
    out.push('\n');
    let accepted = resources
        .iter()
        .filter(|(_, s)| s.state == State::Accepted)
        .count();
    let rejected = resources.len() - accepted;
    out.push_str(&format!(
        "{accepted} resources accepted, {rejected} rejected\n"
    ));
    let mut rows = vec![["RESOURCE", "STATE", "REVISION", "REASON"]
        .map(str::to_owned)
        .to_vec()];
    for (id, s) in resources.iter().filter(|(_, s)| !s.reasons.is_empty()) {
        for (i, reason) in s.reasons.iter().enumerate() {
            rows.push(if i == 0 {
                vec![
                    id.clone(),
                    s.state.as_str().to_owned(),
                    s.revision.to_string(),
                    reason.clone(),
                ]
            } else {
                vec![String::new(), String::new(), String::new(), reason.clone()]
            });
        }
    }
    if rows.len() > 1 {
        out.push_str(&render_table(&rows));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(name: &str, revision: i64, hash: u64) -> RouterStatus {
        RouterStatus {
            router: name.into(),
            controller: "c1".into(),
            revision,
            table_hash: hash,
            published_revision: 20,
            published_hash: 2,
            rejected: None,
        }
    }

    #[test]
    fn stale_routers_and_rejections_stand_out() {
        let routers = [router("r1", 20, 2), router("r2", 12, 1)];
        let resources = [
            (
                "route bad".to_owned(),
                ResourceStatus {
                    state: State::Rejected,
                    revision: 9,
                    reasons: vec!["spec.hostnames[0]: must be lower-case".into()],
                },
            ),
            (
                "service ok".to_owned(),
                ResourceStatus {
                    state: State::Accepted,
                    revision: 3,
                    reasons: vec![],
                },
            ),
        ];
        let text = render(25, &routers, &resources);
        assert!(
            text.contains("2 routers (1 stale); newest published table: revision 20"),
            "{text}"
        );
        assert!(
            text.lines()
                .any(|l| l.starts_with("r1 ") && l.ends_with("current")),
            "{text}"
        );
        assert!(
            text.lines()
                .any(|l| l.starts_with("r2 ") && l.contains("STALE: 8 revisions behind")),
            "{text}"
        );
        assert!(text.contains("1 resources accepted, 1 rejected"), "{text}");
        assert!(
            text.lines().any(|l| l.starts_with("route bad")
                && l.contains("rejected")
                && l.contains("must be lower-case")),
            "{text}"
        );
        assert!(!text.contains("service ok"), "{text}");
    }
}
