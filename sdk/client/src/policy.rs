//! Device access policies from Rust: the policy contract's transaction and `policy_decide`.
//!
//! The model and the decision are `weft_types::policy`; a gateway that must not trust the node
//! checks the answer's `proof` (the policy's storage entry) and repeats the decision with
//! `weft_types::policy::decide`.

use weft_types::did::DidId;
use weft_types::policy::Policy;
use weft_types::{ContractId, SignedTransaction};

/// `set(owner, device, policy)`: `owner` is the device or a controller of its DID.
pub fn set(
    signer: &mut crate::Signer,
    owner: &DidId,
    device: &DidId,
    policy: &Policy,
) -> SignedTransaction {
    signer.call(
        ContractId::system("policy"),
        "set",
        borsh::to_vec(&(owner, device, policy)).expect("borsh encoding into a Vec cannot fail"),
    )
}

/// `policy_decide`: whether `subject` may perform `action` on `device` now, on the credentials
/// that verify (with `roots` as trusted roots for their issuers). The answer's `permitted` is true
/// only for a grant.
#[cfg(feature = "transport")]
pub async fn decide(
    client: &crate::Client,
    device: &str,
    action: &str,
    subject: &str,
    credentials: &[serde_json::Value],
    roots: &[String],
) -> crate::Result<serde_json::Value> {
    client
        .request(
            "policy_decide",
            serde_json::json!({
                "device": device,
                "action": action,
                "subject": subject,
                "credentials": credentials,
                "trustedRoots": roots,
            }),
        )
        .await
}
