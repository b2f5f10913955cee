//! `weft token` and `weft nft` as a user types them, against a real `weft dev` committee: a token created,
//! minted, moved, approved, paid by a relayed permit and by a deal both payers signed, and read
//! with proofs; a soulbound ticket minted to a DID that then never moves; listings.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use common::devnet::devnet;
use serde_json::Value;
use std::process::Command;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

fn weft(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(WEFT).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_nfts_from_the_command_line() {
    // A real committee: balances read with proofs are checked against its anchors.
    let net = devnet().await;
    let url = net.rpc.clone();
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let as_key = |key: &str, args: &[&str]| {
        let key = path(key);
        weft(&[&["--rpc", url.as_str(), "--key", key.as_str()][..], args].concat())
    };
    let json = |key: &str, args: &[&str]| -> Value {
        let (ok, out, err) = as_key(key, &[&["--json"][..], args].concat());
        assert!(ok, "weft {args:?}: {err}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{out}: {e}"))
    };
    let mut accounts = Vec::new();
    for who in ["issuer.json", "ana.json", "ben.json", "relayer.json"] {
        assert!(weft(&["keys", "new", "--out", &path(who)]).0);
        let (ok, out, err) = weft(&["keys", "show", "--key", &path(who)]);
        assert!(ok, "{err}");
        accounts.push(out.split_whitespace().last().unwrap().to_string());
    }
    let (ana, ben) = (accounts[1].clone(), accounts[2].clone());

    // A token with two decimals and a maximum supply; the issuer names itself minter.
    let created = json(
        "issuer.json",
        &[
            "token",
            "create",
            "--symbol",
            "EURC",
            "--name",
            "Community euro",
            "--decimals",
            "2",
            "--max-supply",
            "1000",
            "--freezable",
        ],
    );
    let token = created["token"].as_u64().unwrap().to_string();
    let issuer = created["owner"].as_str().unwrap().to_string();
    json("issuer.json", &["token", "minter", &token, &issuer]);
    json("issuer.json", &["token", "mint", &token, &ana, "100"]);
    let (ok, _, err) = as_key("issuer.json", &["token", "mint", &token, &ana, "900.01"]);
    assert!(!ok && err.contains("above the maximum"), "{err}");

    // Ana pays Ben 12.34 and two more in one batch; amounts come back as strings of base units.
    json("ana.json", &["token", "transfer", &token, &ben, "12.34"]);
    let batch = json(
        "ana.json",
        &[
            "token",
            "transfer",
            &token,
            "--to",
            &format!("{ben}=0.66"),
            "--to",
            &format!("{}=1", accounts[3]),
        ],
    );
    assert_eq!(batch["transfers"][0]["amount"], "66");
    let (ok, _, err) = as_key("ben.json", &["token", "transfer", &token, &ana, "13.01"]);
    assert!(!ok && err.contains("less than"), "{err}");
    let (ok, _, err) = as_key("ben.json", &["token", "transfer", &token, &ana, "0.001"]);
    assert!(!ok && err.contains("2 decimals"), "{err}");

    // Ben signs a permit (number 0, given explicitly as one would offline); the relayer, who
    // holds nothing, sends it, once only.
    let (ok, _, err) = as_key(
        "ben.json",
        &[
            "token",
            "permit",
            &token,
            &ana,
            "3",
            "--nonce",
            "0",
            "--out",
            &path("p0.json"),
        ],
    );
    assert!(ok, "{err}");
    json("relayer.json", &["token", "relay", &path("p0.json")]);
    let (ok, _, err) = as_key("relayer.json", &["token", "relay", &path("p0.json")]);
    assert!(!ok && err.contains("used already"), "{err}");

    // A deal: Ben pays Ana 4, Ana pays Ben 0.5; each adds a leg, each signs all of it, and it
    // goes through only once both have signed.
    let deal = path("deal.json");
    json(
        "ben.json",
        &["token", "deal", "add", &deal, &token, &ana, "4"],
    );
    json(
        "ana.json",
        &["token", "deal", "add", &deal, &token, &ben, "0.5"],
    );
    json("ben.json", &["token", "deal", "sign", &deal]);
    let (ok, _, err) = as_key("relayer.json", &["token", "relay", &deal]);
    assert!(
        !ok && err.contains("leg 1") && err.contains("not signed yet"),
        "{err}"
    );
    let (ok, _, err) = as_key("relayer.json", &["token", "deal", "sign", &deal]);
    assert!(!ok && err.contains("pays no leg"), "{err}");
    json("ana.json", &["token", "deal", "sign", &deal]);
    let settled = json("relayer.json", &["token", "relay", &deal]);
    assert_eq!(settled["legs"].as_array().unwrap().len(), 2, "{settled}");
    let (ok, _, err) = as_key("relayer.json", &["token", "relay", &deal]);
    assert!(!ok && err.contains("used already"), "{err}");

    // Balances, the last one read with proofs against the genesis file's committee.
    let balance = |who: &str| -> Value { json("issuer.json", &["token", "balance", &token, who]) };
    assert_eq!(balance(&ana)["balance"], "9250"); // 100 - 12.34 - 0.66 - 1 + 3 + 4 - 0.5
    let genesis = net.home.path().join("devnet/genesis.toml");
    // Proven state is the anchored state: wait until the committee has anchored the last move.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let proven = loop {
        let proven = json(
            "issuer.json",
            &[
                "token",
                "balance",
                &token,
                &ben,
                "--genesis",
                genesis.to_str().unwrap(),
            ],
        );
        if proven["balance"] == "650" || std::time::Instant::now() > deadline {
            break proven;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(proven["balance"], "650", "{proven}"); // 12.34 + 0.66 - 3 - 4 + 0.5
    assert!(proven["verifiedHeight"].as_u64().unwrap() > 0);
    // The same over JSON-RPC, as a dApp reads it: strings of base units, with the proof.
    let client = weft_client::Client::connect(&url).await.unwrap();
    let answer: Value = client
        .request(
            "token_getBalance",
            serde_json::json!({"token": token.parse::<u64>().unwrap(), "holder": ben}),
        )
        .await
        .unwrap();
    assert_eq!(answer["balance"], "650", "{answer}");
    assert_eq!(answer["formatted"], "6.5");
    assert_eq!(answer["proof"]["entries"].as_array().unwrap().len(), 3);
    assert_eq!(answer["height"], answer["proof"]["height"]);
    let bad = client
        .request::<Value>(
            "token_getBalance",
            serde_json::json!({"token": 1, "holder": "ben"}),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(bad.contains("neither an account"), "{bad}");
    let info = json("issuer.json", &["token", "info", &token]);
    assert_eq!(info["supply"], "10000");

    // Freezing stops a holder; the token declared no pausing, so it cannot be paused.
    json("issuer.json", &["token", "freeze", &token, &ben]);
    let (ok, _, err) = as_key("ben.json", &["token", "transfer", &token, &ana, "1"]);
    assert!(!ok && err.contains("frozen"), "{err}");
    let (ok, _, err) = as_key("issuer.json", &["token", "pause", &token]);
    assert!(!ok && err.contains("not declared pausable"), "{err}");

    // A soulbound ticket to Ana's DID: it lists under the DID and never moves.
    let (ok, out, err) = as_key("ana.json", &["did", "create"]);
    assert!(ok, "{err}");
    let ana_did = out.split_whitespace().next().unwrap().to_string();
    let collection = json(
        "issuer.json",
        &[
            "nft",
            "create-collection",
            "--name",
            "Harbour Festival",
            "--symbol",
            "HF27",
            "--issuer-burns",
        ],
    )["collection"]
        .as_u64()
        .unwrap()
        .to_string();
    std::fs::write(path("ticket.png"), b"not really a png").unwrap();
    let minted = json(
        "issuer.json",
        &[
            "nft",
            "mint",
            &collection,
            &ana_did,
            "--name",
            "Saturday pass",
            "--uri",
            "https://example.org/t/1.png",
            "--media-type",
            "image/png",
            "--media-file",
            &path("ticket.png"),
            "--attribute",
            "day=Saturday",
            "--soulbound",
        ],
    );
    let item = minted["item"].as_u64().unwrap().to_string();
    let (ok, _, err) = as_key(
        "ana.json",
        &[
            "nft",
            "transfer",
            &collection,
            &item,
            &ben,
            "--as",
            &ana_did,
        ],
    );
    assert!(!ok && err.contains("soulbound"), "{err}");
    let shown = json("issuer.json", &["nft", "show", &collection, &item]);
    assert_eq!(shown["owner"], ana_did.as_str());
    assert_eq!(
        shown["mediaSha256"].as_str().unwrap_or_default(),
        sha256_hex(b"not really a png"),
        "{shown}"
    );
    let listed = json("issuer.json", &["nft", "list", "--owner", &ana_did]);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let page: Value = client
        .request("nft_listItems", serde_json::json!({"owner": ana_did}))
        .await
        .unwrap();
    assert_eq!(page["items"][0]["soulbound"], true, "{page}");
    // Read at the latest anchored height: wait until the mint is anchored.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let item_answer = loop {
        let answer: Value = client
            .request(
                "nft_getItem",
                serde_json::json!({"collection": collection.parse::<u64>().unwrap(), "item": 1}),
            )
            .await
            .unwrap();
        if answer.get("exists") != Some(&Value::Bool(false)) || std::time::Instant::now() > deadline
        {
            break answer;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(item_answer["name"], "Saturday pass", "{item_answer}");
    json("issuer.json", &["nft", "burn", &collection, &item]);
    let listed = json("issuer.json", &["nft", "list", "--collection", &collection]);
    assert!(listed["items"].as_array().unwrap().is_empty(), "{listed}");
}

/// The SHA-256 of `bytes` in hex, as `sha256sum` prints it.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}
