//! Fair shares of the IdP's pending state, so that no client can lock the others out.
//!
//! Login forms, device forms, authorization codes and device codes are created by
//! unauthenticated requests and kept for minutes. With only a global cap, a few thousand
//! requests from one client filled the tables and every other user got "try again later" for
//! 10–20 minutes. Each table is now a [`FairMap`]: a client (an IPv4 address or an IPv6 /64)
//! holds at most its own share, and when the table is full the oldest entry of the client
//! holding the most is evicted. A flood displaces only the flooder's entries.
//!
//! [`GuessThrottle`] limits wrong user codes on the device page per client.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

/// Wrong user codes a client may submit on the device page per [`GUESS_WINDOW`].
pub(crate) const MAX_CODE_GUESSES: u32 = 10;
/// The window of [`MAX_CODE_GUESSES`].
pub(crate) const GUESS_WINDOW: Duration = Duration::from_secs(60);
/// Clients whose wrong guesses are remembered at once (a bound on the throttle's memory).
const MAX_THROTTLED_CLIENTS: usize = 65_536;

/// The client a request comes from: its IPv4 address, or the /64 of its IPv6 address (one
/// host usually holds a whole /64). Servers without connection info share one client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Client(pub(crate) IpAddr);

impl Client {
    pub(crate) fn from_ip(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => Client(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Client(IpAddr::V4(v4)),
                None => Client(IpAddr::V6(Ipv6Addr::from(
                    u128::from(v6) & !((1u128 << 64) - 1),
                ))),
            },
        }
    }

    /// The client of requests with no connection info.
    pub(crate) const UNKNOWN: Client = Client(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(Client::UNKNOWN, |c| Client::from_ip(c.0.ip())))
    }
}

/// A map bounded in total and per client; see the module documentation.
#[derive(Debug)]
pub(crate) struct FairMap<V> {
    entries: HashMap<String, (Client, V)>,
    /// Each client's keys, oldest first.
    order: HashMap<Client, VecDeque<String>>,
    max_total: usize,
    max_per_client: usize,
}

impl<V> FairMap<V> {
    pub(crate) fn new(max_total: usize, max_per_client: usize) -> Self {
        FairMap {
            entries: HashMap::new(),
            order: HashMap::new(),
            max_total: max_total.max(1),
            max_per_client: max_per_client.max(1),
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    pub(crate) fn get(&self, key: &str) -> Option<&V> {
        self.entries.get(key).map(|(_, v)| v)
    }

    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.entries.get_mut(key).map(|(_, v)| v)
    }

    #[cfg(test)]
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.entries.values_mut().map(|(_, v)| v)
    }

    pub(crate) fn remove(&mut self, key: &str) -> Option<V> {
        let (client, v) = self.entries.remove(key)?;
        if let Some(q) = self.order.get_mut(&client) {
            q.retain(|k| k != key);
            if q.is_empty() {
                self.order.remove(&client);
            }
        }
        Some(v)
    }

    /// Evict the oldest entry of `client`.
    fn evict_oldest(&mut self, client: Client) -> Option<(String, V)> {
        let q = self.order.get_mut(&client)?;
        let key = q.pop_front()?;
        if q.is_empty() {
            self.order.remove(&client);
        }
        let (_, v) = self.entries.remove(&key)?;
        Some((key, v))
    }

    /// Insert for `client`, first evicting what its share or the total requires; returns the
    /// evicted entries (so that entries referring to them can be dropped too).
    pub(crate) fn insert(&mut self, client: Client, key: String, value: V) -> Vec<(String, V)> {
        let mut evicted = Vec::new();
        self.remove(&key);
        while self.order.get(&client).map_or(0, VecDeque::len) >= self.max_per_client {
            match self.evict_oldest(client) {
                Some(e) => evicted.push(e),
                None => break,
            }
        }
        while self.entries.len() >= self.max_total {
            let Some(biggest) = self
                .order
                .iter()
                .max_by_key(|(_, q)| q.len())
                .map(|(c, _)| *c)
            else {
                break;
            };
            match self.evict_oldest(biggest) {
                Some(e) => evicted.push(e),
                None => break,
            }
        }
        self.order.entry(client).or_default().push_back(key.clone());
        self.entries.insert(key, (client, value));
        evicted
    }

    /// Keep only the entries for which `keep` is true.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&V) -> bool) {
        let before = self.entries.len();
        self.entries.retain(|_, (_, v)| keep(v));
        if self.entries.len() != before {
            let entries = &self.entries;
            self.order.retain(|_, q| {
                q.retain(|k| entries.contains_key(k));
                !q.is_empty()
            });
        }
    }
}

/// Wrong user-code guesses per client, in fixed windows.
#[derive(Debug, Default)]
pub(crate) struct GuessThrottle {
    clients: HashMap<Client, (Instant, u32)>,
}

impl GuessThrottle {
    /// Whether `client` may try another user code now.
    pub(crate) fn allowed(&self, client: Client, now: Instant) -> bool {
        match self.clients.get(&client) {
            Some((start, n)) => now.duration_since(*start) >= GUESS_WINDOW || *n < MAX_CODE_GUESSES,
            None => self.clients.len() < MAX_THROTTLED_CLIENTS,
        }
    }

    /// Count a wrong user code from `client`.
    pub(crate) fn failed(&mut self, client: Client, now: Instant) {
        if self.clients.len() >= MAX_THROTTLED_CLIENTS {
            self.purge(now);
        }
        let e = self.clients.entry(client).or_insert((now, 0));
        if now.duration_since(e.0) >= GUESS_WINDOW {
            *e = (now, 0);
        }
        e.1 = e.1.saturating_add(1);
    }

    /// Forget windows that have ended.
    pub(crate) fn purge(&mut self, now: Instant) {
        self.clients
            .retain(|_, (start, _)| now.duration_since(*start) < GUESS_WINDOW);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(n: u8) -> Client {
        Client(IpAddr::V4(Ipv4Addr::new(10, 0, 0, n)))
    }

    #[test]
    fn a_flooder_only_displaces_its_own_entries() {
        let mut m = FairMap::new(10, 4);
        m.insert(c(2), "victim".into(), ());
        for i in 0..100 {
            m.insert(c(1), format!("flood{i}"), ());
        }
        assert!(m.contains_key("victim"));
        assert_eq!(m.len(), 5);
        assert!(m.contains_key("flood99") && !m.contains_key("flood95"));
        // Many clients at their share: the biggest holder pays for a newcomer.
        for n in 3..6 {
            for i in 0..4 {
                m.insert(c(n), format!("{n}-{i}"), ());
            }
        }
        assert!(m.len() <= 10);
        m.insert(c(9), "new".into(), ());
        assert!(m.contains_key("new") && m.contains_key("victim"));
        assert_eq!(m.remove("victim"), Some(()));
        m.retain(|_| false);
        assert!(m.is_empty());
        assert!(m.order.is_empty());
    }

    #[test]
    fn ipv6_clients_are_grouped_by_64() {
        let a = Client::from_ip(
            "2001:db8:1:2:aaaa::1"
                .parse()
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        );
        let b = Client::from_ip(
            "2001:db8:1:2:bbbb::2"
                .parse()
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        );
        let other = Client::from_ip(
            "2001:db8:1:3::1"
                .parse()
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        );
        assert_eq!(a, b);
        assert_ne!(a, other);
        let mapped = Client::from_ip(
            "::ffff:10.0.0.1"
                .parse()
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        );
        assert_eq!(mapped, c(1));
    }

    #[test]
    fn guesses_are_throttled_per_window() {
        let mut t = GuessThrottle::default();
        let now = Instant::now();
        for _ in 0..MAX_CODE_GUESSES {
            assert!(t.allowed(c(1), now));
            t.failed(c(1), now);
        }
        assert!(!t.allowed(c(1), now));
        assert!(t.allowed(c(2), now));
        assert!(t.allowed(c(1), now + GUESS_WINDOW));
    }
}
