//! ``stringtable.stable_hash``: zlib's CRC-32 spread by Knuth's multiplier, the same on every machine.
//! String tables place their keys by it and the relatedness vectors hash words with it.

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

const CRC_TABLE: [u32; 256] = crc_table();

/// zlib's CRC-32 (IEEE 802.3).
fn crc32(data: &[u8]) -> u32 {
    !data.iter().fold(!0u32, |crc, &byte| CRC_TABLE[((crc ^ byte as u32) & 0xFF) as usize] ^ (crc >> 8))
}

pub fn stable_hash(data: &[u8]) -> u32 {
    crc32(data).wrapping_mul(0x9E37_79B1)
}
