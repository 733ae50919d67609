//! A fast hasher for maps keyed by short text the engine builds per page (a page's words): a
//! multiply-rotate mix, several times cheaper than the standard SipHash on keys of a few characters.
//! The seed is drawn once per process, so no fixed input collides on every machine.
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

#[derive(Clone, Copy)]
pub struct Mix {
    state: u64,
}

impl Mix {
    #[inline]
    fn add(&mut self, word: u64) {
        self.state = (self.state.rotate_left(23) ^ word).wrapping_mul(MULTIPLIER);
    }
}

impl Hasher for Mix {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().unwrap()));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u32(&mut self, value: u32) {
        self.add(value as u64);
    }

    #[inline]
    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }

    #[inline]
    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // A last multiply-shift spreads the high bits, which the table's bucket index reads, to the low.
        let h = self.state.wrapping_mul(MULTIPLIER);
        h ^ (h >> 29)
    }
}

#[derive(Clone, Copy)]
pub struct MixState {
    seed: u64,
}

impl Default for MixState {
    fn default() -> Self {
        static SEED: OnceLock<u64> = OnceLock::new();
        // std's RandomState is seeded from the OS; one hash of it gives this process's seed.
        let seed = *SEED.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(0u64));
        MixState { seed }
    }
}

impl BuildHasher for MixState {
    type Hasher = Mix;

    #[inline]
    fn build_hasher(&self) -> Mix {
        Mix { state: self.seed }
    }
}

pub type FastMap<K, V> = HashMap<K, V, MixState>;
