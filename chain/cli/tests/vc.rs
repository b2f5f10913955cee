//! `weft vc`, `weft vp` and `weft trust` as a user types them, against a real node, and
//! `weft vc serve` answering the VC API's `POST /credentials/issue`.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use common::{free_port, ready};
use std::path::Path;
use std::process::{Child, Command};

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

fn weft(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(WEFT).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str], log: &Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    Command::new(WEFT)
        .args(args)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("node");
    let listen = format!("127.0.0.1:{}", free_port());
    let (ok, _, err) = weft(&[
        "init",
        "--home",
        home.to_str().unwrap(),
        "--rpc-listen",
        &listen,
    ]);
    assert!(ok, "{err}");
    let log = dir.path().join("node.log");
    let config = home.join("config.toml");
    let mut child = spawn(&["node", "run", "--config", config.to_str().unwrap()], &log);
    let url = format!("http://{listen}");
    ready(&url, &mut child, &log).await;
    let _node = Killed(child);

    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let as_key = |key: &str, args: &[&str]| {
        let key = path(key);
        weft(&[&["--rpc", url.as_str(), "--key", key.as_str()][..], args].concat())
    };
    let mut dids = Vec::new();
    for who in ["root.json", "issuer.json", "holder.json"] {
        assert!(weft(&["keys", "new", "--out", &path(who)]).0);
        let (ok, out, err) = as_key(who, &["did", "create"]);
        assert!(ok, "{err}");
        dids.push(out.split_whitespace().next().unwrap().to_string());
    }
    let (root, issuer, holder) = (&dids[0], &dids[1], &dids[2]);

    let (ok, out, err) = as_key(
        "root.json",
        &[
            "trust",
            "accredit",
            issuer,
            "--did",
            root,
            "--type",
            "AgeCredential",
        ],
    );
    assert!(ok && out.contains("accredited"), "{out}{err}");
    let (ok, out, err) = as_key(
        "issuer.json",
        &[
            "vc",
            "list",
            "create",
            "--did",
            issuer,
            "--purpose",
            "revocation",
        ],
    );
    assert!(ok && out.contains("revocation list 0"), "{out}{err}");

    let credential = serde_json::json!({
        "@context": ["https://www.w3.org/ns/credentials/v2",
                     "https://www.w3.org/ns/credentials/undefined-terms/v2"],
        "type": ["VerifiableCredential", "AgeCredential"],
        "issuer": issuer,
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {"id": holder, "ageOver18": true, "birthDate": "2001-02-03"}
    });
    std::fs::write(path("age.json"), credential.to_string()).unwrap();
    for format in ["vc", "vc+jwt", "vc+sd-jwt"] {
        let mut args = vec![
            "vc",
            "issue",
            "age.json",
            "--did",
            issuer,
            "--format",
            format,
            "--revocation-list",
            "0",
        ];
        if format == "vc+sd-jwt" {
            args.extend(["--disclosable", "birthDate,ageOver18"]);
        }
        let age = path("age.json");
        args[2] = &age;
        let (ok, out, err) = as_key("issuer.json", &args);
        assert!(ok, "{format}: {err}");
        std::fs::write(path(&format!("issued-{format}.json")), &out).unwrap();
        let (ok, out, err) = weft(&[
            "--rpc",
            &url,
            "vc",
            "verify",
            &path(&format!("issued-{format}.json")),
            "--trusted-root",
            root,
        ]);
        assert!(ok, "{format}: {out}{err}");
        assert!(out.contains("trust     passed"), "{out}");
    }

    // A presentation to a verifier's challenge, accepted once.
    let (ok, challenge, err) = weft(&["--rpc", &url, "vp", "challenge"]);
    assert!(ok, "{err}");
    let challenge = challenge.trim().to_string();
    let (ok, vp, err) = as_key(
        "holder.json",
        &[
            "vp",
            "create",
            &path("issued-vc.json"),
            "--did",
            holder,
            "--challenge",
            &challenge,
            "--domain",
            "shop.example",
        ],
    );
    assert!(ok, "{err}");
    std::fs::write(path("vp.json"), vp).unwrap();
    let verify_vp = || {
        weft(&[
            "--rpc",
            &url,
            "vp",
            "verify",
            &path("vp.json"),
            "--challenge",
            &challenge,
            "--domain",
            "shop.example",
        ])
    };
    let (ok, out, err) = verify_vp();
    assert!(ok, "{out}{err}");
    let (ok, _, err) = verify_vp();
    assert!(!ok && err.contains("CHALLENGE_REUSED"), "{err}");

    // Only the issuer revokes; then every verifier refuses it.
    let (ok, _, err) = as_key(
        "holder.json",
        &["vc", "revoke", &path("issued-vc.json"), "--did", issuer],
    );
    assert!(!ok && err.contains("not an assertionMethod key"), "{err}");
    let (ok, out, err) = as_key(
        "issuer.json",
        &["vc", "revoke", &path("issued-vc.json"), "--did", issuer],
    );
    assert!(ok && out.contains("set to 1"), "{out}{err}");
    let (ok, out, _) = weft(&["--rpc", &url, "vc", "status", &path("issued-vc.json")]);
    assert!(ok && out.contains("REVOKED"), "{out}");
    let (ok, _, err) = weft(&["--rpc", &url, "vc", "verify", &path("issued-vc.json")]);
    assert!(!ok && err.contains("not verified: REVOKED"), "{err}");
    let (ok, out, err) = weft(&[
        "--rpc",
        &url,
        "trust",
        "chain",
        issuer,
        "--type",
        "AgeCredential",
        "--root",
        root,
    ]);
    assert!(
        ok && out.contains("is accredited for AgeCredential"),
        "{out}{err}"
    );
    let (ok, _, err) = weft(&[
        "--rpc", &url, "trust", "chain", issuer, "--type", "Ticket", "--root", root,
    ]);
    assert!(!ok && err.contains("not \"Ticket\""), "{err}");

    // The issuer service: POST /credentials/issue with the issuer's own key.
    let serve = format!("127.0.0.1:{}", free_port());
    let key = path("issuer.json");
    let mut server = spawn(
        &[
            "--rpc",
            &url,
            "--key",
            &key,
            "vc",
            "serve",
            "--did",
            issuer,
            "--listen",
            &serve,
            "--revocation-list",
            "0",
        ],
        &dir.path().join("serve.log"),
    );
    let api = weft_client::credentials::VcApi::new(&format!("http://{serve}"));
    let body = serde_json::json!({
        "credential": credential,
        "options": {"format": "vc+jwt", "credentialStatus": ["revocation"]}
    });
    let mut answer = None;
    for _ in 0..100 {
        if let Ok(a) = api.request("POST", "/credentials/issue", Some(&body)).await {
            answer = Some(a);
            break;
        }
        assert!(
            server.try_wait().unwrap().is_none(),
            "the issuer service exited"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _server = Killed(server);
    let (status, issued) = answer.expect("the issuer service answers");
    assert_eq!(status, 201, "{issued:#}");
    let node = weft_client::credentials::VcApi::new(&url);
    let (status, report) = node
        .verify_credential(&issued["verifiableCredential"], std::slice::from_ref(root))
        .await
        .unwrap();
    assert_eq!(status, 200, "{report:#}");
    let mut foreign = body.clone();
    foreign["credential"]["issuer"] = holder.clone().into();
    let (status, problem) = api
        .request("POST", "/credentials/issue", Some(&foreign))
        .await
        .unwrap();
    assert_eq!(status, 422);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("issues only as"),
        "{problem:#}"
    );
    let (status, _) = api
        .request(
            "POST",
            "/credentials/issue",
            Some(&serde_json::json!({"nope": 1})),
        )
        .await
        .unwrap();
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_policies_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("node");
    let listen = format!("127.0.0.1:{}", free_port());
    let (ok, _, err) = weft(&[
        "init",
        "--home",
        home.to_str().unwrap(),
        "--rpc-listen",
        &listen,
    ]);
    assert!(ok, "{err}");
    let log = dir.path().join("node.log");
    let config = home.join("config.toml");
    let mut child = spawn(&["node", "run", "--config", config.to_str().unwrap()], &log);
    let url = format!("http://{listen}");
    ready(&url, &mut child, &log).await;
    let _node = Killed(child);
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let as_key = |key: &str, args: &[&str]| {
        let key = path(key);
        weft(&[&["--rpc", url.as_str(), "--key", key.as_str()][..], args].concat())
    };
    let mut dids = Vec::new();
    for who in ["device.json", "tech.json"] {
        assert!(weft(&["keys", "new", "--out", &path(who)]).0);
        let (ok, out, err) = as_key(who, &["did", "create"]);
        assert!(ok, "{err}");
        dids.push(out.split_whitespace().next().unwrap().to_string());
    }
    let (device, tech) = (&dids[0], &dids[1]);
    // A daily window from an hour ago to an hour ahead (UTC), spanning midnight when it must.
    let minute = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 60
        % 1440;
    let hh_mm = |m: u64| format!("{:02}:{:02}", m / 60, m % 60);
    let (from, until) = (hh_mm((minute + 1380) % 1440), hh_mm((minute + 60) % 1440));
    let policy = serde_json::json!({"rules": [{
        "effect": "grant", "actions": ["open"], "subject": {"did": tech},
        "conditions": [{"daily": {"from": from, "until": until}}],
        "obligations": ["log-access"]
    }, {
        "effect": "deny", "actions": ["reset"], "subject": "anyone"
    }]});
    std::fs::write(path("policy.json"), policy.to_string()).unwrap();
    // The device owns itself; the technician does not own it.
    let (ok, _, err) = as_key(
        "tech.json",
        &[
            "policy",
            "set",
            &path("policy.json"),
            "--device",
            device,
            "--did",
            tech,
        ],
    );
    assert!(!ok && err.contains("does not own"), "{err}");
    let (ok, out, err) = as_key(
        "device.json",
        &[
            "policy",
            "set",
            &path("policy.json"),
            "--device",
            device,
            "--did",
            device,
        ],
    );
    assert!(ok && out.contains("2 rule(s)"), "{out}{err}");
    let (ok, out, _) = weft(&["--rpc", &url, "policy", "show", device]);
    assert!(
        ok && out.contains("log-access") && out.contains(&format!("\"from\": \"{from}\"")),
        "{out}"
    );
    let decide = |action: &str, subject: &str| {
        weft(&[
            "--rpc",
            &url,
            "policy",
            "decide",
            device,
            "--action",
            action,
            "--subject",
            subject,
        ])
    };
    let (ok, out, err) = decide("open", tech);
    assert!(ok && out.contains("grant"), "{out}{err}");
    let (ok, out, err) = decide("open", device);
    assert!(
        !ok && out.contains("undefined") && err.contains("not permitted"),
        "{out}{err}"
    );
    let (ok, out, _) = decide("reset", tech);
    assert!(!ok && out.contains("deny"), "{out}");
}
