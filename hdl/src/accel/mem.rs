//! Memory leaves of the accelerator: rust-hdl 0.46 cannot express memories of a run-time depth and width, a
//! `$readmemh` initialisation, or a constant table with many output fields, so each of these emits its own Verilog
//! ([`Verilog::Custom`]) with a Rust behaviour model beside it (the model is what rust-hdl's simulator runs; the
//! tests run the emitted Verilog under Verilator and Icarus).
//!
//! All addresses are 16-bit unsigned ports ([`ADDR_BITS`]); a memory declares exactly its `depth` words of exactly
//! its stored width, and addresses at or past `depth` read 0 and write nothing, in the Verilog and in the model.
use crate::widths::low_mask;
use rust_hdl::prelude::*;

/// Width of every address and table-index port (unsigned): memories hold at most `2^16 − 1` words.
pub const ADDR_BITS: usize = 16;

/// Largest depth of one memory: `2^16 − 1` words (the guard `addr < depth` needs `depth` to fit 16 bits).
pub const MAX_DEPTH: usize = (1 << ADDR_BITS) - 1;

/// Width of the weight ROM address (unsigned): a weight ROM holds at most `2^24 − 1` words.
pub const WADDR_BITS: usize = 24;

/// Largest depth of one weight ROM.
pub const MAX_WEIGHT_DEPTH: usize = (1 << WADDR_BITS) - 1;

/// `⌈log2(n)⌉` for `n ≥ 1` (0 for `n = 1`): the address bits a memory of `n` words uses.
pub fn clog2(n: usize) -> usize {
    (usize::BITS - n.saturating_sub(1).leading_zeros()) as usize
}

/// Verilog index expression selecting a word of a `depth`-word memory with the low address bits.
fn index_expr(port: &str, depth: usize) -> String {
    match clog2(depth) {
        0 => "0".to_string(),
        b => format!("{port}[{}:0]", b - 1),
    }
}

/// Hex digits of a `bits`-wide word.
pub fn hex_digits(bits: usize) -> usize {
    bits.div_ceil(4).max(1)
}

/// One word of `lanes` indices of `bits` bits (lane 0 in the low bits) as hex digits, most significant first.
pub fn word_hex(lanes: &[u8], bits: usize) -> String {
    let digits = hex_digits(lanes.len() * bits);
    let mut nibbles = vec![0u8; digits];
    for (s, &i) in lanes.iter().enumerate() {
        for b in 0..bits {
            if (i >> b) & 1 == 1 {
                let pos = s * bits + b;
                nibbles[pos / 4] |= 1 << (pos % 4);
            }
        }
    }
    nibbles
        .iter()
        .rev()
        .map(|&n| char::from_digit(n as u32, 16).expect("nibble"))
        .collect()
}

/// Simple dual-port RAM of `depth` words of `bits` bits (`1 ≤ bits ≤ D`), one write and one read port on the same
/// clock (an iCE40/ECP5 block RAM):
/// * write: at the rising edge, `mem[waddr] ← wdata[bits−1:0]` when `we` and `waddr < depth`;
/// * read: at the rising edge, `rdata ← waddr < depth ? mem[raddr] : 0`, zero-extended to `D` bits (latency 1);
///   a read of the address written at the same edge returns the old word.
///
/// Every word starts at 0 (an `initial` loop in the Verilog), so no simulator sees an undefined value.
#[derive(LogicBlock)]
pub struct LaneRam<const D: usize> {
    /// Clock (rising edge).
    pub clock: Signal<In, Clock>,
    /// Write enable.
    pub we: Signal<In, Bit>,
    /// Write address, unsigned.
    pub waddr: Signal<In, Bits<ADDR_BITS>>,
    /// Write data, unsigned; bits at and above `bits` are ignored.
    pub wdata: Signal<In, Bits<D>>,
    /// Read address, unsigned.
    pub raddr: Signal<In, Bits<ADDR_BITS>>,
    /// The word read at the last rising edge, zero-extended.
    pub rdata: Signal<Out, Bits<D>>,
    _mem: Vec<u64>,
    _bits: usize,
}

impl<const D: usize> LaneRam<D> {
    /// A RAM of `depth` (1..=[`MAX_DEPTH`]) words of `bits` (1..=`D`, ≤ 64) bits. Asserts its arguments (the
    /// accelerator plan checks them first).
    pub fn new(depth: usize, bits: usize) -> Self {
        assert!((1..=MAX_DEPTH).contains(&depth), "LaneRam depth out of range");
        assert!(bits >= 1 && bits <= D && bits <= 64, "LaneRam width out of range");
        Self {
            clock: Default::default(),
            we: Default::default(),
            waddr: Default::default(),
            wdata: Default::default(),
            raddr: Default::default(),
            rdata: Default::default(),
            _mem: vec![0; depth],
            _bits: bits,
        }
    }

    /// Words held.
    pub fn depth(&self) -> usize {
        self._mem.len()
    }

    /// Bits stored per word.
    pub fn word_bits(&self) -> usize {
        self._bits
    }
}

impl<const D: usize> Logic for LaneRam<D> {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            let r = self.raddr.val().index();
            let old = self._mem.get(r).copied().unwrap_or(0);
            self.rdata.next = bits::<D>(old);
            let w = self.waddr.val().index();
            if self.we.val() && w < self._mem.len() {
                self._mem[w] = self.wdata.val().to_u64() & low_mask(self._bits as u32);
            }
        }
    }

    fn connect(&mut self) {
        self.rdata.connect();
    }

    fn hdl(&self) -> Verilog {
        let (depth, b) = (self._mem.len(), self._bits);
        let mut v = format!(
            "reg [{hi}:0] mem [0:{last}];\nreg [{hi}:0] q;\ninteger i;\n\ninitial begin\n    for (i = 0; i < {depth}; \
             i = i + 1) mem[i] = {b}'h0;\n    q = {b}'h0;\nend\n\nalways @(posedge clock) begin\n    if (we && waddr < \
             {ab}'d{depth}) mem[{wi}] <= wdata[{hi}:0];\n    if (raddr < {ab}'d{depth}) q <= mem[{ri}];\n    else q <= \
             {b}'h0;\nend\n\n",
            hi = b - 1,
            last = depth - 1,
            ab = ADDR_BITS,
            wi = index_expr("waddr", depth),
            ri = index_expr("raddr", depth),
        );
        if D > b {
            v.push_str(&format!(
                "wire unused_wdata_bits = ^wdata[{}:{b}];\nalways @(*) rdata = {{{{{}{{1'b0}}}}, q}};\n",
                D - 1,
                D - b
            ));
        } else {
            v.push_str("always @(*) rdata = q;\n");
        }
        Verilog::Custom(v)
    }
}

/// An activation bank: `lanes` lanes of `bits` bits (`1 ≤ bits ≤ 8`) stored side by side in one memory of `depth`
/// words of `lanes·bits` bits (lane 0 in the low bits), one write and one read port on the same clock. Every lane is
/// written and read at the same address, so yosys maps the bank as one memory of `lanes·bits`-bit words (on the
/// iCE40 a 256 × 16 block RAM holds 16 lanes of 1 bit, 4 of 4 or 2 of 8) instead of one block RAM per lane.
/// * write: at the rising edge, `mem[waddr] ← {wdata[lanes−1][bits−1:0], …, wdata[0][bits−1:0]}` when `we` and
///   `waddr < depth`;
/// * read: at the rising edge, `q ← raddr < depth ? mem[raddr] : 0`; `rdata[s]` is lane `s` of `q`, zero-extended
///   to 8 bits (latency 1); a read of the address written at the same edge returns the old word.
///
/// Every word starts at 0 (an `initial` loop in the Verilog), so no simulator sees an undefined value.
#[derive(LogicBlock)]
pub struct BankRam {
    /// Clock (rising edge).
    pub clock: Signal<In, Clock>,
    /// Write enable (all lanes).
    pub we: Signal<In, Bit>,
    /// Write address, unsigned.
    pub waddr: Signal<In, Bits<ADDR_BITS>>,
    /// Write data per lane, unsigned; bits at and above `bits` are ignored.
    pub wdata: Vec<Signal<In, Bits<8>>>,
    /// Read address, unsigned.
    pub raddr: Signal<In, Bits<ADDR_BITS>>,
    /// Lane `s` of the word read at the last rising edge, zero-extended.
    pub rdata: Vec<Signal<Out, Bits<8>>>,
    _mem: Vec<Vec<u8>>,
    _bits: usize,
}

impl BankRam {
    /// A bank of `depth` (1..=[`MAX_DEPTH`]) words of `lanes` (1..=256) lanes of `bits` (1..=8) bits. Asserts its
    /// arguments (the accelerator plan checks them first).
    pub fn new(depth: usize, lanes: usize, bits: usize) -> Self {
        assert!((1..=MAX_DEPTH).contains(&depth), "BankRam depth out of range");
        assert!((1..=256).contains(&lanes), "BankRam lanes out of range");
        assert!((1..=8).contains(&bits), "BankRam width out of range");
        Self {
            clock: Default::default(),
            we: Default::default(),
            waddr: Default::default(),
            wdata: (0..lanes).map(|_| Default::default()).collect(),
            raddr: Default::default(),
            rdata: (0..lanes).map(|_| Default::default()).collect(),
            _mem: vec![vec![0; lanes]; depth],
            _bits: bits,
        }
    }

    /// Words held.
    pub fn depth(&self) -> usize {
        self._mem.len()
    }

    /// Lanes per word.
    pub fn lanes(&self) -> usize {
        self.rdata.len()
    }

    /// Bits stored per lane.
    pub fn lane_bits(&self) -> usize {
        self._bits
    }
}

impl Logic for BankRam {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            let r = self.raddr.val().index();
            let lanes = self.rdata.len();
            let old = self._mem.get(r).cloned().unwrap_or_else(|| vec![0; lanes]);
            for (out, &x) in self.rdata.iter_mut().zip(&old) {
                out.next = bits::<8>(u64::from(x));
            }
            let w = self.waddr.val().index();
            if self.we.val() && w < self._mem.len() {
                let m = low_mask(self._bits as u32);
                for (cell, d) in self._mem[w].iter_mut().zip(&self.wdata) {
                    *cell = (d.val().to_u64() & m) as u8;
                }
            }
        }
    }

    fn connect(&mut self) {
        for r in &mut self.rdata {
            r.connect();
        }
    }

    fn hdl(&self) -> Verilog {
        let (depth, b, lanes) = (self._mem.len(), self._bits, self.rdata.len());
        let width = lanes * b;
        let word: Vec<String> = (0..lanes).rev().map(|s| format!("wdata${s}[{}:0]", b - 1)).collect();
        let mut v = format!(
            "reg [{hi}:0] mem [0:{last}];\nreg [{hi}:0] q;\ninteger i;\n\ninitial begin\n    for (i = 0; i < {depth}; \
             i = i + 1) mem[i] = {width}'h0;\n    q = {width}'h0;\nend\n\nalways @(posedge clock) begin\n    if (we && \
             waddr < {ab}'d{depth}) mem[{wi}] <= {{{word}}};\n    if (raddr < {ab}'d{depth}) q <= mem[{ri}];\n    \
             else q <= {width}'h0;\nend\n\n",
            hi = width - 1,
            last = depth - 1,
            ab = ADDR_BITS,
            wi = index_expr("waddr", depth),
            ri = index_expr("raddr", depth),
            word = word.join(", "),
        );
        if b < 8 {
            let high: Vec<String> = (0..lanes).map(|s| format!("wdata${s}[7:{b}]")).collect();
            v.push_str(&format!("wire unused_wdata_bits = ^{{{}}};\n", high.join(", ")));
        }
        v.push_str("always @(*) begin\n");
        for s in 0..lanes {
            let lane = format!("q[{}:{}]", s * b + b - 1, s * b);
            if b < 8 {
                v.push_str(&format!("    rdata${s} = {{{}'h0, {lane}}};\n", 8 - b));
            } else {
                v.push_str(&format!("    rdata${s} = {lane};\n"));
            }
        }
        v.push_str("end\n");
        Verilog::Custom(v)
    }
}

/// A constant table read combinationally: `field[f] = rows[index][f]` (16 bits each), 0 for `index ≥ rows`.
/// Holds the per-layer descriptors and the first layer's im2col patch offsets (as a `case` statement, which yosys
/// maps to LUTs).
#[derive(LogicBlock)]
pub struct Table {
    /// Row index, unsigned.
    pub index: Signal<In, Bits<ADDR_BITS>>,
    /// The fields of the selected row, unsigned 16 bits each.
    pub field: Vec<Signal<Out, Bits<16>>>,
    _rows: Vec<Vec<u16>>,
}

impl Table {
    /// A table of `rows` (at least one), each with the same number (at least one) of fields.
    pub fn new(rows: Vec<Vec<u16>>) -> Self {
        assert!(
            !rows.is_empty() && rows.len() <= MAX_DEPTH,
            "Table needs 1..=65535 rows"
        );
        let n = rows[0].len();
        assert!(
            n >= 1 && rows.iter().all(|r| r.len() == n),
            "Table rows need the same field count"
        );
        Self {
            index: Default::default(),
            field: (0..n).map(|_| Default::default()).collect(),
            _rows: rows,
        }
    }
}

impl Logic for Table {
    fn update(&mut self) {
        let row = self._rows.get(self.index.val().index());
        for (f, out) in self.field.iter_mut().enumerate() {
            out.next = bits::<16>(row.map(|r| r[f] as u64).unwrap_or(0));
        }
    }

    fn connect(&mut self) {
        for f in &mut self.field {
            f.connect();
        }
    }

    fn hdl(&self) -> Verilog {
        let n = self.field.len();
        let mut v = String::from("always @(*) begin\n    case (index)\n");
        for (i, row) in self._rows.iter().enumerate() {
            v.push_str(&format!("        {ADDR_BITS}'d{i}: begin"));
            for (f, x) in row.iter().enumerate() {
                v.push_str(&format!(" field${f} = 16'h{x:x};"));
            }
            v.push_str(" end\n");
        }
        v.push_str("        default: begin");
        for f in 0..n {
            v.push_str(&format!(" field${f} = 16'h0;"));
        }
        v.push_str(" end\n    endcase\nend\n");
        Verilog::Custom(v)
    }
}

/// The weights of one layer for one PE: `depth` words of `simd` weight indices of `bits` bits each, lane `s` in
/// bits `[s·bits, (s+1)·bits)` of a word (packed: exactly `simd·bits` bits per word).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightBlock {
    /// Index width `k_w` of the layer (1..=8).
    pub bits: u32,
    /// `depth × simd` indices, word-major.
    pub index: Vec<u8>,
    /// The indices are `bits`-bit two's-complement weights (imported models), widened by sign extension; else odd
    /// codes, widened by [`WeightMem::widen`].
    pub twos: bool,
}

/// All weight memories: one ROM per (layer, PE), each initialised by `$readmemh` from its own file, read at the
/// rising edge, and the selected layer's word decoded into `pe·simd` weight indices of the engine's width `kw`.
///
/// Timing (latency 1): at the rising edge the ROMs sample `addr` and the leaf samples `layer`; after it,
/// `widx[p·simd + s]` is lane `s` of word `addr` of (layer, PE `p`), converted from the layer's `k_w`-bit index
/// `i` to the `kw`-bit index `i + 2^(kw−1) − 2^(k_w−1)`, which decodes to the same odd weight
/// `2i − (2^k_w − 1)` at `kw` bits (two's-complement blocks: `i` sign-extended to `kw` bits, the same integer);
/// zero-extended to the 8-bit port. Addresses at or past a ROM's depth and layers or PEs without ROMs read 0 (a
/// don't-care: such lanes are absent output channels).
///
/// Hardware: each ROM has a registered select `sel = (layer == l) && (addr < depth)` sampled with the address, and
/// the output is the OR of the selected ROMs' lanes (one-hot AND-OR, no decoder after the read); the widening is
/// wiring (`{m, (kw − k_w) copies of ¬m, rest}` for an odd-code index `{m, rest}`, sign extension for two's
/// complement), so the read data reaches the array's weight register through the AND-OR alone.
#[derive(LogicBlock)]
pub struct WeightMem {
    /// Clock (rising edge).
    pub clock: Signal<In, Clock>,
    /// Layer (descriptor index), unsigned.
    pub layer: Signal<In, Bits<ADDR_BITS>>,
    /// Word address within the layer's ROMs, unsigned.
    pub addr: Signal<In, Bits<WADDR_BITS>>,
    /// Weight indices at the engine width `kw`, lane `s` of PE `p` at `p·simd + s`.
    pub widx: Vec<Signal<Out, Bits<8>>>,
    _blocks: Vec<Vec<WeightBlock>>,
    _simd: usize,
    _kw: u32,
    _files: Vec<Vec<String>>,
    _q: (usize, usize),
}

impl WeightMem {
    /// `blocks[l][p]` holds layer `l`, PE `p`; `files[l][p]` is the path its `$readmemh` reads (as written into the
    /// Verilog). `kw` (1..=8) is the engine's weight width, at least every layer's `k_w`.
    pub fn new(blocks: Vec<Vec<WeightBlock>>, files: Vec<Vec<String>>, pe: usize, simd: usize, kw: u32) -> Self {
        assert!((1..=8).contains(&kw), "WeightMem kw out of range");
        assert!(
            blocks.len() == files.len() && blocks.iter().zip(&files).all(|(b, f)| b.len() == pe && f.len() == pe),
            "WeightMem needs one block and one file per layer and PE"
        );
        assert!(
            blocks.iter().flatten().all(|b| b.bits >= 1
                && b.bits <= kw
                && b.index.len() % simd == 0
                && b.index.len() / simd <= MAX_WEIGHT_DEPTH),
            "WeightMem block out of range"
        );
        Self {
            clock: Default::default(),
            layer: Default::default(),
            addr: Default::default(),
            widx: (0..pe * simd).map(|_| Default::default()).collect(),
            _blocks: blocks,
            _simd: simd,
            _kw: kw,
            _files: files,
            _q: (usize::MAX, 0),
        }
    }

    /// The `kw`-bit index holding the same weight as the `bits`-bit index `i`: `i + 2^(kw−1) − 2^(bits−1)`.
    pub fn widen(i: u32, bits: u32, kw: u32) -> u32 {
        i + (1 << (kw - 1)) - (1 << (bits - 1))
    }

    /// The `kw`-bit two's-complement index of the `bits`-bit two's-complement index `i` (sign extension).
    pub fn widen_twos(i: u32, bits: u32, kw: u32) -> u32 {
        if i >> (bits - 1) & 1 == 1 {
            i + (1 << kw) - (1 << bits)
        } else {
            i
        }
    }

    /// [`Self::widen`] or [`Self::widen_twos`] by the block's encoding.
    pub fn widen_block(i: u32, b: &WeightBlock, kw: u32) -> u32 {
        if b.twos {
            Self::widen_twos(i, b.bits, kw)
        } else {
            Self::widen(i, b.bits, kw)
        }
    }

    /// The `$readmemh` file text of one block: one word per line, `⌈simd·bits/4⌉` hex digits, lane 0 in the low bits.
    pub fn mem_file(block: &WeightBlock, simd: usize) -> String {
        let mut out = String::new();
        for word in block.index.chunks(simd) {
            out.push_str(&word_hex(word, block.bits as usize));
            out.push('\n');
        }
        out
    }
}

impl Logic for WeightMem {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            self._q = (self.layer.val().index(), self.addr.val().index());
            let (l, a) = self._q;
            let simd = self._simd;
            for (k, out) in self.widx.iter_mut().enumerate() {
                let (p, s) = (k / simd, k % simd);
                let v = match self._blocks.get(l).map(|b| &b[p]) {
                    Some(b) => match b.index.get(a * simd + s) {
                        Some(&i) => Self::widen_block(u32::from(i), b, self._kw),
                        None => 0,
                    },
                    None => 0,
                };
                out.next = bits::<8>(v as u64);
            }
        }
    }

    fn connect(&mut self) {
        for w in &mut self.widx {
            w.connect();
        }
    }

    fn hdl(&self) -> Verilog {
        let (simd, kw) = (self._simd, self._kw as usize);
        let pe = self.widx.len() / simd;
        let mut v = String::new();
        // The OR terms of each output lane, `(sel ? x : 0)` per (layer, PE) with a ROM.
        let mut terms: Vec<Vec<String>> = vec![Vec::new(); pe * simd];
        for (l, row) in self._blocks.iter().enumerate() {
            for (p, b) in row.iter().enumerate() {
                let bits = b.bits as usize;
                if b.index.is_empty() {
                    // No output channel of this layer falls on this PE (more PEs than outputs): no ROM, no term.
                    continue;
                }
                let width = simd * bits;
                let depth = b.index.len() / simd;
                let name = format!("m_{l}_{p}");
                v.push_str(&format!(
                    "reg [{hi}:0] {name} [0:{last}];\nreg [{hi}:0] q_{l}_{p};\nreg sel_{l}_{p};\ninitial begin\n    \
                     $readmemh(\"{file}\", {name});\n`ifndef SYNTHESIS\n    if ({name}[0] != {width}'h{first} || \
                     {name}[{last}] != {width}'h{final_word})\n        $error(\"pact: weight ROM {file} did not load \
                     (run the simulator in the accelerator's directory, or generate with an absolute memory \
                     directory)\");\n`endif\n    q_{l}_{p} = {width}'h0;\n    sel_{l}_{p} = 1'b0;\nend\n\
                     always @(posedge clock) begin\n    q_{l}_{p} <= {name}[{idx}];\n    sel_{l}_{p} <= layer == \
                     {ab}'d{l} && addr < {wb}'d{depth};\nend\n",
                    hi = width - 1,
                    last = depth - 1,
                    file = self._files[l][p],
                    idx = index_expr("addr", depth),
                    ab = ADDR_BITS,
                    wb = WADDR_BITS,
                    first = word_hex(&b.index[..simd], bits),
                    final_word = word_hex(&b.index[(depth - 1) * simd..], bits),
                ));
                for s in 0..simd {
                    let lane = format!("q_{l}_{p}[{}:{}]", s * bits + bits - 1, s * bits);
                    let top = format!("q_{l}_{p}[{}]", s * bits + bits - 1);
                    let ext = if bits == kw {
                        lane
                    } else if b.twos {
                        // Sign extension from the lane's top bit.
                        format!("{{{{{}{{{top}}}}}, {lane}}}", kw - bits)
                    } else if bits == 1 {
                        // `i + 2^(kw−1) − 1`: `{i, (kw − 1) copies of ¬i}`.
                        format!("{{{top}, {{{}{{~{top}}}}}}}", kw - 1)
                    } else {
                        // `i + 2^(kw−1) − 2^(bits−1)` for `i = {m, rest}`: `{m, (kw − bits) copies of ¬m, rest}`.
                        format!(
                            "{{{top}, {{{}{{~{top}}}}}, q_{l}_{p}[{}:{}]}}",
                            kw - bits,
                            s * bits + bits - 2,
                            s * bits
                        )
                    };
                    v.push_str(&format!("wire [{}:0] x_{l}_{p}_{s} = {ext};\n", kw - 1));
                    terms[p * simd + s].push(format!("({{{kw}{{sel_{l}_{p}}}}} & x_{l}_{p}_{s})"));
                }
            }
        }
        v.push_str("\nalways @(*) begin\n");
        for (k, t) in terms.iter().enumerate() {
            let or = if t.is_empty() {
                format!("{kw}'h0")
            } else {
                t.join(" | ")
            };
            let or = if kw < 8 { format!("{{{}'h0, {or}}}", 8 - kw) } else { or };
            v.push_str(&format!("    widx${k} = {or};\n"));
        }
        v.push_str("end\n");
        Verilog::Custom(v)
    }
}
