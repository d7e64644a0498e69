//! Chain fixtures on the stack's anvil: the committed OpenZeppelin test contracts deployed by
//! a sender of the test's own (so parallel tests never share a nonce), and a TCP relay that
//! stands in for an RPC URL that can be killed mid-run.

use alloy::{
    network::EthereumWallet,
    primitives::{Address, U256},
    providers::{DynProvider, Provider, ProviderBuilder, ext::AnvilApi},
    signers::local::PrivateKeySigner,
    sol,
};
use arrakis_activities::{
    chain::{ChainConfig, Chains},
    circuit::CircuitConfig,
};
use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    task::JoinSet,
};

sol!(
    #[sol(rpc)]
    TestERC20,
    "../contracts/out/TestERC20.json"
);
sol!(
    #[sol(rpc)]
    TestERC721,
    "../contracts/out/TestERC721.json"
);
sol!(
    #[sol(rpc)]
    TestERC1155,
    "../contracts/out/TestERC1155.json"
);

/// anvil's chain id.
pub const ANVIL_CHAIN_ID: u64 = 31337;

/// The stack's anvil.
pub fn anvil_url() -> String {
    crate::stack_env("ARRAKIS_ANVIL_URL")
}

/// Three fresh contracts and a provider that can mint on them.
pub struct ChainFixture {
    /// Signs as the fixture's own funded sender.
    pub provider: DynProvider,
    /// ERC20, 18 decimals.
    pub erc20: Address,
    /// ERC721.
    pub erc721: Address,
    /// ERC1155.
    pub erc1155: Address,
}

impl ChainFixture {
    /// Deploys the contracts from a freshly funded random sender.
    pub async fn deploy() -> Self {
        arrakis_sim::install_tls();
        let signer = PrivateKeySigner::random();
        let sender = signer.address();
        let url: url::Url = anvil_url().parse().expect("ARRAKIS_ANVIL_URL is a URL");
        let provider = ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_http(url).erased();
        provider.anvil_set_balance(sender, U256::from(10u128.pow(22))).await.expect("fund the sender");
        let erc20 = *TestERC20::deploy(&provider, "Spice".into(), "SPICE".into(), 18).await.expect("ERC20").address();
        let erc721 = *TestERC721::deploy(&provider, "Worms".into(), "WORM".into()).await.expect("ERC721").address();
        let erc1155 = *TestERC1155::deploy(&provider).await.expect("ERC1155").address();
        Self { provider, erc20, erc721, erc1155 }
    }

    /// Mints `amount` base units of the ERC20 to `to`.
    pub async fn mint_erc20(&self, to: Address, amount: U256) {
        let token = TestERC20::new(self.erc20, &self.provider);
        token.mint(to, amount).send().await.expect("send").get_receipt().await.expect("mined");
    }

    /// Mints `amount` to each of `to` (up to ~500 per transaction).
    pub async fn mint_erc20_batch(&self, to: &[Address], amount: U256) {
        let token = TestERC20::new(self.erc20, &self.provider);
        for chunk in to.chunks(400) {
            token.mintBatch(chunk.to_vec(), amount).send().await.expect("send").get_receipt().await.expect("mined");
        }
    }

    /// Burns `amount` base units of `from`'s ERC20 (a Transfer to the zero address).
    pub async fn burn_erc20(&self, from: Address, amount: U256) {
        let token = TestERC20::new(self.erc20, &self.provider);
        token.burn(from, amount).send().await.expect("send").get_receipt().await.expect("mined");
    }

    /// Mints ERC721 token `id` to `to`.
    pub async fn mint_erc721(&self, to: Address, id: u64) {
        let nft = TestERC721::new(self.erc721, &self.provider);
        nft.mint(to, U256::from(id)).send().await.expect("send").get_receipt().await.expect("mined");
    }

    /// Mints `amount` of ERC1155 token `id` to `to`.
    pub async fn mint_erc1155(&self, to: Address, id: u64, amount: u64) {
        let multi = TestERC1155::new(self.erc1155, &self.provider);
        multi
            .mint(to, U256::from(id), U256::from(amount))
            .send()
            .await
            .expect("send")
            .get_receipt()
            .await
            .expect("mined");
    }
}

/// A chain config for anvil through `urls`, in order.
pub fn anvil_chain(urls: &[String], batch: usize) -> ChainConfig {
    ChainConfig {
        id: ANVIL_CHAIN_ID,
        name: "anvil".into(),
        rpc_urls: urls.iter().map(|u| u.parse().expect("URL")).collect(),
        multicall_batch: batch,
        max_in_flight: 8,
        request_timeout_ms: 5000,
    }
}

/// The chains registry over `urls`.
pub fn anvil_chains(urls: &[String], batch: usize) -> Chains {
    Chains::new(vec![anvil_chain(urls, batch)], CircuitConfig::default())
}

/// A URL where nothing listens (a port bound and released).
pub async fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}")
}

/// A TCP relay to a target: an RPC URL of its own that can be killed, connections and all.
pub struct TcpRelay {
    addr: SocketAddr,
    connections: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl TcpRelay {
    /// Relays `127.0.0.1:{port}` → `target` (host:port).
    pub async fn start(target: SocketAddr) -> Self {
        Self::start_with_delay(target, Duration::ZERO).await
    }

    /// As [`start`](Self::start), holding each request back `delay` before it reaches the
    /// target: a remote RPC provider's round trip on loopback. A request is what arrives after
    /// the connection was quiet for 2 ms (HTTP/1.1 sends one request at a time per connection).
    pub async fn start_with_delay(target: SocketAddr, delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let addr = listener.local_addr().expect("addr");
        let connections = Arc::new(AtomicU64::new(0));
        let counter = connections.clone();
        let task = tokio::spawn(async move {
            let mut open = JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                open.spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else { return };
                    if delay.is_zero() {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        return;
                    }
                    let (mut in_read, mut in_write) = inbound.into_split();
                    let (mut out_read, mut out_write) = outbound.into_split();
                    let upstream = async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        let mut last: Option<tokio::time::Instant> = None;
                        loop {
                            let n = match in_read.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            if last.is_none_or(|at| at.elapsed() > Duration::from_millis(2)) {
                                tokio::time::sleep(delay).await;
                            }
                            if out_write.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                            last = Some(tokio::time::Instant::now());
                        }
                    };
                    let downstream = tokio::io::copy(&mut out_read, &mut in_write);
                    tokio::select! {
                        _ = upstream => {}
                        _ = downstream => {}
                    }
                });
            }
            // Dropping the set aborts every open connection with the listener.
        });
        Self { addr, connections, task }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    /// Kills the listener and every open connection: the URL is dead from now on.
    pub fn kill(&self) {
        self.task.abort();
    }
}

/// anvil's address as host:port.
pub fn anvil_addr() -> SocketAddr {
    let url: url::Url = anvil_url().parse().expect("URL");
    let host = url.host_str().unwrap_or("127.0.0.1");
    format!("{host}:{}", url.port().unwrap_or(8545)).parse().expect("host:port")
}

/// `key`'s EIP-191 `personal_sign` signature over `message`, as a wallet gives it (0x + 130 hex).
pub fn personal_sign(key: &PrivateKeySigner, message: &str) -> String {
    use alloy::signers::SignerSync;
    let sig = key.sign_message_sync(message.as_bytes()).expect("a local key signs");
    format!("0x{}", alloy::primitives::hex::encode(sig.as_bytes()))
}

/// A fresh random address (a wallet nobody holds a key of; fine for balances).
pub fn random_wallet() -> Address {
    Address::from_word(alloy::primitives::keccak256(uuid::Uuid::new_v4().as_bytes()))
}
