//! Client networks (SPEC §6): every per-IP limit and counter keys on the client's network, not
//! its address. An IPv4 address is one network; an IPv6 address counts as its /64, since one
//! subscriber is routinely handed a whole /64 and could otherwise rotate through it.

use std::net::{IpAddr, Ipv6Addr};

/// The network key of a client address as the edge saw it. IPv4 (and IPv4-mapped IPv6)
/// addresses are themselves; IPv6 addresses become `prefix::/64`. Anything that is not an IP
/// address is one shared bucket, `invalid`, so a forged value cannot mint fresh budgets.
pub fn client_network(raw: &str) -> String {
    match raw.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let prefix = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{prefix}/64")
            }
        },
        Err(_) => "invalid".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_addresses_are_their_own_network() {
        assert_eq!(client_network("203.0.113.7"), "203.0.113.7");
        assert_eq!(client_network(" 203.0.113.7 "), "203.0.113.7");
        assert_eq!(client_network("::ffff:203.0.113.7"), "203.0.113.7");
    }

    #[test]
    fn ipv6_addresses_of_one_64_share_a_network_and_other_64s_do_not() {
        let a = client_network("2001:db8:1:2::1");
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(a, client_network("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        assert_eq!(a, client_network("2001:DB8:1:2:0:0:0:abcd"));
        assert_ne!(a, client_network("2001:db8:1:3::1"));
    }

    #[test]
    fn non_addresses_share_one_bucket() {
        assert_eq!(client_network("unknown"), "invalid");
        assert_eq!(client_network("1.2.3.4, 5.6.7.8"), "invalid");
        assert_eq!(client_network(""), "invalid");
    }
}
