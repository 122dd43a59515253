//! A byte-mutation fuzzer for the parsers (`tests/fuzz.rs`): each input is a valid file (a fixture) changed by
//! one to four random edits — bit flips, random or boundary bytes, boundary integers written over 2, 4 or 8
//! bytes (sizes, counts and offsets in binary headers), boundary numbers written over a number in JSON text,
//! insertions, deletions, truncation and repeated spans. Mutating valid files reaches deep into a parser,
//! where random bytes would stop at the first magic number. Deterministic: one seed gives one sequence.

/// The fuzzer's generator (xorshift64*): fast, and the same inputs on every machine.
pub struct Mutator {
    state: u64,
}

/// Integers at type boundaries: where size arithmetic overflows and allocations explode.
const BOUNDARY_INTS: [u64; 12] =
    [0, 1, 2, 0x7f, 0xff, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0x1_0000_0000, i64::MAX as u64, 1 << 63, u64::MAX];

/// Numbers to put where JSON has a number.
const BOUNDARY_NUMBERS: [&str; 14] = [
    "0",
    "-1",
    "1",
    "2",
    "65",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "1e308",
    "-1e308",
    "0.5",
    "1e-320",
    "null",
    "\"\"",
];

impl Mutator {
    pub fn new(seed: u64) -> Mutator {
        Mutator { state: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1 }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// `seed` with one to four random edits.
    pub fn mutate(&mut self, seed: &[u8]) -> Vec<u8> {
        let mut bytes = seed.to_vec();
        for _ in 0..1 + self.below(4) {
            self.edit(&mut bytes);
        }
        bytes
    }

    fn edit(&mut self, bytes: &mut Vec<u8>) {
        if bytes.is_empty() {
            bytes.push(self.next_u64() as u8);
            return;
        }
        let at = self.below(bytes.len());
        match self.below(9) {
            0 => bytes[at] ^= 1 << self.below(8),
            1 => bytes[at] = self.next_u64() as u8,
            2 => bytes[at] = [0, 0xff, 0x7f, 0x80, b'"', b'{', b'[', b'\\'][self.below(8)],
            3 => {
                let width = [2, 4, 8][self.below(3)];
                let value = BOUNDARY_INTS[self.below(BOUNDARY_INTS.len())].to_le_bytes();
                let end = (at + width).min(bytes.len());
                bytes[at..end].copy_from_slice(&value[..end - at]);
            }
            4 => self.replace_number(bytes, at),
            5 => {
                let insert: Vec<u8> = (0..1 + self.below(8)).map(|_| self.next_u64() as u8).collect();
                bytes.splice(at..at, insert);
            }
            6 => {
                let end = (at + 1 + self.below(16)).min(bytes.len());
                bytes.drain(at..end);
            }
            7 => bytes.truncate(at),
            _ => {
                let end = (at + 1 + self.below(32)).min(bytes.len());
                let span = bytes[at..end].to_vec();
                bytes.splice(at..at, span);
            }
        }
    }

    /// Replaces the first run of digits at or after `at` with a boundary number (text formats).
    fn replace_number(&mut self, bytes: &mut Vec<u8>, at: usize) {
        let Some(start) = bytes[at..].iter().position(u8::is_ascii_digit).map(|p| at + p) else { return };
        let len = bytes[start..].iter().take_while(|b| b.is_ascii_digit() || **b == b'.').count();
        let number = BOUNDARY_NUMBERS[self.below(BOUNDARY_NUMBERS.len())].as_bytes().to_vec();
        bytes.splice(start..start + len, number);
    }
}

/// How many inputs each parser gets: `UNMASK_FUZZ_ITERS`, else `default` (CI's short run).
pub fn iterations(default: usize) -> usize {
    std::env::var("UNMASK_FUZZ_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Runs `target` on `iterations` mutations of the seeds. A panic fails with the input saved under
/// `target/fuzz-failures/` and the iteration that made it; an error returned by the parser is the expected
/// answer to a bad input. Returns how many inputs the parser accepted (a fuzzer that never gets past the
/// first check tests nothing).
///
/// `UNMASK_FUZZ_REPLAY=target/fuzz-failures/NAME-I.bin` runs that saved input alone (and nothing else),
/// uncaught, so the panic and its backtrace show.
pub fn fuzz(name: &str, seeds: &[Vec<u8>], iterations: usize, target: impl Fn(&[u8]) -> bool) -> usize {
    if let Ok(path) = std::env::var("UNMASK_FUZZ_REPLAY") {
        let file = std::path::Path::new(&path).file_name().and_then(|f| f.to_str()).unwrap_or_default();
        if !file.starts_with(&format!("{name}-")) {
            return 1;
        }
        let path = crate::repo_root().join(path); // tests run in tests/: relative to the repository root
        target(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())));
        return 1; // a replay checks for the panic only
    }
    let mut mutator = Mutator::new(name.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64)));
    let mut accepted = 0;
    for i in 0..iterations {
        let input = mutator.mutate(&seeds[i % seeds.len()]);
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| target(&input))) {
            Ok(ok) => accepted += ok as usize,
            Err(_) => {
                let dir = crate::repo_path("target/fuzz-failures");
                let _ = std::fs::create_dir_all(&dir);
                let path = dir.join(format!("{name}-{i}.bin"));
                let _ = std::fs::write(&path, &input);
                panic!(
                    "{name}: input {i} panicked the parser; saved to {}; rerun it alone with UNMASK_FUZZ_REPLAY={0}",
                    path.display()
                );
            }
        }
    }
    accepted
}
