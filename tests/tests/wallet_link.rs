//! Wallet linking with real EIP-191 signatures from a local key, against Postgres.

use alloy::signers::local::PrivateKeySigner;
use arrakis_activities::wallet::{LinkError, WalletLinker};
use arrakis_schemas::Snowflake;
use arrakis_tests::{chain::personal_sign, fresh_database};
use chrono::{Duration, Utc};

fn id(raw: u64) -> Snowflake {
    Snowflake::new(raw).expect("id")
}

async fn linker() -> (arrakis_tests::TestDatabase, WalletLinker) {
    let db = fresh_database().await;
    let mut tx = db.store.service().await.expect("service tx");
    tx.ensure_guild_community(id(1200)).await.expect("community");
    tx.commit().await.expect("commit");
    let linker = WalletLinker::new(db.store.clone(), "arrakis.test");
    (db, linker)
}

#[tokio::test]
async fn a_real_personal_sign_signature_links_the_wallet_once() {
    let (_db, linker) = linker().await;
    let key = PrivateKeySigner::random();
    let address = key.address().to_checksum(None);
    let now = Utc::now();
    let challenge = linker.challenge(id(1200), id(7), &address, now).await.expect("challenge");
    for part in ["arrakis.test", "Discord server: 1200", "Discord user: 7", &challenge.nonce, &address, "Expires at"] {
        assert!(challenge.message.contains(part), "{part} missing from the challenge:\n{}", challenge.message);
    }
    let signature = personal_sign(&key, &challenge.message);
    let linked = linker.link(id(1200), id(7), &challenge.nonce, &signature, now).await.expect("linked");
    assert_eq!(linked.address, address);
    assert_eq!(linker.wallets(id(1200), id(7)).await.expect("wallets"), vec![key.address()]);
    // The same nonce again: refused, and nothing changes.
    let again = linker.link(id(1200), id(7), &challenge.nonce, &signature, now).await;
    assert!(matches!(again, Err(LinkError::Reused)), "{again:?}");
    assert!(again.err().map(|e| e.to_string()).unwrap_or_default().starts_with("nonce:"));
}

#[tokio::test]
async fn a_wrong_signer_is_refused_and_the_challenge_stays_usable() {
    let (_db, linker) = linker().await;
    let claimed = PrivateKeySigner::random();
    let other = PrivateKeySigner::random();
    let now = Utc::now();
    let challenge = linker.challenge(id(1200), id(8), &claimed.address().to_string(), now).await.expect("challenge");
    let wrong = linker.link(id(1200), id(8), &challenge.nonce, &personal_sign(&other, &challenge.message), now).await;
    match wrong {
        Err(LinkError::WrongSigner { recovered, claimed: c }) => {
            assert_eq!((recovered, c), (other.address(), claimed.address()));
        }
        other => panic!("expected a wrong-signer refusal, got {other:?}"),
    }
    assert!(linker.wallets(id(1200), id(8)).await.expect("wallets").is_empty());
    // A signature over different text recovers someone else: also refused.
    let tampered =
        linker.link(id(1200), id(8), &challenge.nonce, &personal_sign(&claimed, "something else"), now).await;
    assert!(matches!(tampered, Err(LinkError::WrongSigner { .. })), "{tampered:?}");
    let garbage = linker.link(id(1200), id(8), &challenge.nonce, "0x1234", now).await;
    assert!(matches!(garbage, Err(LinkError::BadSignature)), "{garbage:?}");
    // The rejections consumed nothing: the right signature still links.
    linker
        .link(id(1200), id(8), &challenge.nonce, &personal_sign(&claimed, &challenge.message), now)
        .await
        .expect("linked");
}

#[tokio::test]
async fn an_expired_or_foreign_nonce_is_refused() {
    let (_db, linker) = linker().await;
    let key = PrivateKeySigner::random();
    let issued = Utc::now() - Duration::minutes(11);
    let challenge = linker.challenge(id(1200), id(9), &key.address().to_string(), issued).await.expect("challenge");
    let signature = personal_sign(&key, &challenge.message);
    let late = linker.link(id(1200), id(9), &challenge.nonce, &signature, Utc::now()).await;
    assert!(matches!(late, Err(LinkError::Expired(_))), "{late:?}");
    // Another member cannot use it, and an unknown nonce is named as such.
    let foreign = linker.link(id(1200), id(10), &challenge.nonce, &signature, issued).await;
    assert!(matches!(foreign, Err(LinkError::UnknownNonce)), "{foreign:?}");
    assert!(linker.wallets(id(1200), id(9)).await.expect("wallets").is_empty());
    // Bad input is refused before anything is stored.
    assert!(matches!(linker.challenge(id(1200), id(9), "0xnothex", issued).await, Err(LinkError::BadAddress)));
    assert!(matches!(
        linker.challenge(id(9999), id(9), &key.address().to_string(), issued).await,
        Err(LinkError::NoCommunity)
    ));
}
