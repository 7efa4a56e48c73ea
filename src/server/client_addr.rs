//! The client address of a request ([`client_address`]): the peer's, or the one
//! `X-Forwarded-For` names when the peer is a trusted proxy (`--trusted-proxy`).
//! Every per-address limit (viewers per address, log lines per address) counts this
//! address, so that behind nginx each client counts as itself, not as the proxy.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use tiny_http::Request;

/// The proxies whose `X-Forwarded-For` is believed (`--trusted-proxy`); empty: none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Proxies given as networks (`10.0.0.0/8`) or single addresses.
    pub fn new(networks: Vec<IpNet>) -> TrustedProxies {
        TrustedProxies(networks)
    }

    /// True when `ip` is one of the trusted proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// True when no proxy is trusted (`X-Forwarded-For` is then never read).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Parses a `--trusted-proxy` value: a network in CIDR notation or one address.
pub fn parse_trusted_proxy(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map(|net| net.trunc())
        .map_err(|_| {
            format!("{text:?} is not an address or network; write 10.0.0.1, 10.0.0.0/8 or ::1")
        })
}

/// The address a request counts as: the peer's, or — when the peer is a trusted
/// proxy — the nearest address in `X-Forwarded-For` that is not itself a trusted
/// proxy. `None` only for a connection without an IP peer (a Unix socket).
pub fn client_address(request: &Request, trusted: &TrustedProxies) -> Option<IpAddr> {
    let peer = request.remote_addr().map(SocketAddr::ip)?;
    if trusted.is_empty() || !trusted.contains(peer) {
        return Some(peer.to_canonical());
    }
    let forwarded: Vec<&str> = request
        .headers()
        .iter()
        .filter(|h| h.field.equiv("X-Forwarded-For"))
        .map(|h| h.value.as_str())
        .collect();
    Some(resolve(peer, &forwarded, trusted))
}

/// The client behind `peer` given the `X-Forwarded-For` header lines it sent:
/// reads the hops from the right (the nearest first) and stops at the first one that
/// is not a trusted proxy. A hop that is not an address ends the walk at the
/// trusted hop before it, so a forged or garbled header never yields a made-up
/// address beyond what a trusted proxy vouched for.
pub fn resolve(peer: IpAddr, forwarded_for: &[&str], trusted: &TrustedProxies) -> IpAddr {
    let mut client = peer.to_canonical();
    if !trusted.contains(client) {
        return client;
    }
    let hops = forwarded_for
        .iter()
        .flat_map(|line| line.split(','))
        .collect::<Vec<_>>();
    for hop in hops.into_iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            return client;
        };
        client = ip;
        if !trusted.contains(ip) {
            return ip;
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`1.2.3.4:80`,
/// `[::1]:80`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(
            list.iter()
                .map(|p| parse_trusted_proxy(p).unwrap())
                .collect(),
        )
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            resolve(ip("192.0.2.7"), &["198.51.100.1"], &trusted),
            ip("192.0.2.7")
        );
        assert_eq!(
            resolve(
                ip("192.0.2.7"),
                &["198.51.100.1"],
                &TrustedProxies::default()
            ),
            ip("192.0.2.7")
        );
    }

    #[test]
    fn a_trusted_peer_names_the_nearest_untrusted_hop() {
        let trusted = proxies(&["10.0.0.0/8", "127.0.0.1"]);
        // The client forged the first entry; the proxies appended the rest.
        let header = ["6.6.6.6, 198.51.100.9", "10.1.2.3"];
        assert_eq!(
            resolve(ip("127.0.0.1"), &header, &trusted),
            ip("198.51.100.9")
        );
        assert_eq!(
            resolve(ip("127.0.0.1"), &["198.51.100.9:4711"], &trusted),
            ip("198.51.100.9")
        );
        assert_eq!(
            resolve(ip("::ffff:127.0.0.1"), &["[2001:db8::1]:80"], &trusted),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn garbage_or_only_proxies_stop_at_the_last_trusted_hop() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            resolve(ip("10.0.0.1"), &["198.51.100.9, bogus, 10.0.0.2"], &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(resolve(ip("10.0.0.1"), &[], &trusted), ip("10.0.0.1"));
        assert_eq!(
            resolve(ip("10.0.0.1"), &["10.9.9.9"], &trusted),
            ip("10.9.9.9")
        );
    }

    #[test]
    fn parses_networks_and_single_addresses() {
        assert_eq!(
            parse_trusted_proxy("10.1.2.3/8").unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(parse_trusted_proxy("::1").unwrap().to_string(), "::1/128");
        assert!(parse_trusted_proxy("nginx").unwrap_err().contains("nginx"));
    }
}
