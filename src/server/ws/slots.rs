//! Viewers per client address (`--max-viewers-per-ip`, off by default: a room of
//! phones shares one NAT address, and a proxy one for everybody).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// The number of viewers of each client address.
#[derive(Default)]
pub struct AddressSlots {
    limit: Option<usize>,
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One viewer's place in its address's count; given back on drop.
pub struct AddressSlot {
    address: IpAddr,
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl AddressSlots {
    /// At most `limit` viewers per address; `None`: no limit.
    pub fn new(limit: Option<usize>) -> AddressSlots {
        AddressSlots {
            limit,
            counts: Arc::default(),
        }
    }

    /// A place for one more viewer of `address`, or the limit it has reached.
    /// `Ok(None)` when there is no limit (or no address).
    pub fn take(&self, address: Option<IpAddr>) -> Result<Option<AddressSlot>, usize> {
        let (Some(limit), Some(address)) = (self.limit, address) else {
            return Ok(None);
        };
        let mut counts = self.counts.lock().expect("viewer slots poisoned");
        let count = counts.entry(address).or_insert(0);
        if *count >= limit {
            return Err(limit);
        }
        *count += 1;
        Ok(Some(AddressSlot {
            address,
            counts: Arc::clone(&self.counts),
        }))
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().expect("viewer slots poisoned");
        if let Some(count) = counts.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_slots_back_when_its_viewers_go() {
        let slots = AddressSlots::new(Some(2));
        let a = Some("192.0.2.1".parse().unwrap());
        let first = slots.take(a).unwrap();
        let _second = slots.take(a).unwrap();
        assert_eq!(slots.take(a).err(), Some(2));
        assert!(slots.take(Some("192.0.2.2".parse().unwrap())).is_ok());
        drop(first);
        assert!(slots.take(a).is_ok());
        let unlimited = AddressSlots::new(None);
        assert!((0..100).all(|_| unlimited.take(a).unwrap().is_none()));
    }
}
