//! Loopback ports for servers a test starts in another process (a role, the
//! operator, Prometheus), which must be told the port before they bind it.
//!
//! Asking the kernel for port 0 gives an *ephemeral* port, and the same range
//! serves as the source port of every outgoing connection: with many tests
//! polling over HTTP at once, one of their connections can take that port
//! between the test's check and the child's bind ("Address already in use").
//! So ports are drawn at random from below the ephemeral range
//! (`/proc/sys/net/ipv4/ip_local_port_range`), where no outgoing connection
//! goes, and checked free by binding them.

use std::net::TcpListener;

use rand::Rng;

/// The lowest port handed out.
const LOWEST: u16 = 10_000;
/// Linux's default first ephemeral port, when the range cannot be read.
const DEFAULT_EPHEMERAL_START: u16 = 32_768;

/// The first port of the kernel's ephemeral range.
fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(DEFAULT_EPHEMERAL_START)
}

/// `count` consecutive loopback ports, all free a moment ago and outside
/// the ephemeral range; the first of them.
pub fn free_ports(count: u16) -> u16 {
    let end = ephemeral_start().max(LOWEST + 1000);
    let mut rng = rand::rng();
    for _ in 0..1000 {
        let base = rng.random_range(LOWEST..end - count);
        let free = (0..count).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if free {
            return base;
        }
    }
    panic!("no {count} consecutive free ports on 127.0.0.1 below {end}");
}

/// One free loopback port outside the ephemeral range.
pub fn free_port() -> u16 {
    free_ports(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_free_consecutive_and_below_the_ephemeral_range() {
        let start = ephemeral_start();
        for _ in 0..20 {
            let base = free_ports(3);
            assert!(base >= LOWEST && base + 2 < start.max(LOWEST + 1000));
            for i in 0..3 {
                TcpListener::bind(("127.0.0.1", base + i)).expect("free");
            }
        }
    }
}
