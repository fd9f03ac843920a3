//! Per-channel constant ROM (a leaf with its own Verilog and a Rust behaviour beside it).
use crate::cast::sign_extend;
use crate::widths::low_mask;
use rust_hdl::prelude::*;

/// Width of every channel index port: up to `2^12 = 4096` output channels per layer.
pub const CHANNEL_BITS: usize = 12;

/// Largest number of words a [`ChannelRom`] holds (`2^CHANNEL_BITS`).
pub const MAX_CHANNELS: usize = 1 << CHANNEL_BITS;

/// Synchronous ROM of `depth` words of `bits` bits (one per output channel), read at the rising edge into an
/// `N`-bit port, zero- or sign-extended: `data ← address < depth ? ext(words[address]) : 0` (latency 1; `data`
/// is 0 before the first edge).
///
/// rust-hdl's `SyncROM<D, N>` declares all `2^N` words of the full port width, which for a 12-bit channel index
/// would size every memory for 4096 channels; this leaf declares exactly `depth` words of exactly `bits` bits
/// (`reg [bits−1:0] mem [0:depth−1]`, contents in an `initial` block, so yosys can map it to block RAM or LUTs),
/// extends after the read register, and guards out-of-range addresses so that the Verilog and the Rust model
/// agree on every address.
#[derive(LogicBlock)]
pub struct ChannelRom<const N: usize> {
    /// Clock (rising edge).
    pub clock: Signal<In, Clock>,
    /// Word address (channel index), unsigned, [`CHANNEL_BITS`] bits.
    pub address: Signal<In, Bits<CHANNEL_BITS>>,
    /// The word read at the last rising edge, extended to `N` bits.
    pub data: Signal<Out, Bits<N>>,
    _words: Vec<u64>,
    _bits: usize,
    _signed: bool,
}

impl<const N: usize> ChannelRom<N> {
    /// A ROM holding `words` (1..=[`MAX_CHANNELS`] of them), each stored in its low `bits` bits (1..=`N`, ≤ 64),
    /// extended to `N` bits by sign if `signed`, else by zeros. Asserts its arguments (the blocks check first).
    pub fn new(words: &[u64], bits: usize, signed: bool) -> Self {
        assert!(
            !words.is_empty() && words.len() <= MAX_CHANNELS,
            "ChannelRom holds 1..={MAX_CHANNELS} words"
        );
        assert!(
            bits >= 1 && bits <= N && bits <= 64,
            "ChannelRom word width out of range"
        );
        let words = words.iter().map(|&w| w & low_mask(bits as u32)).collect();
        Self {
            clock: Default::default(),
            address: Default::default(),
            data: Default::default(),
            _words: words,
            _bits: bits,
            _signed: signed,
        }
    }

    /// Number of words.
    pub fn depth(&self) -> usize {
        self._words.len()
    }

    /// Bits stored per word.
    pub fn word_bits(&self) -> usize {
        self._bits
    }
}

impl<const N: usize> Logic for ChannelRom<N> {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            let raw = self._words.get(self.address.val().index()).copied().unwrap_or(0);
            let v = if self._signed {
                sign_extend(raw, self._bits) as u64
            } else {
                raw
            };
            self.data.next = bits::<N>(v & low_mask(N as u32));
        }
    }

    fn connect(&mut self) {
        self.data.connect();
    }

    fn hdl(&self) -> Verilog {
        let (depth, b) = (self._words.len(), self._bits);
        let index_bits = (usize::BITS - (depth - 1).leading_zeros()) as usize; // ceil(log2(depth))
        let index = if index_bits == 0 {
            "0".to_string()
        } else {
            format!("address[{}:0]", index_bits - 1)
        };
        let lit = |v: u64| format!("{b}'h{v:x}");
        let mut v = format!(
            "reg [{}:0] mem [0:{}];\nreg [{}:0] word;\n\ninitial begin\n",
            b - 1,
            depth - 1,
            b - 1
        );
        v.push_str(&format!("    word = {};\n", lit(0)));
        for (i, w) in self._words.iter().enumerate() {
            v.push_str(&format!("    mem[{i}] = {};\n", lit(*w)));
        }
        v.push_str("end\n\nalways @(posedge clock) begin\n");
        if depth == MAX_CHANNELS {
            v.push_str(&format!("    word <= mem[{index}];\n"));
        } else {
            // `address < depth`, split so that no carry chain spans the whole address: the bits above the index are
            // zero (a wide NOR) and, unless the depth is a power of two, the index is below the depth.
            let mut guard = Vec::new();
            if index_bits < CHANNEL_BITS {
                guard.push(format!(
                    "address[{}:{index_bits}] == {}'d0",
                    CHANNEL_BITS - 1,
                    CHANNEL_BITS - index_bits
                ));
            }
            if depth != 1 << index_bits {
                guard.push(format!("address[{}:0] < {index_bits}'d{depth}", index_bits - 1));
            }
            v.push_str(&format!(
                "    if ({}) word <= mem[{index}];\n    else word <= {};\n",
                guard.join(" && "),
                lit(0)
            ));
        }
        v.push_str("end\n\n");
        if N == b {
            v.push_str("always @(*) data = word;\n");
        } else {
            let fill = if self._signed {
                format!("word[{}]", b - 1)
            } else {
                "1'b0".to_string()
            };
            v.push_str(&format!("always @(*) data = {{{{{}{{{fill}}}}}, word}};\n", N - b));
        }
        Verilog::Custom(v)
    }
}
